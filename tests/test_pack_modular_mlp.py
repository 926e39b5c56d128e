"""The modular-mlp pack graded end to end on its corpus (``tests/corpus/modular-mlp``), in bubblewrap.

- the pack's example (a correct submission, ``write_example``) gets every point that runs without
  CIFAR-10 (``grade pack check``, run on every built-in pack by ``tests/test_packs.py``, also grades
  it twice and grades the untouched handout, which must get 0 with no check in error);
- each ``buggy/<mistake>/`` loses points on the check named in its ``expect.json`` and, where the
  mistake is in the catalogue, is diagnosed with the expected name;
- each ``hostile/<attack>/`` gets a valid result and no point it should not get.

To keep this file short, buggy and hostile cases are graded with only the files their checks need
(``expect.json``); the other checks then score 0 without starting anything. Buggy cases run only
the visible checks (every mistake is covered by one); hostile cases run every check.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from grader.assignments.modular_mlp import write_example
from grader.engine.grading import GradeOptions, grade
from grader.results import CheckResult, GradeResult
from grader.sandbox import Sandbox

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "corpus" / "modular-mlp"
ACCURACY_CHECKS = {"test_numpy_accuracy", "test_torch_accuracy"}
#: The submission files each group of checks imports.
FILES_FOR = {
    "test_1": ["modules.py"],
    "test_2": ["modules.py", "mlp_numpy.py"],
    "test_3": ["custom_batchnorm.py"],
    "test_4": ["mlp_pytorch.py"],
}
CHECK_FILE = {
    "test_linear_init": "test_1",
    "test_linear_backward": "test_1",
    "test_activations": "test_1",
    "test_softmax": "test_1",
    "test_cross_entropy": "test_1",
    "test_clear_cache": "test_2",  # in test_1_modules, but it also clears an MLP: it needs mlp_numpy.py
    "test_mlp_init_and_forward": "test_2",
    "test_train_step": "test_2",
    "test_manual_function": "test_3",
    "test_autograd_module": "test_3",
    "test_manual_module": "test_3",
    "test_torch_mlp_forward": "test_4",
}
BUGGY = sorted(p.name for p in (CORPUS / "buggy").iterdir())
HOSTILE = sorted(p.name for p in (CORPUS / "hostile").iterdir())


def _expect(case: Path) -> dict:
    return json.loads((case / "expect.json").read_text())


def _grade(source: Path, sandbox: Sandbox, tmp: Path, files: list[str], visible_only: bool = False) -> GradeResult:
    """Grade ``files`` of ``source`` in-process (``visible_only``: without the hidden checks)."""
    folder = tmp / source.name
    folder.mkdir(parents=True)
    for name in files:
        shutil.copy(source / name, folder / name)
    return grade(folder, GradeOptions(assignment="modular-mlp", sandbox=sandbox, visible_only=visible_only))


def _by_name(result: GradeResult) -> dict[str, CheckResult]:
    return {check.name: check for check in result.tests}


@pytest.fixture(scope="module")
def good(grading_sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> GradeResult:
    folder = write_example(tmp_path_factory.mktemp("good"))
    return grade(folder, GradeOptions(assignment="modular-mlp", sandbox=grading_sandbox))


def test_the_pack_totals_100_points(good: GradeResult) -> None:
    assert good.max_score == 100
    assert len(good.tests) == 19


def test_the_good_submission_gets_every_point_that_runs_without_cifar(good: GradeResult) -> None:
    assert good.status == "graded"
    for check in good.tests:
        if check.name in ACCURACY_CHECKS:
            assert check.status == "skipped" and "CIFAR-10 is not available" in check.output
        else:
            assert (check.status, check.score) == ("passed", check.max_score), check
    assert good.score == 90
    assert "gradcheck passed" in _by_name(good)["test_manual_function"].output


@pytest.mark.parametrize("name", BUGGY)
def test_a_buggy_submission_loses_points_on_its_check(
    name: str, grading_sandbox: Sandbox, tmp_path: Path, good: GradeResult
) -> None:
    case = CORPUS / "buggy" / name
    expect = _expect(case)
    # Every check that covers a mistake is visible: the hidden ones need not run here.
    result = _grade(case, grading_sandbox, tmp_path, FILES_FOR[CHECK_FILE[expect["check"]]], visible_only=True)
    assert result.status == "graded"
    check = _by_name(result)[expect["check"]]
    assert check.status == "failed" and check.score < check.max_score, check
    assert check.diagnosis == expect["diagnosis"], check
    assert result.score < good.score
    assert all(c.status != "error" for c in result.tests), result.tests


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_submission_gets_no_point_it_should_not(
    name: str, grading_sandbox: Sandbox, tmp_path: Path, good: GradeResult
) -> None:
    case = CORPUS / "hostile" / name
    expect = _expect(case)
    result = _grade(case, grading_sandbox, tmp_path, expect["grade_with"])
    GradeResult.model_validate_json(result.model_dump_json())
    assert result.status == "graded", result.message
    if expect["kind"] == "forge":
        assert result.score == 0, [(c.name, c.score, c.output[:200]) for c in result.tests if c.score]
        return
    # A disruption costs nothing on the checks it does not break: here every module check passes.
    checks = _by_name(result)
    graded = [c for c in result.tests if CHECK_FILE.get(c.name, "test_1") == "test_1" and c.name in CHECK_FILE]
    assert graded and all(c.status == "passed" for c in graded), graded
    assert result.score == sum(_by_name(good)[c].score for c in checks if checks[c].status == "passed")
    assert "not shown" in checks["test_linear_backward"].output
