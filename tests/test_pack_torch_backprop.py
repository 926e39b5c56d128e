"""The torch-backprop pack graded end to end on its corpus, in-process with ``grade()`` in bubblewrap.

Every case of ``tests/corpus/torch-backprop`` is graded once (module-scoped) and the tests read the
results. Expectations come from the assignment: which check covers which mistake, which mistake name
the feedback must give, which checks a disruption leaves alone, and that a forging case earns
nothing; never from an earlier run of the grader.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.engine.grading import GradeOptions, grade
from grader.results import GradeResult
from grader.sandbox import Sandbox

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests" / "corpus" / "torch-backprop"
HANDOUT = REPO / "student_template" / "torch-backprop"
ASSIGNMENT = "torch-backprop"
ACCURACY = "test_cifar2_accuracy"
GRADIENTS = ("test_gradients", "test_hidden_gradients")
MANUAL = ("test_manual_sgd", "test_hidden_manual_sgd")

#: For each buggy case: checks (name prefixes) that must lose points, and words of the named mistake.
BUGGY = {
    "missing-factor-2": (GRADIENTS, r"factor 2"),
    "missing-1-over-n": (GRADIENTS, r"1/N"),
    "derivative-at-a": (GRADIENTS, r"derivative taken at a"),
    "bias-not-summed": (GRADIENTS, r"bias gradient not summed"),
    "transposed-weight-gradient": (GRADIENTS, r"transposed weight gradient"),
    "layer-index-off-by-one": (GRADIENTS, r"off by one"),
    "error-sign-flipped": (GRADIENTS, r"sign of the error"),
    "decay-after-momentum": (("test_manual_sgd[m0.9-wd0.01]",), r"weight decay added after the momentum"),
    "decay-times-two": (("test_manual_sgd[m0.0-wd0.01]", "test_manual_sgd[m0.9-wd0.01]"), r"weight decay times 2"),
    "dampened-zero-buffer": (("test_manual_sgd[m0.9-wd0.0]",), r"buffer started at zero with dampening"),
    "gradients-never-zeroed": (MANUAL, r"never zeroed"),
    "update-outside-no-grad": (MANUAL, r"outside torch.no_grad"),
    "nesterov-by-accident": (("test_manual_sgd[m0.9-wd0.0]",), r"Nesterov"),
    "train-without-zero-grad": (("test_train_with_optimizer",), r"never zeroed"),
    # The visible checks' 48 samples in batches of 16 hide this one; the hidden check's last batch is smaller.
    "loss-history-sample-weighted": (("test_hidden_manual_sgd",), r"weighted by batch size"),
    "loss-history-last-batch": (MANUAL, r"last batch's loss"),
    "loss-history-summed": (MANUAL, r"sum of the batch losses"),
    # train's problem has 44 samples (16, 16, 12), so a mean over the samples differs there too.
    "train-loss-sample-weighted": (("test_train_with_optimizer",), r"weighted by batch size"),
    "momentum-default-nonzero": (("test_manual_sgd[m0.0-wd0.0]",), r"default momentum or weight_decay not 0"),
}

#: Buggy cases whose parameters are right and whose loss history is wrong.
LOSS_HISTORY_CASES = ("loss-history-sample-weighted", "loss-history-last-batch", "loss-history-summed")
RIGHT_PARAMETERS = "parameters match torch.optim.SGD after every epoch, but the loss history differs"

#: For each disrupting case: checks that never call the disrupted function, so they must pass.
UNTOUCHED = {
    "output-flood": ("test_manual_sgd", "test_hidden_manual_sgd", "test_train_with_optimizer"),
    "segfault-in-train": ("test_gradients", "test_hidden_gradients", "test_manual_sgd", "test_hidden_manual_sgd"),
}

#: Points of the hidden checks (test_hidden_gradients, test_hidden_manual_sgd).
HIDDEN_POINTS = 17

#: Files a case stores under another name so the project's own pytest run never loads them.
RENAMED_SUFFIX = ".in"


def _copy_case(source: Path, parent: Path) -> Path:
    target = parent / source.name
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("expect.json"))
    for stored in target.rglob(f"*{RENAMED_SUFFIX}"):
        stored.rename(stored.with_name(stored.name[: -len(RENAMED_SUFFIX)]))
    return target


def _cases() -> dict[str, Path]:
    cases = {"good": CORPUS / "good", "handout": HANDOUT}
    for kind in ("buggy", "hostile"):
        cases.update({f"{kind}/{p.name}": p for p in sorted((CORPUS / kind).iterdir()) if p.is_dir()})
    return cases


def _kind(name: str) -> str:
    if not name.startswith("hostile/"):
        return name.split("/")[0]
    return json.loads((CORPUS / name / "expect.json").read_text())["kind"]


#: Cases graded with the hidden checks too; the rest run only the visible checks (one worker instead
#: of two), which hold every check their expectations name.
GRADED_IN_FULL = (
    "good",
    "handout",
    "hostile/lying-objects",
    "hostile/nan-everything",
    "buggy/loss-history-sample-weighted",
)


@pytest.fixture(scope="module")
def graded(grading_sandbox: Sandbox) -> Iterator[dict[str, GradeResult]]:
    """Every case graded once, without the data set (in-process grading runs one at a time)."""
    work = Path(tempfile.mkdtemp(prefix="torch-backprop-corpus-"))
    work.chmod(0o755)
    try:
        results = {}
        for name, path in _cases().items():
            folder = _copy_case(path, work / name.replace("/", "_"))
            options = GradeOptions(
                assignment=ASSIGNMENT, sandbox=grading_sandbox, visible_only=name not in GRADED_IN_FULL
            )
            results[name] = grade(folder, options)
        yield results
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _checks(result: GradeResult, prefix: str) -> list:
    """The checks named ``prefix`` (a parametrised check: all its cases). Hidden checks are absent
    from a visible-only grading; every name must exist in a full one."""
    found = [t for t in result.tests if t.name == prefix or t.name.startswith(prefix + "[")]
    assert found or "hidden" in prefix, f"no check named {prefix}"
    return found


@pytest.mark.slow
def test_every_case_gets_a_valid_result(graded: dict[str, GradeResult]) -> None:
    assert set(graded) == set(_cases())
    for name, result in graded.items():
        assert result.status == "graded", (name, result.message)
        assert 0 <= result.score <= result.max_score, name
        assert result.max_score == (100 if name in GRADED_IN_FULL else 100 - HIDDEN_POINTS), name
        GradeResult.model_validate_json(result.model_dump_json())


@pytest.mark.slow
def test_good_gets_every_point_that_runs_without_the_data_set(graded: dict[str, GradeResult]) -> None:
    result = graded["good"]
    for check in result.tests:
        if check.name == ACCURACY:
            assert check.status == "skipped" and "CIFAR-10" in check.output
        else:
            assert (check.status, check.score) == ("passed", check.max_score), check
    assert result.score == 100 - _checks(result, ACCURACY)[0].max_score
    assert sum(t.max_score for t in result.tests) == 100


@pytest.mark.slow
def test_untouched_handout_gets_nothing_and_no_error(graded: dict[str, GradeResult]) -> None:
    result = graded["handout"]
    assert result.score == 0
    assert all(t.status in ("failed", "skipped") for t in result.tests), [(t.name, t.status) for t in result.tests]
    assert any("NotImplementedError" in t.output or "not implemented" in t.output.lower() for t in result.tests)


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(BUGGY))
def test_buggy_case_loses_points_where_its_mistake_is_checked_and_is_named(
    graded: dict[str, GradeResult], case: str
) -> None:
    import re

    result = graded[f"buggy/{case}"]
    prefixes, words = BUGGY[case]
    covering = [c for prefix in prefixes for c in _checks(result, prefix)]
    assert covering, case
    for check in covering:
        assert check.score < check.max_score, (case, check.name, check.output)
        assert check.diagnosis and re.search(words, check.diagnosis), (case, check.name, check.diagnosis)
    assert result.score < graded["good"].score


@pytest.mark.slow
@pytest.mark.parametrize("case", LOSS_HISTORY_CASES)
def test_a_wrong_loss_history_with_right_parameters_is_told_so(graded: dict[str, GradeResult], case: str) -> None:
    """Right parameters never get a parameter mistake named (weight decay after momentum with no
    momentum gives the right parameters); the feedback says the parameters are right, in one line."""
    result = graded[f"buggy/{case}"]
    failed = [c for prefix in MANUAL for c in _checks(result, prefix) if c.score < c.max_score]
    assert failed, case
    for check in failed:
        assert RIGHT_PARAMETERS in check.output and "mean of that epoch's batch losses" in check.output, check.output
        assert "\n" not in check.output.strip(), check.output
        assert check.diagnosis and "loss history" in check.diagnosis, (check.name, check.diagnosis)
        assert "weight decay" not in check.diagnosis, (check.name, check.diagnosis)
    for check in result.tests:
        if check.name.startswith(("test_gradients", "test_hidden_gradients", "test_train_with_optimizer")):
            assert (check.status, check.score) == ("passed", check.max_score), (case, check.name)


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(p.name for p in (CORPUS / "hostile").iterdir()))
def test_hostile_case_never_earns_more_than_it_should(graded: dict[str, GradeResult], case: str) -> None:
    result = graded[f"hostile/{case}"]
    if _kind(f"hostile/{case}") == "forge":
        assert result.score == 0, [(t.name, t.score, t.output[:200]) for t in result.tests if t.score]
        return
    for prefix in UNTOUCHED[case]:
        for check in _checks(result, prefix):
            assert (check.status, check.score) == ("passed", check.max_score), (case, check.name, check.output[:300])
    assert result.score <= graded["good"].score


def test_a_hidden_network_never_has_all_zero_gradients() -> None:
    """Whatever the secret, zeros are never the right gradients of the hidden check's network.

    A network whose last ReLU is off for the whole batch has only zero gradients; the gradients here
    come from the reference's own ``loss.backward()``, independent of the draw.
    """
    import numpy as np

    from grader.assignments.torch_backprop.test_1_backprop import expected_gradients, hidden_problem

    for seed in range(300):
        problem = hidden_problem(seed)
        smallest_peak = min(float(np.abs(g).max()) for g in expected_gradients(problem))
        assert smallest_peak > 1e-6, (seed, problem.describe())


def test_the_hidden_training_check_always_ends_an_epoch_with_a_smaller_batch() -> None:
    """Whatever the secret, the hidden check's last batch is smaller, so each loss-history mistake
    (a mean over the samples among them) gives another history than the reference's; the expected
    histories come from ``torch.optim.SGD``, and the mistakes' from the catalogue's loop."""
    import torch

    from grader.assignments.torch_backprop.mutants import LOSS_MUTANTS
    from grader.assignments.torch_backprop.test_2_training import (
        BATCH,
        EPOCHS,
        hidden_setting,
        loss_history_mutants,
        reference_run,
    )

    for seed in range(200):
        problem, lr, momentum, decay = hidden_setting(seed)
        assert 2 * BATCH < problem.X.shape[0] < 3 * BATCH, seed
        _, losses = reference_run(
            problem, EPOCHS, lambda p, m=momentum, d=decay, r=lr: torch.optim.SGD(p, lr=r, momentum=m, weight_decay=d)
        )
        found = loss_history_mutants(problem, EPOCHS, lr, momentum, decay, losses)
        assert [name for name, _ in found] == [name for name, _ in LOSS_MUTANTS], seed


def test_mistakes_that_give_the_right_numbers_in_a_setting_are_never_named_there() -> None:
    """Weight decay after the momentum buffer is the right SGD without momentum or without weight
    decay; the sample-weighted loss history is the right one with equal batches (the visible checks)."""
    import torch

    from grader.assignments.torch_backprop.test_2_training import (
        EPOCHS,
        LR,
        SETTINGS,
        loss_history_mutants,
        mutant_runs,
        reference_run,
        training_problem,
    )

    problem = training_problem(7)
    for momentum, decay in SETTINGS:
        expected, losses = reference_run(
            problem, EPOCHS, lambda p, m=momentum, d=decay: torch.optim.SGD(p, lr=LR, momentum=m, weight_decay=d)
        )
        named = [name for name, _ in mutant_runs(problem, EPOCHS, LR, momentum, decay, expected[-1])]
        assert any("after the momentum" in name for name in named) == (momentum != 0 and decay != 0), named
        assert any("Nesterov" in name for name in named) == (momentum != 0), named
        histories = [name for name, _ in loss_history_mutants(problem, EPOCHS, LR, momentum, decay, losses)]
        assert not any("weighted by batch size" in name for name in histories), histories
        assert any("last batch" in name for name in histories), histories
