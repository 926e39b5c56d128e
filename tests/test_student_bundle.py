"""The student bundle (``grade pack bundle``): built as the docs say, installed into a fresh venv, run.

The acceptance test of issue 11: the bundle of hlcv-ex2 is built with the command line, installed with
``python -m pip install FOLDER`` into a fresh venv, and ``grade check`` there on the good submission
prints the same visible points as the full grader; the installed files, the bundle folder and its
wheel hold no reference function, hidden check, input generator, hidden expected value or secret.

The fresh venv reuses this machine's numpy, torch, pydantic, click, pytest and setuptools through a
``.pth`` line instead of downloading them (``pip install --no-deps --no-build-isolation``); a ``.pth``
line does not run the project's own editable-install hook, so neither ``grader`` nor ``reference``
is importable there. The bundle runs with the ``process`` sandbox, as on a student's laptop (the
bwrap sandbox mounts only the venv's own folders, and these libraries live elsewhere).
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from classroom import require_corpus
from student_bundles import PACK, SECRET, student_bundle_copy

from grader.engine import frozen
from grader.engine.bundle import ENGINE_FILES, NOT_IN_BUNDLE, wheel_name
from grader.engine.grading import GradeOptions, grade
from grader.engine.intake import IntakeLimits, take_in
from grader.engine.packs import load_assignment
from grader.engine.secret import derive_seed
from grader.results import GradeResult
from grader.sandbox import Sandbox

REPO = Path(__file__).resolve().parents[1]
#: The pack's modules that never ship (its input generator, mistake catalogue, example, readers).
TRUSTED_PACK_MODULES = ("inputs.py", "mutants.py", "torch_mutants.py", "example.py", "hyperparams.py")
#: Lines shorter than this are too generic to say where they came from.
MIN_LINE = 30

pytestmark = pytest.mark.slow


def run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=900, check=False, **kwargs)  # type: ignore[call-overload]


class Built:
    """The bundle folder, its wheel and the fresh venv it was installed into."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.folder = root / f"{PACK}-student"
        self.wheels = root / "wheels"
        self.venv = root / "venv"

    @property
    def installed(self) -> Path:
        return self.venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"

    @property
    def seed(self) -> int:
        """The public seed the bundle's checks were recorded with (its self-check runs with it)."""
        pack = next(p for p in self.installed_files() if p.name == frozen.FROZEN_JSON).parent
        seed = frozen.recorded_seed(pack)
        assert seed is not None
        return seed

    def installed_files(self) -> list[Path]:
        return sorted(
            p
            for p in self.installed.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and "backprop_grader_student" in p.as_posix()
        )


@pytest.fixture(scope="module")
def built(grading_sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    # Public, so the unprivileged uid of the process sandbox can run the venv's interpreter.
    root = Path(tempfile.mkdtemp(prefix="backprop-grader-bundle-test-"))
    root.chmod(0o755)
    bundle = Built(root)
    # As docs/student-bundle.md says: grade pack bundle ID --student --out DIR (with SECRET set).
    output = student_bundle_copy(tmp_path_factory, grading_sandbox.name, bundle.folder)
    assert "14 checks frozen, 3 instructor-only, 1 hidden left out" in output, output
    shared = Path(np.__file__).resolve().parents[1]
    pip = [str(bundle.venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
    done = run([sys.executable, "-m", "venv", "--without-pip", str(bundle.venv)])
    assert done.returncode == 0, done.stderr
    (bundle.installed / "shared-libraries.pth").write_text(f"{shared}\n")
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "BACKPROP_GRADER_SECRET")}
    # The documented line, offline: python -m pip install FOLDER.
    done = run([*pip, "install", "--no-deps", "--no-build-isolation", str(bundle.folder)], env=clean, cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
    done = run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(bundle.wheels), str(bundle.folder)],
        env=clean,
        cwd=root,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for path in [root, *root.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o005 | (0o050 if path.is_dir() else 0))
    try:
        yield bundle
    finally:
        shutil.rmtree(root, ignore_errors=True)


def bundle_results(bundle: Built, folders: dict[str, Path]) -> dict[str, dict]:
    """``run_self_check`` of the installed bundle on each folder, in one process of the fresh venv."""
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from backprop_grader_student.cli.selfcheck import run_self_check\n"
        "cases = json.loads(sys.argv[1])\n"
        "out = {name: json.loads(run_self_check(Path(p), sandbox='process').result.model_dump_json())\n"
        "       for name, p in cases.items()}\n"
        "print(json.dumps(out))\n"
    )
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "BACKPROP_GRADER_SECRET")}
    arguments = json.dumps({k: str(v) for k, v in folders.items()})
    done = run([str(bundle.venv / "bin" / "python"), "-c", script, arguments], env=clean, cwd=bundle.root)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def full_visible(folder: Path, sandbox: Sandbox, seed: int) -> GradeResult:
    """The full grader's self-check with the bundle's public seed, so fresh inputs are the same ones.

    (The corpus test's cached gradings cannot stand in: they draw their inputs from the secret.)
    """
    return grade(folder, GradeOptions(assignment=PACK, sandbox=sandbox, visible_only=True, public_seed=seed))


def outcome(tests: list, ran: set[str] | None = None) -> dict[str, tuple]:
    """Per visible check (of ``ran`` when given): status, points and the named mistake (what must agree)."""
    rows = {}
    for t in tests:
        t = t if isinstance(t, dict) else t.model_dump()
        if t["visibility"] == "visible" and (ran is None or t["name"] in ran):
            rows[t["name"]] = (t["status"], t["score"], t["max_score"], t["diagnosis"])
    return rows


def bundle_runs(tests: list) -> set[str]:
    """The checks the bundle runs: all but its placeholders of instructor-only checks."""
    ran = set()
    for t in tests:
        t = t if isinstance(t, dict) else t.model_dump()
        if not (t["status"] == "skipped" and NOT_IN_BUNDLE in (t["output"] or "")):
            ran.add(t["name"])
    return ran


def placeholders(tests: list) -> set[str]:
    """Names of the bundle's placeholder checks, by function name."""
    return {(t if isinstance(t, dict) else t.model_dump())["name"].rsplit("::", 1)[-1] for t in tests} - {
        name.rsplit("::", 1)[-1] for name in bundle_runs(tests)
    }


# ------------------------------------------------------------------------------------- acceptance


def test_grade_check_from_the_installed_bundle_prints_the_full_graders_visible_points(
    built: Built, grading_sandbox: Sandbox
) -> None:
    good = require_corpus() / "good"
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "BACKPROP_GRADER_SECRET")}
    out = built.root / "good.json"
    done = run(
        [str(built.venv / "bin" / "grade"), "check", "--sandbox", "process", "--out", str(out)], env=clean, cwd=good
    )
    if "cannot drop root privileges" in done.stderr:
        pytest.skip(f"the process sandbox cannot run here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stdout + done.stderr
    full = full_visible(good, grading_sandbox, built.seed)
    assert full.status == "graded" and full.max_score > full.score > 0
    ours = json.loads(out.read_text())["tests"]
    # The toy training check scores the student's trained weights with the reference: instructor-only.
    assert placeholders(ours) == {"test_toy_training", "test_two_layer_accuracy", "test_mlp_accuracy"}
    ran = bundle_runs(ours)
    points = sum(t.score for t in full.tests if t.name in ran and t.visibility == "visible")
    assert f"Visible checks: {points:g} / {full.max_score:g} points" in done.stdout, done.stdout
    assert "Every visible check that ran passes." in done.stdout
    assert outcome(ours, ran) == outcome(full.tests, ran)


def test_bundle_names_the_same_mistakes_with_the_same_points_on_every_corpus_case(
    built: Built, grading_sandbox: Sandbox
) -> None:
    corpus = require_corpus()
    assignment = load_assignment(PACK)
    assert assignment.handout is not None
    folders = {"handout": assignment.handout}
    folders.update({f"buggy/{p.name}": p for p in sorted((corpus / "buggy").iterdir()) if p.is_dir()})
    assert len(folders) >= 9
    ours = bundle_results(built, folders)
    for name, folder in folders.items():
        full = full_visible(folder, grading_sandbox, built.seed)
        ran = bundle_runs(ours[name]["tests"])
        assert outcome(ours[name]["tests"], ran) == outcome(full.tests, ran), name
        if name.startswith("buggy/"):
            assert ours[name]["score"] < full.max_score - 10, name  # each loses points beyond the 10 not run
            assert any(t["diagnosis"] for t in ours[name]["tests"]), f"{name}: no mistake named"


# ------------------------------------------------------------------------------------- no solution inside


def _py_sources(folder: Path) -> dict[Path, str]:
    return {p: p.read_text(encoding="utf-8") for p in sorted(folder.rglob("*.py")) if "__pycache__" not in p.parts}


def _defined_names(source: str) -> set[str]:
    return {
        node.name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    }


def _lines(source: str) -> set[str]:
    return {
        line.strip()
        for line in source.splitlines()
        if len(line.strip()) >= MIN_LINE and not line.strip().startswith("#")
    }


def _public_text() -> tuple[set[str], set[str]]:
    """Names and lines students may see anyway: the handout, the engine, the visible checks' own code."""
    assignment = load_assignment(PACK)
    assert assignment.handout is not None
    # Every handout file (its README publishes the toy problem's expected numbers on purpose).
    documents = [p.read_text(encoding="utf-8") for p in sorted(assignment.handout.rglob("*")) if p.is_file()]
    sources = list(_py_sources(assignment.handout).values())
    sources += [(REPO / "grader" / f).read_text() for f in ENGINE_FILES if f.endswith(".py")]
    for folder in ("boundary", "worker", "sandbox", "writers"):
        sources += list(_py_sources(REPO / "grader" / folder).values())
    sources += [p.read_text() for p in sorted(assignment.folder.glob("test_*.py"))]
    sources += [(assignment.folder / name).read_text() for name in ("fixtures.py", "patterns.py")]
    names, lines = set(), set()
    for source in sources:
        names |= _defined_names(source)
        lines |= _lines(source)
    for document in documents:
        lines |= _lines(document)
    return names, lines


def _trusted_text() -> tuple[set[str], set[str]]:
    """Function and class names and source lines of the reference and the pack's trusted modules."""
    assignment = load_assignment(PACK)
    sources = list(_py_sources(REPO / "reference").values())
    sources += [(assignment.folder / name).read_text() for name in TRUSTED_PACK_MODULES]
    names, lines = set(), set()
    for source in sources:
        names |= _defined_names(source)
        lines |= _lines(source)
    return names, lines


def _hidden_checks() -> list[tuple[str, str]]:
    """(function name, title) of every hidden check of the pack, read from its source."""
    assignment = load_assignment(PACK)
    found = []
    for path in sorted(assignment.folder.glob("test_*.py")):
        for node in ast.parse(path.read_text()).body:
            if not isinstance(node, ast.FunctionDef):
                continue
            decorators = [ast.unparse(d) for d in node.decorator_list]
            if any(d.endswith("mark.hidden") or d == "hidden" for d in decorators):
                title = next((d for d in decorators if "title(" in d), "")
                found.append((node.name, ast.literal_eval(title.split("title(", 1)[1][:-1]) if title else ""))
    return found


def _everything(built: Built) -> dict[str, bytes]:
    """Every file students get: installed, in the bundle folder, and in the wheel."""
    files = {str(p): p.read_bytes() for p in built.installed_files()}
    files.update({str(p): p.read_bytes() for p in built.folder.rglob("*") if p.is_file() and "build" not in p.parts})
    wheels = sorted(built.wheels.glob("*.whl"))
    assert [w.name for w in wheels] == [wheel_name(load_assignment(PACK))]
    with zipfile.ZipFile(wheels[0]) as archive:
        files.update({f"wheel:{n}": archive.read(n) for n in archive.namelist()})
    return files


def test_no_reference_function_hidden_check_generator_or_secret_is_shipped(built: Built) -> None:
    files = _everything(built)
    installed = [p for p in files if "/site-packages/" in p]
    assert any(p.endswith("frozen.npz") for p in installed) and any(p.endswith("frozen.json") for p in installed)
    # No file of the reference or the pack's trusted modules, under any folder.
    for path in files:
        parts = Path(path.removeprefix("wheel:")).parts
        assert "reference" not in parts, path
        assert parts[-1] not in TRUSTED_PACK_MODULES, path
    public_names, public_lines = _public_text()
    trusted_names, trusted_lines = _trusted_text()
    hidden = _hidden_checks()
    assert hidden, "the pack has a hidden check to look for"
    secret_names = trusted_names - public_names
    secret_lines = trusted_lines - public_lines
    assert {
        "random_problem",
        "loss_and_grads",
        "sgd_rules",
        "train_params_variant",
        "train_mlp_variant",
    } <= secret_names
    for path, data in files.items():
        assert SECRET.encode() not in data, path
        if path.endswith(".npz"):
            continue
        text = data.decode("utf-8", errors="replace")
        defined = set(re.findall(r"^\s*(?:def|class)\s+(\w+)", text, re.M))
        assert not defined & secret_names, f"{path} defines {sorted(defined & secret_names)}"
        leaked = sorted(line for line in _lines(text) if line in secret_lines)
        assert not leaked, f"{path} holds reference lines: {leaked[:3]}"
        for name, title in hidden:
            assert name not in text, f"{path} names the hidden check {name}"
            assert title not in text, f"{path} holds the hidden check's title {title!r}"


def test_frozen_values_hold_no_hidden_input_or_expected_value(built: Built) -> None:
    """The hidden gradients check on the good submission, under the build's secret and under the bundle's
    public seed: none of its inputs or expected gradients is among the frozen arrays."""
    from grader.assignments.hlcv_ex2.inputs import random_problem
    from reference.hlcv_ex2.two_layernet import loss_and_grads

    good = require_corpus() / "good"
    pack = next(p for p in built.installed_files() if p.name == frozen.FROZEN_NPZ).parent
    table = frozen.Table.load(pack)
    assert table.calls and all(
        key.split("|", 1)[0].split("::")[-1] not in dict(_hidden_checks()) for key in table.calls
    )
    with tempfile.TemporaryDirectory() as work:
        sha = take_in(good, Path(work), IntakeLimits(), allowed=load_assignment(PACK).allows).sha256
    hidden = []
    for seed in (derive_seed(SECRET, sha), built.seed):
        rng = np.random.default_rng(seed)
        n, d, h, c = (int(v) for v in rng.integers(3, 9, 4))
        reg = float(rng.uniform(0.01, 0.5))
        params, X, y = random_problem(seed, n=n + c, d=d, h=h, c=c)
        _, grads = loss_and_grads(params, X, y, reg)
        hidden += [X, *params.values(), *grads.values()]
    for stored in table.arrays.values():
        for value in hidden:
            assert not (stored.shape == value.shape and np.allclose(stored, value)), "a hidden value is frozen"
