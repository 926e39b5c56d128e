"""Correct solutions written unlike the packs' own get every point (hlcv-ex2's: test_rubric_variants).

Each ``tests/corpus/<pack>/styles/<style>/`` is a complete, correct solution of the handout built in
another style it allows: einsum or broadcasting instead of products, log-sum-exp, loops where the
handout permits them, in-place or out-of-place updates, other module structures, other batch norm
backward formulas. Each was checked against the handout's worked numbers before it was added. The
expectation comes from the handout alone: every check passes with all its points, hidden ones too,
except the accuracy checks, which skip for want of CIFAR-10.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.engine.grading import GradeOptions, grade
from grader.sandbox import Sandbox

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

CORPUS = Path(__file__).resolve().parent / "corpus"
STYLES = [(pack.name, style.name) for pack in sorted(CORPUS.iterdir()) for style in sorted(pack.glob("styles/*"))]


def test_every_pack_but_hlcv_ex2_has_solutions_in_other_styles() -> None:
    assert {pack for pack, _ in STYLES} == {"modular-mlp", "numpy-clr", "torch-backprop"}


@pytest.mark.parametrize(("pack", "style"), STYLES, ids=[f"{pack}/{style}" for pack, style in STYLES])
def test_a_correct_solution_in_another_style_gets_every_point(grading_sandbox: Sandbox, pack: str, style: str) -> None:
    result = grade(CORPUS / pack / "styles" / style, GradeOptions(assignment=pack, sandbox=grading_sandbox))
    assert result.status == "graded", result.message
    assert any("hidden" in check.tags for check in result.tests), "the hidden checks were not graded"
    for check in result.tests:
        if check.status == "skipped":
            assert "CIFAR-10" in check.output, (check.name, check.output)
        else:
            assert (check.status, check.score) == ("passed", check.max_score), (check.name, check.output)
    assert result.score == sum(check.max_score for check in result.tests if check.status != "skipped")
