"""Benchmark ``grade batch``: one class graded with ``--jobs 1`` and with ``--jobs 2`` (or any list).

The class is built from the submission corpus (``../shared/corpus`` by default) by cycling through its
cases in a fixed order: the good submission, every buggy one, every hostile one and every archive, so
any size holds the same mix. Each run grades into a fresh output folder, in a subprocess, exactly as an
instructor would run it; the script prints submissions per minute for each run and the speed-up over
the first, and can write the figures as JSON.

    python benchmarks/bench_batch.py --size 100
    python benchmarks/bench_batch.py --size 31 --jobs 1,2 --json bench.json

CIFAR-10 is left out unless ``--data-dir`` is given (training would dominate every figure).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grader.sandbox.zygote import ZYGOTE_ENV

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "corpus"


#: The corpus's kinds of submission, in the order a class cycles through them.
KINDS = ("good", "buggy", "hostile", "archives")
#: Submissions a class of ordinary students is made of: none runs into a time limit on purpose.
ORDINARY = ("good", "buggy")


def corpus_cases(corpus: Path, kinds: tuple[str, ...] = KINDS) -> list[Path]:
    """The corpus submissions of ``kinds`` in a fixed order: good, buggy, hostile, archives."""
    cases = [corpus / "good"] if "good" in kinds else []
    for group in ("buggy", "hostile"):
        if group in kinds:
            cases += sorted(p for p in (corpus / group).iterdir() if p.is_dir())
    if "archives" in kinds:
        cases += sorted((corpus / "archives").glob("*.zip"))
    return cases


def build_class(corpus: Path, size: int, folder: Path, kinds: tuple[str, ...] = KINDS) -> list[str]:
    """Copy ``size`` submissions into ``folder``, cycling through the corpus's cases of ``kinds``; return
    the case names."""
    cases = corpus_cases(corpus, kinds)
    folder.mkdir(parents=True)
    names = []
    for i in range(size):
        case = cases[i % len(cases)]
        if case.suffix == ".zip":
            label = f"archive-{case.stem}"
        else:
            label = case.name if case.parent == corpus else f"{case.parent.name}-{case.name}"
        target = folder / f"s{i:03d}-{label}"
        if case.suffix == ".zip":
            shutil.copyfile(case, target.with_suffix(".zip"))
        else:
            # expect.json describes the case for the corpus's own tests; it is not part of a submission.
            shutil.copytree(case, target, ignore=shutil.ignore_patterns("expect.json"))
        names.append(label)
    return names


def host_cpu() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole host since boot, from /proc/stat (Linux)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return 0, 0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user time
    return total - idle, total


def _kind(student_id: str) -> str:
    """``s003-buggy-decay`` -> ``buggy``: the kind of corpus case a class member was copied from."""
    label = student_id.split("-", 1)[-1]
    return label.split("-", 1)[0]


def run(
    class_dir: Path, out: Path, jobs: int, sandbox: str, data_dir: Path | None, zygote: bool = True
) -> dict[str, object]:
    """Grade the class once; return the wall time and the batch summary's counts.

    ``zygote=False`` starts every bwrap worker from a fresh interpreter (``BACKPROP_GRADER_ZYGOTE=0``).
    """
    env = {k: v for k, v in os.environ.items() if k != "BACKPROP_GRADER_DATA_DIR"}
    env[ZYGOTE_ENV] = "1" if zygote else "0"
    argv = [sys.executable, "-m", "grader.cli", "batch", str(class_dir), "--out", str(out)]
    argv += ["--jobs", str(jobs), "--sandbox", sandbox, "--assignment", "hlcv-ex2"]
    if data_dir is not None:
        argv += ["--data-dir", str(data_dir)]
    before = host_cpu()
    start = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    wall = time.monotonic() - start
    after = host_cpu()
    if done.returncode not in (0, 4):
        raise SystemExit(f"grade batch --jobs {jobs} exited {done.returncode}:\n{done.stderr[-3000:]}")
    summary = json.loads((out / "_batch-summary.json").read_text())
    return {
        "jobs": jobs,
        "zygote": zygote,
        "wall_s": round(wall, 1),
        "batch_s": summary["duration_s"],
        "graded": summary["graded"],
        "failed": summary["failed"],
        "per_minute": round(summary["graded"] / wall * 60, 2),
        "grading_s_sum": round(sum(i["seconds"] for i in summary["items"]), 1),
        # Hostile cases run into time limits on purpose; these say what an ordinary submission costs.
        "median_s_by_kind": {
            kind: round(statistics.median(seconds), 2)
            for kind in ("good", "buggy", "hostile", "archive")
            if (seconds := [i["seconds"] for i in summary["items"] if _kind(i["student_id"]) == kind])
        },
        # Busy cores of the whole host, other users included: near the core count means the run was
        # limited by CPU, which is what decides whether more --jobs can help.
        "host_cores_busy": round((after[0] - before[0]) / max(after[1] - before[1], 1) * (os.cpu_count() or 1), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=100, help="submissions in the class (default 100)")
    parser.add_argument("--jobs", default="1,2", help="comma-separated --jobs values to compare (default 1,2)")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument(
        "--kinds", default=",".join(KINDS), help=f"kinds of corpus case in the class (default {','.join(KINDS)})"
    )
    parser.add_argument("--sandbox", default="bwrap")
    parser.add_argument("--data-dir", type=Path, default=None, help="CIFAR-10, to include the accuracy checks")
    parser.add_argument("--work", type=Path, default=None, help="folder for the class and results (kept)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="bench-batch-"))
    class_dir = work / "class"
    kinds_wanted = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    unknown = sorted(set(kinds_wanted) - set(KINDS))
    if unknown or not kinds_wanted:
        parser.error(f"--kinds takes some of {', '.join(KINDS)}; got {args.kinds!r}")
    names = build_class(args.corpus, args.size, class_dir, kinds_wanted)
    kinds = {k: sum(n.startswith(k) for n in names) for k in ("good", "buggy", "hostile")}
    kinds["archives"] = len(names) - sum(kinds.values())
    print(f"class of {len(names)} submissions in {class_dir}: {kinds}", flush=True)

    runs = []
    for jobs in (int(j) for j in args.jobs.split(",")):
        figures = run(class_dir, work / f"out-jobs{jobs}", jobs, args.sandbox, args.data_dir)
        runs.append(figures)
        print(
            f"--jobs {jobs}: {figures['wall_s']} s wall, {figures['per_minute']} submissions/min "
            f"({figures['graded']} graded, {figures['failed']} failed; host: {figures['host_cores_busy']} "
            f"of {os.cpu_count()} cores busy on average, all users)",
            flush=True,
        )
    base = runs[0]["wall_s"]
    for figures in runs:
        figures["speedup"] = round(base / figures["wall_s"], 2)
    print(f"speed-up over --jobs {runs[0]['jobs']}: " + ", ".join(f"--jobs {r['jobs']}: {r['speedup']}x" for r in runs))
    report = {"size": len(names), "mix": kinds, "cpus": os.cpu_count(), "runs": runs}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
