"""Benchmark one grading per sandbox: what isolation costs next to running the student code bare.

For the good submission (``../shared/corpus/good`` by default, else the built-in example) it measures:

- the wall time of grading its numeric checks (CIFAR-10 is never given, so the two accuracy checks
  skip) under each sandbox, repeated, through :func:`grader.engine.grading.grade` in this process;
- per sandbox, starting one worker until it answers a ping (interpreter start and ``import numpy``
  included), and closing it (for docker: removing the container);
- the bare cost of the same student calls in one plain process: the student files imported directly
  and called with the rubric's sizes, seeds and arguments, in a fresh interpreter so that the imports
  (numpy, torch, the student modules) are measured cold;
- a plain ``docker run --rm IMAGE true`` of the sandbox image, and the same running
  ``python3 -c 'import numpy'``: the engine's own floor for one container.

    python benchmarks/bench_grade.py
    python benchmarks/bench_grade.py --repeat 5 --sandboxes docker,bwrap --json bench.json

A sandbox that cannot run here gets its one-line reason in the table instead of figures (the
``process`` sandbox refuses to run as root when the Python runtime lives in a private folder).
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SUBMISSION = REPO.parent / "shared" / "corpus" / "good"
SANDBOXES = ("docker", "bwrap", "process")

# The sandboxes run student code single-threaded; the bare run must too, or it is not the same work.
for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_name] = "1"
# Grading with CIFAR-10 would time training, not the sandbox: keep the accuracy checks skipped.
os.environ.pop("BACKPROP_GRADER_DATA_DIR", None)


# --------------------------------------------------------------------------- bare student calls


def _load(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _seed(seed: int) -> None:
    """What the worker does before every seeded call."""
    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


@functools.cache
def _rubric_helpers() -> tuple[Callable[..., Any], Callable[..., Any]]:
    """The rubric's input generator and the worker's line counter, so the bare run does the same work."""
    inputs = _load(REPO / "grader" / "assignments" / "hlcv_ex2" / "inputs.py", "bench_rubric_inputs")
    shim = _load(REPO / "grader" / "worker" / "shim.py", "bench_worker_shim")
    return inputs.random_problem, shim.call_counting_lines


def student_calls(numpy_part: Any, torch_part: Any, submission: Path) -> None:
    """Every call the rubric's numeric checks make into a correct submission, in the same order."""
    import numpy as np
    import torch

    problem, count_lines = _rubric_helpers()

    def net(d: int, h: int, c: int, params: dict | None = None, **kwargs: Any) -> Any:
        _seed(0)
        model = numpy_part.TwoLayerNet(d, h, c, **kwargs)
        for key, value in (params or {}).items():
            model.params[key] = value.copy()
        return model

    from reference.hlcv_ex2 import toy

    toy_X, toy_y = toy.toy_data()
    np.random.seed(0)
    toy_params = {"W1": 0.1 * np.random.randn(4, 10), "b1": np.zeros(10), "W2": 0.1 * np.random.randn(10, 3)}
    toy_params["b2"] = np.zeros(3)

    net(4, 10, 3, std=0.1).params  # noqa: B018 - initialisation check reads the weights
    net(4, 10, 3, toy_params).loss(toy_X)  # toy probabilities
    net(4, 10, 3, toy_params).loss(toy_X, y=toy_y, reg=0.05)  # toy loss
    params, X, y = problem(11, n=9, d=6, h=7, c=4)
    model = net(6, 7, 4, params)
    for reg in (0.0, 0.7):  # data term and regulariser apart
        model.loss(X, y=y, reg=reg)
    for n in (8, 256):  # vectorised forward pass, under the line counter
        params, X, _ = problem(5, n=n, d=12, h=9, c=5)
        count_lines(net(12, 9, 5, params).loss, str(submission) + os.sep, [X], {})
    params, X, _ = problem(7, n=6, d=5, h=8, c=3)
    net(5, 8, 3, params).loss(X * 1e3)  # stable softmax
    net(4, 10, 3, toy_params).loss(toy_X, y=toy_y, reg=0.05)  # toy gradients
    params, X, y = problem(1234, n=9, d=6, h=5, c=4)
    net(6, 5, 4, params).loss(X, y=y, reg=0.2)  # hidden gradients
    rng = np.random.default_rng(3)
    sgd_params = {k: rng.normal(size=s) for k, s in (("W1", (3, 4)), ("b1", (4,)), ("W2", (4, 2)), ("b2", (2,)))}
    velocity = {k: np.zeros_like(v) for k, v in sgd_params.items()}
    for _ in range(3):
        grads = {k: rng.normal(size=v.shape) for k, v in sgd_params.items()}
        numpy_part.sgd_momentum_step(sgd_params, grads, velocity, 0.1, 0.9)
    _, X, y = problem(21, n=120, d=10, h=8, c=3)
    np.random.seed(4)
    start = {"W1": 0.1 * np.random.randn(10, 8), "b1": np.zeros(8), "W2": 0.1 * np.random.randn(8, 3)}
    start["b2"] = np.zeros(3)
    model = net(10, 8, 3, start)
    _seed(5)
    model.train(X, y, X, y, learning_rate=0.05, learning_rate_decay=0.9, reg=1e-3, num_iters=25, batch_size=20,
                momentum=0.9)  # fmt: skip
    model = net(4, 10, 3, std=0.1)
    _seed(1)
    model.train(toy_X, toy_y, toy_X, toy_y, **toy.TOY_TRAIN_KWARGS)  # toy training
    params, X, _ = problem(31, n=50, d=7, h=6, c=5)
    net(7, 6, 5, params).predict(X)

    torch.set_num_threads(1)
    sizes = (20, [16, 12], 5)
    for _ in range(2):  # layer listing, parameter order
        _seed(0)
        mlp = torch_part.MultiLayerPerceptron(*sizes)
        [type(m).__name__ for m in mlp.modules()]
        [p.detach().numpy() for p in mlp.parameters()]
    _seed(0)
    mlp = torch_part.MultiLayerPerceptron(*sizes)
    with torch.no_grad():
        for parameter in mlp.parameters():
            parameter.copy_(torch.randn_like(parameter))
    mlp(torch.from_numpy(np.random.default_rng(8).normal(size=(32, 20)).astype(np.float32))).detach().numpy()
    blobs = np.random.default_rng(1)
    centres = blobs.normal(0, 3.0, (4, 20))
    labels = blobs.integers(0, 4, 400)
    X = (centres[labels] + blobs.normal(0, 1.0, (400, 20))).astype(np.float32)
    y = labels.astype(np.int64)
    _seed(0)
    mlp = torch_part.MultiLayerPerceptron(20, [32], 4)
    _seed(0)
    torch_part.train_mlp(mlp, X, y, X[:50], y[:50], epochs=8, batch_size=32, learning_rate=1e-2, weight_decay=0.0,
                         optimizer="adam", seed=0)  # fmt: skip


def bare_child(submission: Path, repeat: int) -> dict[str, float]:
    """Run in a fresh interpreter: cold imports, then the student calls ``repeat`` times."""
    started = time.perf_counter()
    import numpy  # noqa: F401 - timed on purpose
    import torch

    torch.set_num_threads(1)
    numpy_part = _load(submission / "two_layernet.py", "two_layernet")
    torch_part = _load(submission / "ex2_pytorch.py", "ex2_pytorch")
    imports = time.perf_counter() - started
    from reference.hlcv_ex2 import toy  # noqa: F401 - the rubric's toy inputs; trusted code, not timed

    runs = []
    for _ in range(repeat):
        began = time.perf_counter()
        student_calls(numpy_part, torch_part, submission)
        runs.append(time.perf_counter() - began)
    warm = statistics.median(runs[1:]) if len(runs) > 1 else runs[0]
    return {
        "imports_s": imports,
        "first_s": runs[0],
        "best_s": min(runs),
        "median_s": statistics.median(runs),
        "warm_s": warm,  # the runs after the first: every import and first-use cost already paid
        "later_runs_s": sum(runs[1:]),
    }


def measure_bare(submission: Path, repeat: int) -> dict[str, float]:
    """The interpreter start, the cold imports and the student calls, without any sandbox or grader."""
    began = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--bare-child", str(submission), "--repeat", str(repeat)],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - began
    return result


# --------------------------------------------------------------------------- sandboxes


def measure_sandboxes(names: list[str], submission: Path, repeat: int) -> dict[str, dict[str, Any]]:
    """Grade ``submission`` ``repeat`` times under each sandbox, and time one worker's start and close.

    The sandboxes take turns within every round, so a change in the machine's load (other jobs
    share the CPUs) falls on all of them alike instead of on whichever ran last.
    """
    from grader.boundary.rpc import WorkerSession
    from grader.engine.grading import GradeOptions, grade
    from grader.sandbox import LaunchSpec, Limits, Sandbox, SandboxUnavailable, backend_class

    figures: dict[str, dict[str, Any]] = {}
    ready: dict[str, Sandbox] = {}
    for name in names:
        cls = backend_class(name)
        try:
            cls.check_available()
        except SandboxUnavailable as error:
            figures[name] = {"unavailable": str(error)}
            continue
        ready[name] = cls()
        figures[name] = {"grade_s": [], "rubric_s": [], "scores": set(), "starts": set(), "start_ping_s": [],
                         "close_s": []}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-grade-") as folder:
        os.chmod(folder, 0o755)
        for round_ in range(repeat):
            for name, sandbox in ready.items():
                print(f"  round {round_ + 1}/{repeat}: {name}", file=sys.stderr, flush=True)
                row = figures[name]
                began = time.perf_counter()
                result = grade(submission, GradeOptions(sandbox=sandbox, assignment="hlcv-ex2"))
                row["grade_s"].append(time.perf_counter() - began)
                row["rubric_s"].append(result.timings.get("rubric", 0.0))
                row["scores"].add(f"{result.score:g}/{result.max_score:g}")
                row["starts"].add(int(result.timings.get("worker_starts", 0)))
                session = WorkerSession(sandbox, LaunchSpec(Path(folder), Limits()))
                began = time.perf_counter()
                session.request({"op": "ping"}, 60)
                row["start_ping_s"].append(time.perf_counter() - began)
                began = time.perf_counter()
                session.close()
                row["close_s"].append(time.perf_counter() - began)
    for name, sandbox in ready.items():
        sandbox.close()
        row = figures[name]
        row["score"] = ", ".join(sorted(row.pop("scores")))
        row["worker_starts"] = ", ".join(str(s) for s in sorted(row.pop("starts")))
    return figures


def measure_docker_run(repeat: int) -> dict[str, Any]:
    """``docker run --rm`` of the sandbox image doing nothing, and doing only ``import numpy``."""
    from grader.sandbox import SandboxUnavailable
    from grader.sandbox.docker import DEFAULT_IMAGE, DockerSandbox

    try:
        DockerSandbox().image_id  # noqa: B018 - needs the engine and the image
    except SandboxUnavailable as error:
        return {"unavailable": str(error)}
    figures: dict[str, Any] = {}
    base = ["docker", "run", "--rm", "--network", "none", DEFAULT_IMAGE]
    for label, command in (("true", ["true"]), ("import_numpy", ["python3", "-c", "import numpy"])):
        times = []
        for _ in range(repeat):
            began = time.perf_counter()
            subprocess.run([*base, *command], check=True, capture_output=True)
            times.append(time.perf_counter() - began)
        figures[label] = times
    return figures


# --------------------------------------------------------------------------- report


def _fmt(times: list[float]) -> str:
    return f"{statistics.median(times):7.2f} s (min {min(times):.2f}, n={len(times)})"


def print_table(submission: Path, figures: dict[str, Any]) -> None:
    """The figures as a plain-text table on stdout."""
    print(f"grading {submission} (numeric checks; CIFAR-10 accuracy checks skipped), medians")
    before, after = figures["load_before"], figures["load_after"]
    print(f"{os.cpu_count()} CPUs; 1-minute load average {before[0]:.1f} before, {after[0]:.1f} after")
    print(f"{'what':58} {'wall time':>30}  notes")
    print("-" * 110)
    for name in figures["sandboxes"]:
        row = figures["sandboxes"][name]
        if "unavailable" in row:
            print(f"{name + ': grade one submission':58} {'n/a':>30}  {row['unavailable']}")
            continue
        notes = f"score {row['score']}, {row['worker_starts']} worker starts, rubric {_fmt(row['rubric_s']).strip()}"
        print(f"{name + ': grade one submission':58} {_fmt(row['grade_s']):>30}  {notes}")
        print(f"{name + ':   start one worker until it answers':58} {_fmt(row['start_ping_s']):>30}")
        print(f"{name + ':   stop and remove one worker':58} {_fmt(row['close_s']):>30}")
    bare = figures["bare"]
    print(f"{'bare: same student calls in one process':58} {bare['median_s']:7.2f} s (min {bare['best_s']:.2f})"
          f"{'':>11}  first run {bare['first_s']:.2f} s")  # fmt: skip
    print(f"{'bare:   imports (numpy, torch, student files), cold':58} {bare['imports_s']:7.2f} s")
    print(f"{'bare:   whole process (interpreter, imports, all runs)':58} {bare['process_s']:7.2f} s")
    run = figures["docker_run"]
    if "unavailable" in run:
        print(f"{'docker run --rm IMAGE true':58} {'n/a':>30}  {run['unavailable']}")
    else:
        print(f"{'docker run --rm IMAGE true':58} {_fmt(run['true']):>30}")
        label = "docker run --rm IMAGE python3 -c 'import numpy'"
        print(f"{label:58} {_fmt(run['import_numpy']):>30}")


def main(argv: list[str] | None = None) -> None:
    """Measure and print; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submission", nargs="?", type=Path, default=None, help="a folder with the student files")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of every measurement (default 3)")
    parser.add_argument("--sandboxes", default=",".join(SANDBOXES), help="comma-separated (default: all three)")
    parser.add_argument("--json", type=Path, default=None, help="also write the raw figures here")
    parser.add_argument("--bare-child", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.bare_child is not None:
        print(json.dumps(bare_child(args.bare_child, args.repeat)))
        return

    with tempfile.TemporaryDirectory(prefix="bench-grade-example-") as scratch:
        submission = args.submission or DEFAULT_SUBMISSION
        if args.submission is None and not DEFAULT_SUBMISSION.is_dir():
            from grader.assignments.hlcv_ex2 import write_example

            submission = write_example(Path(scratch))
        submission = submission.resolve()
        figures: dict[str, Any] = {"submission": str(submission), "repeat": args.repeat, "sandboxes": {}}
        figures["load_before"] = os.getloadavg()
        # One thing at a time: the figures are wall times, and parallel runs would share the CPUs.
        names = [s.strip() for s in args.sandboxes.split(",") if s.strip()]
        print("measuring the sandboxes ...", file=sys.stderr, flush=True)
        figures["sandboxes"] = measure_sandboxes(names, submission, args.repeat)
        print("measuring the bare calls ...", file=sys.stderr, flush=True)
        figures["bare"] = measure_bare(submission, args.repeat)
        print("measuring docker run ...", file=sys.stderr, flush=True)
        figures["docker_run"] = measure_docker_run(max(args.repeat, 5))
        figures["load_after"] = os.getloadavg()
        print_table(submission, figures)
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
