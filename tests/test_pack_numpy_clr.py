"""The numpy-clr pack graded end to end on its corpus (tests/corpus/numpy-clr), in a real sandbox.

Expectations come from the corpus itself: the good submission is the handout's formulas written as a
student would; each buggy variant carries one mistake and names the check that covers it and the
catalogue entry that names it (``expect.json``; ``"hidden": true`` when only a hidden check can catch
it); hostile cases say how many points they may get at
most ("forge") or which checks they may cost ("disrupt"). Every submission is graded once per module
(``grade()`` in-process) and the result shared by the tests that read it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_cifar10 import write_python_release

from grader.assignments.numpy_clr import mutants
from grader.engine.grading import GradeOptions, grade
from grader.results import GradeResult
from grader.sandbox import Sandbox

pytestmark = pytest.mark.sandbox

ASSIGNMENT = "numpy-clr"
ROOT = Path(__file__).resolve().parent
CORPUS = ROOT / "corpus" / ASSIGNMENT
TEMPLATE = ROOT.parent / "student_template" / ASSIGNMENT
ACCURACY_CHECKS = ("test_config1_accuracy", "test_final_accuracy")
BUGGY = sorted(p.name for p in (CORPUS / "buggy").iterdir())
HOSTILE = sorted(p.name for p in (CORPUS / "hostile").iterdir())


@pytest.fixture(scope="module")
def graded(grading_sandbox: Sandbox):
    """``graded(folder, visible_only)``: the result of grading ``folder`` without CIFAR-10, computed once."""
    cache: dict[tuple[Path, bool], GradeResult] = {}

    def result(folder: Path, visible_only: bool = False) -> GradeResult:
        key = (folder, visible_only)
        if key not in cache:
            options = GradeOptions(assignment=ASSIGNMENT, sandbox=grading_sandbox, visible_only=visible_only)
            cache[key] = grade(folder, options)
        return cache[key]

    return result


def by_name(result: GradeResult) -> dict:
    return {t.name: t for t in result.tests}


def expect(folder: Path) -> dict:
    return json.loads((folder / "expect.json").read_text())


def test_good_submission_gets_every_point_that_runs_without_the_data_set(graded):
    result = graded(CORPUS / "good")
    assert result.status == "graded" and result.max_score == 100
    for test in result.tests:
        if test.name in ACCURACY_CHECKS:
            assert test.status == "skipped" and "CIFAR-10 is not available" in test.output
        else:
            assert (test.status, test.score) == ("passed", test.max_score), test
    assert result.score == 80


def test_untouched_handout_gets_nothing_and_no_error(graded):
    result = graded(TEMPLATE)
    assert result.status == "graded" and result.score == 0
    statuses = {t.name: t.status for t in result.tests}
    assert "error" not in statuses.values(), statuses
    assert "not implemented yet" in by_name(result)["test_gradients"].output
    assert "hyperparams.json" in by_name(result)["test_hyperparams"].output


@pytest.mark.parametrize("case", BUGGY)
def test_each_mistake_loses_points_on_its_check_and_is_named(graded, case):
    folder = CORPUS / "buggy" / case
    wanted = expect(folder)
    # Most mistakes are covered by a visible check: the hidden ones (and their workers) are left out
    # unless the case says only a hidden check catches it.
    result = graded(folder, visible_only=not wanted.get("hidden", False))
    assert result.status == "graded"
    check = by_name(result)[wanted["check"]]
    assert check.score < check.max_score, check
    assert check.diagnosis == getattr(mutants, wanted["diagnosis"]), check
    assert result.score < sum(t.max_score for t in result.tests if t.status != "skipped")


def test_the_trajectory_note_names_the_list_that_differs(graded, tmp_path):
    """Only the accuracies wrong (divided by d, not n): the note names the training accuracy, not the
    cost (which is right), and shows two different numbers."""
    code = (CORPUS / "good" / "two_layer_clr.py").read_text()
    right = "return float(np.mean(np.argmax(P, axis=0) == y))"
    assert code.count(right) == 1
    folder = tmp_path / "accuracy-over-d"
    folder.mkdir()
    (folder / "two_layer_clr.py").write_text(
        code.replace(right, "return float(np.sum(np.argmax(P, axis=0) == y) / X.shape[0])")
    )
    (folder / "hyperparams.json").write_text((CORPUS / "good" / "hyperparams.json").read_text())
    check = by_name(graded(folder, visible_only=True))["test_trajectory"]
    assert check.score == 0, check
    message, note = check.output.splitlines()
    assert message.startswith("reduced configuration 1: differs from the reference: acc_train"), message
    assert note.startswith("the training accuracy (acc_train) first differs after epoch 1: "), note
    got, expected = note.split(": ")[-1].removesuffix(")").split(" (expected ")
    assert got != expected


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_submissions_get_a_valid_result_and_no_more_than_they_should(graded, case):
    folder = CORPUS / "hostile" / case
    wanted = expect(folder)
    result = graded(folder)
    assert result.status == "graded"
    assert not any(np.isnan(t.score) for t in result.tests)
    if wanted["kind"] == "forge":
        assert result.score <= wanted["max_score"], [(t.name, t.score) for t in result.tests if t.score]
        return
    good = by_name(graded(CORPUS / "good"))
    for name, test in by_name(result).items():
        expected = 0 if name in wanted["zero"] else good[name].score
        assert test.score == expected, test


# -- accuracy checks on a synthetic CIFAR-10 --------------------------------------------------------

IMAGES_PER_BATCH = 10_000
#: A short final run (450 updates = one epoch of 45,000 images): plenty for the synthetic data.
QUICK = {
    "lam": 0.001,
    "n_s": 225,
    "cycles": 1,
    "n_batch": 100,
    "coarse": {"l_min": -5, "l_max": -1},
    "fine": {"l_min": -3.5, "l_max": -2.5},
}


@pytest.fixture(scope="module")
def synthetic_cifar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real release's layout and sizes; each class a fixed random image plus heavy noise, so a
    correctly trained linear-ish model is far above both thresholds and an untrained one near 10%."""
    rng = np.random.default_rng(0)
    templates = rng.integers(0, 256, (10, 3072), dtype=np.int16)
    batches = []
    for _ in range(6):
        labels = rng.integers(0, 10, IMAGES_PER_BATCH)
        # Uniform noise of +-120 grey levels: as hard as the existing tests' Gaussian noise, cheaper to draw.
        noise = rng.integers(-120, 121, (IMAGES_PER_BATCH, 3072), dtype=np.int16)
        noisy = np.clip(templates[labels] + noise, 0, 255).astype(np.uint8)
        batches.append((noisy, [int(v) for v in labels]))
    parent = tmp_path_factory.mktemp("cifar")
    write_python_release(parent, batches)
    return parent


def _submission(tmp_path: Path, code: str) -> Path:
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "two_layer_clr.py").write_text(code)
    (folder / "hyperparams.json").write_text(json.dumps(QUICK))
    return folder


@pytest.mark.slow
def test_accuracy_checks_pass_for_a_trained_network(synthetic_cifar, tmp_path, grading_sandbox):
    folder = _submission(tmp_path, (CORPUS / "good" / "two_layer_clr.py").read_text())
    result = grade(folder, GradeOptions(assignment=ASSIGNMENT, sandbox=grading_sandbox, data_dir=synthetic_cifar))
    for name in ACCURACY_CHECKS:
        check = by_name(result)[name]
        assert (check.status, check.score) == ("passed", check.max_score), check
        assert "measured by the grader" in check.output
    assert result.score == 100


@pytest.mark.slow
def test_accuracy_checks_fail_for_a_broken_training(synthetic_cifar, tmp_path, grading_sandbox):
    # Epochs counted as updates // n instead of updates * n_batch // n: no epoch runs at all, and the
    # starting weights come back (at chance on the test images).
    code = (CORPUS / "good" / "two_layer_clr.py").read_text()
    assert code.count("    while t < total:\n") == 1
    folder = _submission(tmp_path, code.replace("    while t < total:\n", "    for epoch in range(total // n):\n"))
    result = grade(folder, GradeOptions(assignment=ASSIGNMENT, sandbox=grading_sandbox, data_dir=synthetic_cifar))
    for name in ACCURACY_CHECKS:
        check = by_name(result)[name]
        assert (check.status, check.score) == ("failed", 0), check
