"""The accuracy checks with the data set, next to the student's own training: what grading adds.

hlcv-ex2's two accuracy checks train the submission in the sandbox on CIFAR-10's 49,000 training
images and measure validation accuracy on the grader's side. This script builds a synthetic release
with the real layout and size (five training batches and a test batch of 10,000 images; each class a
fixed random image plus heavy noise), then measures, one thing at a time:

- the floor: the same two training calls (``TwoLayerNet.train`` and ``train_mlp``, same arguments,
  seeds and single math thread as in the sandbox) in a fresh interpreter on the same arrays held in
  memory, imports and reading the data set done first and timed apart;
- the first grading in this process (a batch worker's first submission), which also reads and
  normalises the data set, and the gradings after it, which find it read already: per check, its
  duration in the result next to the floor's training call.

    python benchmarks/bench_data.py
    python benchmarks/bench_data.py --sandboxes bwrap,docker --gradings 3 --json data.json

The submission is the good one of the corpus (else the built-in example), with the handout's
``hyperparams.json`` unless ``--hyperparams`` names another.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_grade import DEFAULT_SUBMISSION, REPO, _load, _seed  # noqa: E402 - a sibling script

HANDOUT_HYPERPARAMS = REPO / "student_template" / "hlcv-ex2" / "hyperparams.json"
IMAGES_PER_BATCH = 10_000
BATCH_NAMES = (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch")
#: The accuracy checks and the student call each one trains with.
CHECKS = {"test_two_layer_accuracy": "TwoLayerNet.train", "test_mlp_accuracy": "train_mlp"}


def write_release(parent: Path) -> Path:
    """A synthetic CIFAR-10 python release of the real size in ``parent``; returns ``parent``."""
    import numpy as np

    rng = np.random.default_rng(0)
    templates = rng.integers(0, 256, (10, 3072))
    folder = parent / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in BATCH_NAMES:
        labels = rng.integers(0, 10, IMAGES_PER_BATCH)
        noisy = templates[labels] + rng.normal(0, 80, (IMAGES_PER_BATCH, 3072))
        entry = {b"labels": [int(v) for v in labels], b"data": np.clip(noisy, 0, 255).astype(np.uint8)}
        with open(folder / name, "wb") as fh:
            pickle.dump(entry, fh, protocol=2)
    return parent


def floor_child(submission: Path, data_dir: Path) -> dict[str, float]:
    """In a fresh interpreter: imports, the data set, then each accuracy check's training call, bare."""
    began = time.perf_counter()
    import numpy as np
    import torch

    torch.set_num_threads(1)
    numpy_part = _load(submission / "two_layernet.py", "two_layernet")
    torch_part = _load(submission / "ex2_pytorch.py", "ex2_pytorch")
    figures = {"imports_s": time.perf_counter() - began}

    from grader.assignments.hlcv_ex2.hyperparams import load_hyperparams
    from grader.assignments.hlcv_ex2.test_5_accuracy import BOOKKEEPING, NUM_CLASSES
    from reference.cifar10 import load_cifar10

    began = time.perf_counter()
    split = load_cifar10(data_dir)
    X, y = split.X_train.astype(np.float32), split.y_train.astype(np.int64)
    figures["data_s"] = time.perf_counter() - began
    chosen = load_hyperparams(submission / "hyperparams.json")

    # As test_5_accuracy calls them, each call seeded as the worker seeds it (``seed=0``).
    two_layer = chosen.two_layer
    _seed(0)
    net = numpy_part.TwoLayerNet(X.shape[1], two_layer.hidden_size, NUM_CLASSES)
    began = time.perf_counter()
    _seed(0)
    net.train(X, y, X[:BOOKKEEPING], y[:BOOKKEEPING], **two_layer.model_dump(exclude={"hidden_size"}))
    figures["TwoLayerNet.train"] = time.perf_counter() - began

    mlp = chosen.mlp
    _seed(0)
    model = torch_part.MultiLayerPerceptron(X.shape[1], mlp.hidden_layers, NUM_CLASSES)
    began = time.perf_counter()
    _seed(0)
    torch_part.train_mlp(
        model,
        X,
        y,
        X[:BOOKKEEPING],
        y[:BOOKKEEPING],
        epochs=mlp.epochs,
        batch_size=mlp.batch_size,
        learning_rate=mlp.learning_rate,
        weight_decay=mlp.weight_decay,
        optimizer=mlp.optimizer,
    )
    figures["train_mlp"] = time.perf_counter() - began
    return figures


def measure_floor(submission: Path, data_dir: Path) -> dict[str, float]:
    """:func:`floor_child` in a fresh interpreter with one math thread, as the sandbox runs student code."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, __file__, "--floor-child", str(submission), "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        env=env,
    )
    if done.returncode != 0:
        raise SystemExit(f"the bare training failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def gradings_child(sandbox_name: str, submission: Path, data_dir: Path, count: int) -> list[dict[str, Any]]:
    """Grade ``submission`` ``count`` times in this process, as a batch worker does: per grading, its
    wall time and each accuracy check's status and duration."""
    from grader.engine.grading import GradeOptions, grade
    from grader.sandbox import backend_class, zygote

    zygote.keep_warm()  # as grade batch does
    sandbox = backend_class(sandbox_name)()
    rows = []
    try:
        for index in range(count):
            print(f"  {sandbox_name}: grading {index + 1}/{count}", file=sys.stderr, flush=True)
            began = time.perf_counter()
            result = grade(submission, GradeOptions(sandbox=sandbox, data_dir=data_dir, assignment="hlcv-ex2"))
            row: dict[str, Any] = {"grade_s": time.perf_counter() - began, "score": f"{result.score:g}"}
            for test in result.tests:
                if test.name in CHECKS:
                    row[test.name] = {"status": test.status, "duration_s": test.duration_s}
            rows.append(row)
    finally:
        sandbox.close()
    return rows


def measure_gradings(sandbox_name: str, submission: Path, data_dir: Path, count: int) -> list[dict[str, Any]]:
    """:func:`gradings_child` in a fresh process: its first grading reads the data set, as a batch
    worker's first does (this process keeps nothing a grading could find)."""
    argv = [sys.executable, __file__, "--gradings-child", sandbox_name, str(submission), "--data-dir", str(data_dir)]
    done = subprocess.run([*argv, "--gradings", str(count)], stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise SystemExit(f"grading under {sandbox_name} failed (exit status {done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _later(rows: list[dict[str, Any]], pick: Any) -> float:
    """The median of ``pick(row)`` over the gradings after the first."""
    return statistics.median(pick(row) for row in rows[1:])


def _row(label: str, bare: float, first: float, later: float) -> None:
    print(f"{label:52} {bare:7.2f}s {first:7.2f}s {later:7.2f}s {later / bare:10.2f}x")


def print_table(figures: dict[str, Any]) -> None:
    floor = figures["floor"]
    print()
    print(f"hlcv-ex2 accuracy checks on a full-size synthetic CIFAR-10 ({figures['hyperparams']})")
    print(f"load average {figures['load_before'][0]:.2f} before, {figures['load_after'][0]:.2f} after")
    print()
    print(f"{'bare: imports (numpy, torch, student files)':52} {floor['imports_s']:7.2f} s")
    print(f"{'bare: reading and normalising the data set':52} {floor['data_s']:7.2f} s")
    both_bare = sum(floor[call] for call in CHECKS.values())
    for sandbox, rows in figures["gradings"].items():
        if isinstance(rows, str):
            print(f"\n{sandbox}: not measured: {rows}")
            continue
        print()
        print(f"{sandbox + ': check (student call)':52} {'bare':>8} {'1st':>8} {'later':>8} {'later/bare':>11}")
        failed = [f"{c}: {rows[0][c]['status']}" for c in CHECKS if rows[0][c]["status"] != "passed"]
        if failed:
            print(f"  not comparable, a check did not pass: {', '.join(failed)}")
            continue
        for check, call in CHECKS.items():
            later = _later(rows, lambda row, check=check: row[check]["duration_s"])
            _row(f"{check} ({call})", floor[call], rows[0][check]["duration_s"], later)
        first_both = sum(rows[0][c]["duration_s"] for c in CHECKS)
        later_both = _later(rows, lambda row: sum(row[c]["duration_s"] for c in CHECKS))
        _row("both accuracy checks", both_bare, first_both, later_both)
        label = "whole grading (numeric checks too)"
        print(f"{label:52} {'':>8} {rows[0]['grade_s']:7.2f}s {_later(rows, lambda row: row['grade_s']):7.2f}s")
    print()
    print("bare: the training call alone, in a process that has imported everything and holds the data in memory.")
    print("1st: the first grading of a process, which reads the data set; later: the median of the others.")
    print("A check's time includes its worker's start; one worker serves both checks, so the import of")
    print("torch lands in whichever check comes first.")


def main(argv: list[str] | None = None) -> None:
    """Measure and print; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submission", nargs="?", type=Path, default=None, help="a folder with the student files")
    parser.add_argument("--hyperparams", type=Path, default=HANDOUT_HYPERPARAMS, help="the hyperparams.json to use")
    parser.add_argument("--sandboxes", default="bwrap,docker", help="comma-separated (default: bwrap,docker)")
    parser.add_argument("--gradings", type=int, default=3, help="gradings per sandbox in one process (default 3)")
    parser.add_argument("--json", type=Path, default=None, help="also write the raw figures here")
    parser.add_argument("--floor-child", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--gradings-child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.floor_child is not None:
        print(json.dumps(floor_child(args.floor_child, args.data_dir)))
        return
    if args.gradings_child is not None:
        print(json.dumps(gradings_child(args.gradings_child, args.submission, args.data_dir, args.gradings)))
        return
    if args.gradings < 2:
        parser.error("--gradings must be at least 2: the first grading reads the data set, the others do not")

    from grader.sandbox import SandboxUnavailable, backend_class

    with tempfile.TemporaryDirectory(prefix="bench-data-") as scratch:
        work = Path(scratch)
        os.chmod(work, 0o755)
        submission = work / "submission"
        source = args.submission or DEFAULT_SUBMISSION
        if source.is_dir():
            shutil.copytree(source, submission)
        else:
            from grader.assignments.hlcv_ex2 import write_example

            write_example(submission)
        shutil.copyfile(args.hyperparams, submission / "hyperparams.json")
        print("writing a synthetic CIFAR-10 release ...", file=sys.stderr, flush=True)
        data_dir = write_release(work / "cifar")
        figures: dict[str, Any] = {"hyperparams": str(args.hyperparams), "load_before": os.getloadavg()}
        print("measuring the bare training ...", file=sys.stderr, flush=True)
        figures["floor"] = measure_floor(submission, data_dir)
        figures["gradings"] = {}
        for name in [s.strip() for s in args.sandboxes.split(",") if s.strip()]:
            try:
                backend_class(name).check_available()
            except SandboxUnavailable as error:
                figures["gradings"][name] = str(error)
                continue
            figures["gradings"][name] = measure_gradings(name, submission, data_dir, args.gradings)
        figures["load_after"] = os.getloadavg()
        print_table(figures)
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
