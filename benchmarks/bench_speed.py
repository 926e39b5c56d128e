"""The performance table: what grading costs next to the student's own code, in one run.

Measured side by side, one thing at a time, on the good submission (``../shared/corpus/good``, else the
built-in example) with the CIFAR-10 accuracy checks skipped:

- the cold floor: a fresh interpreter importing numpy, torch and the student files and making the
  rubric's student calls once (``bench_grade.measure_bare``); the warm floor: the same calls again,
  imports done;
- a bwrap worker's start until it answers, with torch imported: from a fresh interpreter, and forked
  from the zygote;
- ``grade SUBMISSION`` from the command line, per sandbox, as a student or CI job runs it;
- ``grade batch`` of a class of at least 50 mixed corpus submissions with ``--jobs 1`` and ``--jobs 2``
  (``bench_batch``), and under bwrap with ``--jobs 2`` once more with every worker started from a
  fresh interpreter instead of forked from the zygote, with the per-submission cost and the largest
  resident set of any process;
- ``grade batch`` of a class of 200 ordinary submissions (the corpus's good and buggy cases, none of
  which runs into a time limit on purpose) with ``--jobs 1`` and ``--jobs 2``;

and then the ratios the speed targets are stated in.

    python benchmarks/bench_speed.py
    python benchmarks/bench_speed.py --size 60 --repeat 5 --sandboxes bwrap,docker --json speed.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_batch  # noqa: E402 - a sibling script, not a package
import bench_grade  # noqa: E402

from grader.sandbox import SandboxUnavailable, backend_class, zygote  # noqa: E402
from grader.sandbox.bwrap import BwrapSandbox  # noqa: E402


def grade_command(submission: Path, sandbox: str, out: Path) -> float:
    """Wall time of one ``grade`` from the command line, interpreter start included."""
    env = {k: v for k, v in os.environ.items() if k != "BACKPROP_GRADER_DATA_DIR"}
    argv = [sys.executable, "-m", "grader.cli", "run", str(submission), "--assignment", "hlcv-ex2"]
    argv += ["--sandbox", sandbox, "--out", str(out), "--quiet"]
    began = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"grade under {sandbox} exited {done.returncode}: {done.stderr.strip()[-2000:]}")
    return wall


def help_command() -> float:
    """Wall time of ``grade --help``: what every command pays before doing anything."""
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "grader.cli", "--help"], capture_output=True, check=True)
    return time.perf_counter() - began


def available(names: list[str]) -> tuple[list[str], dict[str, str]]:
    """The sandboxes that run here, and the one-line reason for each that does not."""
    ready, reasons = [], {}
    for name in names:
        try:
            backend_class(name).check_available()
            ready.append(name)
        except SandboxUnavailable as error:
            reasons[name] = str(error)
    return ready, reasons


def largest_child_rss_mib() -> float:
    """The largest resident set of any finished descendant so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def worker_starts(submission: Path, forked: bool, repeat: int) -> list[float]:
    """Seconds until a bwrap worker with torch imported answers its first request, ``repeat`` + 1 times.

    Forked workers come from this process's zygote, warmed as a batch worker's is; the first start
    includes the zygote's own start and warm-up. Fresh workers import torch before they are ready.
    """
    from grader.boundary.rpc import WorkerSession
    from grader.sandbox.base import LaunchSpec
    from grader.sandbox.bwrap import BwrapSandbox
    from grader.sandbox.uids import lease_uid_slot

    os.environ[zygote.ZYGOTE_ENV] = "1" if forked else "0"
    zygote.keep_warm()
    sandbox = BwrapSandbox()
    times = []
    with lease_uid_slot() as slot:
        for _ in range(repeat + 1):
            start = time.monotonic()
            with WorkerSession(sandbox, LaunchSpec(submission, slot=slot, preload=("torch",))) as session:
                session.request({"op": "ping"}, 120)
            times.append(time.monotonic() - start)
    os.environ.pop(zygote.ZYGOTE_ENV)
    return times


def measure(args: argparse.Namespace, submission: Path, work: Path) -> dict[str, Any]:
    figures: dict[str, Any] = {"cpus": os.cpu_count(), "load_before": os.getloadavg()[0]}
    print("cold and warm floor ...", file=sys.stderr, flush=True)
    figures["bare"] = bench_grade.measure_bare(submission, max(args.repeat, 2))
    figures["help_s"] = statistics.median(help_command() for _ in range(args.repeat))

    names, figures["unavailable"] = available([s.strip() for s in args.sandboxes.split(",") if s.strip()])
    if "bwrap" in names and BwrapSandbox().uses_zygote():
        print("worker starts, fresh and forked ...", file=sys.stderr, flush=True)
        figures["worker_start_s"] = {
            "fresh": worker_starts(submission, False, args.repeat),
            "forked": worker_starts(submission, True, args.repeat),
        }
    figures["grade_s"] = {name: [] for name in names}
    for round_ in range(args.repeat):
        # The sandboxes take turns within a round, so a change in the host's load falls on all alike.
        for name in names:
            print(f"grade, round {round_ + 1}/{args.repeat}: {name}", file=sys.stderr, flush=True)
            figures["grade_s"][name].append(grade_command(submission, name, work / f"grade-{name}.json"))

    class_dir = work / "class"
    class_names = bench_batch.build_class(args.corpus, args.size, class_dir)
    figures["class_size"] = len(class_names)
    figures["batch"] = {}
    # The same class with --jobs 1 and 2, and with --jobs 2 once more with every worker started from a
    # fresh interpreter instead of forked from the zygote (bwrap only), for the ratios.
    runs = [(1, True), (2, True)] + ([(2, False)] if args.batch_sandbox == "bwrap" else [])
    for jobs, forked in runs:
        label = f"--jobs {jobs}" + ("" if forked else ", fresh workers")
        print(f"batch of {len(class_names)}, {label} ...", file=sys.stderr, flush=True)
        out = work / f"batch-jobs{jobs}-{'zygote' if forked else 'fresh'}"
        run = bench_batch.run(class_dir, out, jobs, args.batch_sandbox, None, zygote=forked)
        run["per_submission_s"] = round(run["wall_s"] / max(len(class_names), 1), 2)
        figures["batch"][label] = run

    ordinary_dir = work / "ordinary"
    ordinary = bench_batch.build_class(args.corpus, args.ordinary_size, ordinary_dir, bench_batch.ORDINARY)
    figures["ordinary_size"] = len(ordinary)
    figures["ordinary"] = {}
    for jobs in (1, 2):
        print(f"batch of {len(ordinary)} ordinary submissions, --jobs {jobs} ...", file=sys.stderr, flush=True)
        run = bench_batch.run(ordinary_dir, work / f"ordinary-jobs{jobs}", jobs, args.batch_sandbox, None)
        run["per_submission_s"] = round(run["wall_s"] / max(len(ordinary), 1), 3)
        figures["ordinary"][f"--jobs {jobs}"] = run
    figures["largest_process_rss_mib"] = round(largest_child_rss_mib(), 1)
    figures["load_after"] = os.getloadavg()[0]
    return figures


def _batch_row(what: str, run: dict[str, Any], warm: float) -> tuple[str, str, str]:
    """A batch's line of the table: its wall time, and per submission, over the warm floor."""
    over = run["per_submission_s"] - warm
    notes = f"{run['per_submission_s']:.2f} s each ({over:+.2f} s over the warm floor), {run['per_minute']:.0f}/min"
    return what, f"{run['wall_s']:.1f} s", notes


def print_table(figures: dict[str, Any]) -> None:
    bare = figures["bare"]
    # The cold floor is one run in a fresh interpreter: the whole process less the repeated runs.
    cold, warm = bare["process_s"] - bare["later_runs_s"], bare["warm_s"]
    rows: list[tuple[str, str, str]] = [
        ("cold floor: fresh interpreter, imports, student calls once", f"{cold:.2f} s", ""),
        ("warm floor: the same student calls, imports done", f"{warm:.2f} s", ""),
        ("grade --help", f"{figures['help_s']:.2f} s", "target < 0.3 s"),
    ]
    starts = figures.get("worker_start_s")
    if starts:
        fresh, forked = statistics.median(starts["fresh"]), statistics.median(starts["forked"][1:])
        rows.append(("bwrap worker ready with torch: fresh interpreter", f"{fresh:.3f} s", ""))
        rows.append(
            (
                "bwrap worker ready with torch: forked from the zygote",
                f"{forked:.3f} s",
                f"{fresh / forked:.0f}x faster; the zygote's own start, once per process: {starts['forked'][0]:.2f} s",
            )
        )
    for name, times in figures["grade_s"].items():
        median = statistics.median(times)
        rows.append((f"grade one submission, {name}", f"{median:.2f} s", f"{median / cold:.2f}x the cold floor"))
    for name, reason in figures["unavailable"].items():
        rows.append((f"grade one submission, {name}", "n/a", reason))
    batch = figures["batch"]
    for label, run in batch.items():
        rows.append(_batch_row(f"batch of {figures['class_size']}, {label} ({run['graded']} graded)", run, warm))
        kinds = ", ".join(f"{kind} {seconds:.2f} s" for kind, seconds in run["median_s_by_kind"].items())
        rows.append(("  median per kind of submission", "", kinds))
    one, two, fresh = batch.get("--jobs 1"), batch.get("--jobs 2"), batch.get("--jobs 2, fresh workers")
    if one and two:
        speedup = one["wall_s"] / two["wall_s"]
        class_200 = 200 * two["per_submission_s"] / 60
        rows.append(("--jobs 2 over --jobs 1", f"{speedup:.2f}x", f"a class of 200 with --jobs 2: {class_200:.1f} min"))
    if two and fresh:
        rows.append(("zygote over fresh workers, --jobs 2", f"{fresh['wall_s'] / two['wall_s']:.2f}x", ""))
    ordinary = figures.get("ordinary", {})
    for label, run in ordinary.items():
        what = f"batch of {figures['ordinary_size']} ordinary (good and buggy), {label}"
        what, figure, notes = _batch_row(what, run, warm)
        rows.append((what, figure, notes + ("; target: 200 in under 4 min" if label == "--jobs 2" else "")))
    one, two = ordinary.get("--jobs 1"), ordinary.get("--jobs 2")
    if one and two:
        rows.append(("--jobs 2 over --jobs 1, ordinary class", f"{one['wall_s'] / two['wall_s']:.2f}x", "target 1.8x"))
    rows.append(("largest resident set of any process", f"{figures['largest_process_rss_mib']:.0f} MiB", ""))
    runs = len(next(iter(figures["grade_s"].values()), []))
    print(f"{figures['cpus']} CPUs; 1-minute load average {figures['load_before']:.1f} before, "
          f"{figures['load_after']:.1f} after; single measurements are medians of {runs}")  # fmt: skip
    print(f"{'what':62} {'figure':>10}  notes")
    print("-" * 120)
    for what, figure, notes in rows:
        print(f"{what:62} {figure:>10}  {notes}")


def main(argv: list[str] | None = None) -> None:
    """Measure and print; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each single measurement (default 3)")
    parser.add_argument("--sandboxes", default="bwrap,docker", help="for one grade (default bwrap,docker)")
    parser.add_argument("--batch-sandbox", default="bwrap", help="for the batches (default bwrap)")
    parser.add_argument("--size", type=int, default=50, help="submissions in the mixed class (default 50)")
    parser.add_argument(
        "--ordinary-size", type=int, default=200, help="submissions in the class of ordinary ones (default 200)"
    )
    parser.add_argument("--corpus", type=Path, default=bench_batch.DEFAULT_CORPUS)
    parser.add_argument("--json", type=Path, default=None, help="also write the raw figures here")
    args = parser.parse_args(argv)
    if args.size < 1 or args.ordinary_size < 1:
        parser.error("--size and --ordinary-size must be at least 1")
    with tempfile.TemporaryDirectory(prefix="bench-speed-") as scratch:
        work = Path(scratch)
        os.chmod(work, 0o755)
        submission = bench_grade.DEFAULT_SUBMISSION
        if not submission.is_dir():
            from grader.assignments.hlcv_ex2 import write_example

            submission = write_example(work / "example")
        figures = measure(args, submission.resolve(), work)
    print_table(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
