"""Every classic mistake the rubric knows loses points and is named in the feedback.

Each case takes the built-in example submission (the reference solution in the student's file
layout), makes one small, readable edit to its source that reproduces a student mistake, grades it
in a real sandbox, and checks that the check covering the mistake lost points and that its
diagnosis names the mistake. The edits are made here, independently of the rubric's own
``mutants.py``, so a rubric that stopped recognising a mistake would fail.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from grader.cli.demo import write_example_submission
from grader.engine.grading import GradeOptions, grade
from grader.results import GradeResult
from grader.sandbox import Sandbox

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]


@dataclasses.dataclass(frozen=True)
class Mistake:
    """One student mistake: source edits (file, old, new), the check it hits, words in its diagnosis."""

    name: str
    edits: tuple[tuple[str, str, str], ...]
    check: str
    diagnosis: str


NET = "two_layernet.py"
MISTAKES = [
    Mistake("missing-1/N", ((NET, "    dz3 /= n\n", ""),), "test_toy_gradients", r"1/N|averaged"),
    Mistake(
        "reg*W-gradient",
        ((NET, "2.0 * reg * W2", "reg * W2"), (NET, "2.0 * reg * W1", "reg * W1")),
        "test_toy_gradients",
        r"reg\s*\*\s*W instead of 2\s*\*\s*reg\s*\*\s*W",
    ),
    Mistake(
        "half-reg-loss",
        ((NET, 'float(reg * (np.sum(params["W1"]', 'float(0.5 * reg * (np.sum(params["W1"]'),),
        "test_toy_loss",
        r"0\.5\s*\*\s*reg",
    ),
    Mistake(
        "no-max-shift",
        ((NET, "shifted = z3 - z3.max(axis=1, keepdims=True)", "shifted = z3"),),
        "test_stable_softmax",
        r"max",
    ),
    Mistake(
        "relu-mask-missing",
        ((NET, "dz2 = (dz3 @ W2.T) * (z2 > 0)", "dz2 = dz3 @ W2.T"),),
        "test_toy_gradients",
        r"ReLU",
    ),
    Mistake(
        "momentum-ascent",
        (
            (
                NET,
                "momentum * velocity[key] - learning_rate * grads[key]",
                "momentum * velocity[key] + learning_rate * grads[key]",
            ),
        ),
        "test_sgd_momentum_step",
        r"ascent",
    ),
    Mistake(
        "momentum-memory",
        ((NET, "momentum * velocity[key] - learning_rate * grads[key]", "-learning_rate * grads[key]"),),
        "test_sgd_momentum_step",
        r"previous velocity|momentum ignored",
    ),
    Mistake(
        "decay-every-iteration",
        (
            (
                NET,
                "            learning_rate *= learning_rate_decay\n",
                "        learning_rate *= learning_rate_decay\n",
            ),
        ),
        "test_loss_history",
        r"every iteration",
    ),
    Mistake(
        "mlp-without-relu",
        (("ex2_pytorch.py", "                layers.append(nn.ReLU())\n", "                pass\n"),),
        "test_mlp_layers",
        r"ReLU",
    ),
]


def _grade_with(edits: tuple[tuple[str, str, str], ...], folder: Path, sandbox: Sandbox) -> GradeResult:
    folder.mkdir()
    write_example_submission(folder)
    for file_name, old, new in edits:
        path = folder / file_name
        source = path.read_text()
        assert source.count(old) == 1, f"{old!r} must occur exactly once in {file_name} to make this mistake"
        path.write_text(source.replace(old, new))
    return grade(folder, GradeOptions(sandbox=sandbox))


@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda m: m.name)
def test_mistake_loses_points_and_is_named(mistake: Mistake, tmp_path: Path, grading_sandbox: Sandbox) -> None:
    result = _grade_with(mistake.edits, tmp_path / "submission", grading_sandbox)
    check = next(t for t in result.tests if t.name == mistake.check)
    assert check.score < check.max_score, check
    assert re.search(mistake.diagnosis, check.diagnosis or "", re.I), check


def test_unedited_example_gets_every_numeric_point(tmp_path: Path, grading_sandbox: Sandbox) -> None:
    """The control: without an edit, the same pipeline gives full marks on every numeric check."""
    result = _grade_with((), tmp_path / "submission", grading_sandbox)
    assert result.status == "graded"
    for test in result.tests:
        if test.status == "skipped":
            assert "CIFAR-10" in test.output
        else:
            assert (test.status, test.score) == ("passed", test.max_score), test
