"""Assignment packs as plug-ins: isolation between packs, strict loading, the validator and the scaffold.

The packs under test are made with ``grade pack new`` (a small working pack) and edited copies of
it, so every expected value here follows from the edit: a copy whose checks carry other points or
name a mistake differently must be graded with exactly those, whatever was graded before it.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.batch.executors import SerialExecutor
from grader.batch.jobs import JobSettings
from grader.batch.progress import Progress
from grader.batch.roster import collect
from grader.batch.run import run_batch
from grader.engine.grading import GradeOptions, grade
from grader.engine.packs import AssignmentError, builtin_ids, load_assignment
from grader.engine.scaffold import new_pack
from grader.engine.validate import check_pack, failed
from grader.results import GradeResult, load_result
from grader.sandbox import Sandbox

pytestmark = pytest.mark.sandbox

WRONG_AXIS = ("exp.sum(axis=1, keepdims=True)", "exp.sum(axis=0, keepdims=True)")


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) >= 1, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


@pytest.fixture(scope="module")
def packs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Pack A (as scaffolded) and pack B: the same file names, other points and other mistake names."""
    root = tmp_path_factory.mktemp("packs")
    a = root / "pack-a"
    new_pack(a)
    b = root / "pack-b"
    new_pack(b)
    _edit(b / "test_1_solution.py", '@points(4)\n@title("softmax(x)', '@points(7)\n@title("softmax(x)')
    _edit(b / "mutants.py", "softmax normalised over axis 0 (columns)", "pack B: columns normalised")
    return {"a": a, "b": b}


@pytest.fixture(scope="module")
def wrong_axis_submission(packs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example with softmax normalised over columns: a mistake both packs name, differently."""
    folder = tmp_path_factory.mktemp("submission")
    shutil.copyfile(packs["a"] / "reference" / "solution.py", folder / "solution.py")
    _edit(folder / "solution.py", *WRONG_AXIS)
    _edit(folder / "solution.py", "x - x.max(axis=1, keepdims=True)", "x - x.max(axis=0, keepdims=True)")
    return folder


def _essence(result: GradeResult) -> list[tuple]:
    """What a grade is made of, without timings."""
    return [(t.name, t.title, t.score, t.max_score, t.status, t.output, t.diagnosis) for t in result.tests]


def _grade_alone(pack: Path, submission: Path, tmp_path: Path, sandbox: Sandbox) -> GradeResult:
    """Grade in a fresh interpreter, where no other pack was ever loaded."""
    out = tmp_path / f"alone-{pack.name}.json"
    argv = [sys.executable, "-m", "grader.cli", "run", str(submission), "--assignment", str(pack)]
    argv += ["--sandbox", sandbox.name, "--out", str(out), "--quiet"]
    subprocess.run(argv, check=True, capture_output=True, timeout=300)
    return load_result(out)


def test_packs_graded_a_b_a_in_one_process_match_grading_each_alone(
    packs: dict[str, Path], wrong_axis_submission: Path, tmp_path: Path, grading_sandbox: Sandbox
) -> None:
    def here(pack: Path) -> GradeResult:
        return grade(wrong_axis_submission, GradeOptions(assignment=str(pack), sandbox=grading_sandbox))

    first_a, b, second_a = here(packs["a"]), here(packs["b"]), here(packs["a"])
    alone_a = _grade_alone(packs["a"], wrong_axis_submission, tmp_path, grading_sandbox)
    alone_b = _grade_alone(packs["b"], wrong_axis_submission, tmp_path, grading_sandbox)
    assert _essence(first_a) == _essence(second_a) == _essence(alone_a)
    assert _essence(b) == _essence(alone_b)
    softmax_a = next(t for t in first_a.tests if t.name == "test_softmax")
    softmax_b = next(t for t in b.tests if t.name == "test_softmax")
    assert (softmax_a.max_score, softmax_b.max_score) == (4, 7)
    assert "axis 0" in softmax_a.diagnosis and softmax_b.diagnosis.startswith("pack B")


def test_batches_of_two_packs_in_one_process_match_grading_alone(
    packs: dict[str, Path], wrong_axis_submission: Path, tmp_path: Path, grading_sandbox: Sandbox
) -> None:
    klass = tmp_path / "class"
    shutil.copytree(wrong_axis_submission, klass / "alice")
    outcomes = {}
    for label in ("a", "b", "a"):
        out = tmp_path / f"results-{label}-{len(outcomes)}"
        settings = JobSettings(assignment=str(packs[label]), sandbox=grading_sandbox.name)
        entries = collect([klass])
        run_batch(entries, out, settings, SerialExecutor(), Progress(len(entries), io.StringIO(), interactive=False))
        outcomes[f"{label}{len(outcomes)}"] = load_result(out / "alice.json")
    alone_a = _grade_alone(packs["a"], wrong_axis_submission, tmp_path, grading_sandbox)
    alone_b = _grade_alone(packs["b"], wrong_axis_submission, tmp_path, grading_sandbox)
    assert _essence(outcomes["a0"]) == _essence(outcomes["a2"]) == _essence(alone_a)
    assert _essence(outcomes["b1"]) == _essence(alone_b)


def test_scaffolded_pack_passes_the_pack_check(packs: dict[str, Path], grading_sandbox: Sandbox) -> None:
    findings = check_pack(packs["a"], grading_sandbox)
    assert not list(failed(findings)), findings
    steps = {f.step for f in findings}
    assert {"example gets every point", "untouched handout gets 0", "graded twice, same results"} <= steps
    assert sum(step.startswith("mistake ") for step in steps) == 2


def test_pack_check_fails_a_mistake_the_rubric_does_not_name(tmp_path: Path, grading_sandbox: Sandbox) -> None:
    pack = tmp_path / "unnamed"
    new_pack(pack)
    _edit(pack / "mutants.py", "SOFTMAX_MISTAKES = [(", "SOFTMAX_MISTAKES = [] and [(")
    findings = check_pack(pack, grading_sandbox)
    bad = [f.step for f in failed(findings)]
    assert bad == ["mistake softmax-over-columns"], findings


@pytest.mark.slow
@pytest.mark.parametrize("pack_id", builtin_ids())
def test_every_builtin_pack_passes_the_pack_check(pack_id: str, grading_sandbox: Sandbox) -> None:
    findings = check_pack(pack_id, grading_sandbox)
    assert not list(failed(findings)), "\n".join(f"{f.step}: {f.detail}" for f in failed(findings))


def test_pack_new_then_check_from_the_command_line(tmp_path: Path, grading_sandbox: Sandbox) -> None:
    folder = tmp_path / "demo-pack"
    run = [sys.executable, "-m", "grader.cli", "pack"]
    made = subprocess.run([*run, "new", str(folder)], capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    checked = subprocess.run(
        [*run, "check", str(folder), "--sandbox", grading_sandbox.name], capture_output=True, text=True, timeout=300
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "all 8 pack checks passed" in checked.stdout
    again = subprocess.run([*run, "new", str(folder)], capture_output=True, text=True, timeout=60)
    assert again.returncode == 2 and "already exists" in again.stderr


# -- strict loading: a broken pack is refused with one line, before any student code runs ------------


def _broken(tmp_path: Path, file: str, old: str, new: str) -> Path:
    pack = tmp_path / "broken"
    new_pack(pack)
    _edit(pack / file, old, new)
    return pack


def _load_error(pack: Path, submission: Path, sandbox: Sandbox) -> str:
    result = grade(submission, GradeOptions(assignment=str(pack), sandbox=sandbox))
    assert result.status == "error" and result.score == 0
    assert "\n" not in result.message
    return result.message


def test_a_check_without_points_is_refused(tmp_path: Path, wrong_axis_submission: Path, grading_sandbox) -> None:
    pack = _broken(tmp_path, "test_1_solution.py", '@points(4)\n@title("relu', '@title("relu')
    assert "needs @points(n)" in _load_error(pack, wrong_axis_submission, grading_sandbox)


def test_an_unknown_marker_is_refused(tmp_path: Path, wrong_axis_submission: Path, grading_sandbox) -> None:
    pack = _broken(tmp_path, "test_1_solution.py", "@hidden\n", "@pytest.mark.hiden\n")
    _edit(pack / "test_1_solution.py", "import numpy as np\n", "import numpy as np\nimport pytest\n")
    assert "hiden" in _load_error(pack, wrong_axis_submission, grading_sandbox)


def test_preloading_a_library_the_worker_may_not_import_is_refused(
    tmp_path: Path, wrong_axis_submission: Path, grading_sandbox
) -> None:
    pack = _broken(tmp_path, "test_1_solution.py", "@hidden\n", '@hidden\n@pytest.mark.preload("requests")\n')
    _edit(pack / "test_1_solution.py", "import numpy as np\n", "import numpy as np\nimport pytest\n")
    assert "@preload takes library names among: torch" in _load_error(pack, wrong_axis_submission, grading_sandbox)


def test_invalid_settings_name_the_field(tmp_path: Path) -> None:
    pack = _broken(tmp_path, "assignment.toml", "tolerance = 1e-8", "tolerance = 2.0")
    with pytest.raises(AssignmentError, match=r"invalid \[settings\].*tolerance"):
        load_assignment(pack)


def test_a_folder_without_init_is_not_a_pack(tmp_path: Path) -> None:
    pack = tmp_path / "loose"
    new_pack(pack)
    (pack / "__init__.py").unlink()
    with pytest.raises(AssignmentError, match="no __init__.py"):
        load_assignment(pack)


def test_unknown_assignment_lists_the_known_ones() -> None:
    with pytest.raises(AssignmentError, match="unknown assignment 'no-such-pack'.*hlcv-ex2"):
        load_assignment("no-such-pack")


def test_pack_settings_reach_the_checks(packs: dict[str, Path], tmp_path: Path, grading_sandbox: Sandbox) -> None:
    """The tolerance in [settings] is what the checks compare with: an output 1e-6 off fails at the
    scaffold's 1e-8 and passes in a copy whose assignment.toml allows 1e-3."""
    submission = tmp_path / "slightly-off"
    submission.mkdir()
    shutil.copyfile(packs["a"] / "reference" / "solution.py", submission / "solution.py")
    _edit(
        submission / "solution.py",
        "return exp / exp.sum(axis=1, keepdims=True)",
        "return exp / exp.sum(axis=1, keepdims=True) * (1 + 1e-6)",
    )
    loose = _broken(tmp_path, "assignment.toml", "tolerance = 1e-8", "tolerance = 1e-3")

    def softmax_status(pack: Path) -> str:
        result = grade(submission, GradeOptions(assignment=str(pack), sandbox=grading_sandbox))
        return next(t.status for t in result.tests if t.name == "test_softmax")

    assert (softmax_status(packs["a"]), softmax_status(loose)) == ("failed", "passed")
