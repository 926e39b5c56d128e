"""The hlcv-ex2 rubric on realistic submissions it was not written against.

A few of ``benchmarks/rubric_variants`` (correct solutions built differently from the reference, and
one-mistake variants of a student-style solution) are graded once each, in-process, in a real
sandbox; each test then reads one graded result. Expectations come from the variants themselves
(which check covers the mistake, which words name it) and from the handout, never from an earlier
grading. ``benchmarks/bench_rubric.py`` grades all of them. The catalogue and error-pattern tests
below need no sandbox: their expected values are computed independently here.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest

from grader.assignments.hlcv_ex2 import mutants, patterns
from grader.engine.grading import GradeOptions, grade
from grader.results import GradeResult
from reference.hlcv_ex2.two_layernet import PARAM_NAMES, loss_and_grads

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from rubric_variants import VARIANTS  # noqa: E402

#: The most telling variants: MLPs the handout allows but built unlike the reference, a numpy
#: solution in another style, momentum conventions that coincide with the right one after one step
#: from zero, and mistakes that used to be misnamed, unnamed, or reported as the grader's own error.
CHOSEN = (
    "modulelist-functional-relu",
    "one-relu-reused",
    "in-place-momentum-onehot-matrix",
    "nesterov",
    "lr-outside-velocity",
    "velocity-not-stored",
    "onehot-columns",
    "mlp-no-bias",
    "no-zero-grad",
    "weight-decay-ignored",
    "loss-unshifted-logsumexp",
    "loss-log-epsilon",
    "mlp-sgd-momentum",
    "mlp-loss-history-tensors",
    "mlp-val-acc-count",
    "loss-default-reg-nonzero",
    "mlp-default-optimizer-sgd",
)
BY_NAME = {v.name: v for v in VARIANTS}


@pytest.fixture(scope="module")
def graded(grading_sandbox, tmp_path_factory) -> dict[str, GradeResult]:
    """Each chosen variant graded once (the accuracy checks skip: no data set is given)."""
    results = {}
    for name in CHOSEN:
        folder = tmp_path_factory.mktemp(name)
        results[name] = grade(BY_NAME[name].write(folder), GradeOptions(assignment="hlcv-ex2", sandbox=grading_sandbox))
    return results


def _check(result: GradeResult, name: str):
    return next(t for t in result.tests if t.name == name)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in CHOSEN if BY_NAME[n].correct])
def test_correct_variant_gets_full_marks(graded, name):
    result = graded[name]
    shipped = BY_NAME[name].files
    for test in result.tests:
        if test.status == "skipped" or "is missing from the submission" in test.output:
            continue
        assert test.score == test.max_score, f"{name}: {test.name} {test.score}/{test.max_score}: {test.output}"
    assert any(t.status == "passed" for t in result.tests), shipped


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in CHOSEN if not BY_NAME[n].correct])
def test_mistake_loses_points_and_is_named(graded, name):
    variant = BY_NAME[name]
    covering = _check(graded[name], variant.check)
    assert covering.score < covering.max_score, covering.output
    assert covering.diagnosis and re.search(variant.diagnosis, covering.diagnosis), covering.diagnosis
    # Wrong shapes are the student's to fix: neither "your code raised" nor an internal error.
    assert "your code raised" not in covering.output and "internal error" not in covering.output
    assert covering.status == "failed"


@pytest.mark.slow
def test_momentum_deviation_costs_only_its_own_check(graded):
    """A convention the handout fixes loses the sgd_momentum_step points, not the training's: the
    learning rate outside the velocity gives the same weights under a constant learning rate."""
    result = graded["lr-outside-velocity"]
    assert _check(result, "test_sgd_momentum_step").score == 0
    assert "handout" in _check(result, "test_sgd_momentum_step").diagnosis


def test_catalogue_holds_at_least_thirty_named_mistakes():
    assert mutants.catalogue_size() >= 30
    names = [n for n, _ in mutants.LOSS_MUTANTS] + [n for n, _ in mutants.sgd_rules()]
    names += list(mutants.TRAIN_MISTAKES.values()) + list(mutants.MLP_FORWARD_MISTAKES.values())
    assert len(set(names)) == len(names)


def test_no_loss_mutant_reproduces_the_reference():
    """Each variant must differ from the reference on a generic problem, or it would name a correct solution."""
    rng = np.random.default_rng(0)
    params = {
        "W1": rng.normal(size=(5, 6)),
        "b1": rng.normal(size=6),
        "W2": rng.normal(size=(6, 3)),
        "b2": rng.normal(size=3),
    }
    X, y, reg = rng.normal(size=(7, 5)), np.array([0, 1, 2, 0, 1, 2, 2]), 0.3
    loss, grads = loss_and_grads(params, X, y, reg)
    for name, fn in mutants.LOSS_MUTANTS:
        m_loss, m_grads = fn(params, X, y, reg)
        same_grads = all(np.allclose(m_grads[k], grads[k], rtol=1e-9, atol=0) for k in PARAM_NAMES)
        assert not (abs(m_loss - loss) < 1e-12 and same_grads), name


def test_momentum_rules_differ_over_several_steps_from_a_nonzero_velocity():
    rng = np.random.default_rng(1)
    p0, v0 = rng.normal(size=4), rng.normal(size=4)
    grads = [rng.normal(size=4) for _ in range(3)]

    def run(rule):
        p, v, out = p0, v0, []
        for g in grads:
            p, v = rule(p, g, v, 0.1, 0.9)
            out.append(np.concatenate([p, v]))
        return np.array(out)

    # The handout's rule, written out here: v = mu*v - lr*g; p = p + v.
    right = run(lambda p, g, v, lr, mu: (p + (mu * v - lr * g), mu * v - lr * g))
    for name, rule in mutants.sgd_rules():
        assert not np.allclose(run(rule), right), name


def test_error_patterns():
    expected = np.array([[0.5, -1.0], [2.0, 0.25]])
    assert "exactly 2 times" in patterns.describe_arrays(2 * expected, expected)
    assert "1/N" in patterns.describe_arrays(expected / 8, expected, n=8)
    assert "float32" in patterns.describe_arrays(expected.astype(np.float32).astype(np.float64) * (1 + 3e-8), expected)
    got = {"W1": expected, "W2": expected, "b1": expected[0] + 1, "b2": expected[1] * 3}
    want = {"W1": expected, "W2": expected, "b1": expected[0], "b2": expected[1]}
    assert "only the bias gradients" in patterns.describe_gradients(got, want, n=4, limit=1e-8)
    probs = np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    off = probs.copy()
    off[[0, 1], [2, 0]] += 0.05
    assert "only the true-class entries" in patterns.describe_probs(off, probs, y=np.array([2, 0]))
    assert "sum to 1" in patterns.describe_probs(off, probs)


def _first_named(loss: float, expected: float, params, X, y, reg) -> str | None:
    """What the loss checks name: the first catalogue entry within 1e-9, else the float32 pattern."""
    for name, fn in mutants.LOSS_MUTANTS:
        if abs(fn(params, X, y, reg)[0] - loss) < 1e-9 * max(1.0, abs(loss)):
            return name
    pattern = patterns.describe_scalar(loss, expected, len(y))
    return mutants.FLOAT32_MISTAKE if pattern and patterns.FLOAT32_WORDS in pattern else None


def test_epsilon_in_the_log_and_float32_are_named_apart():
    """-log(p + 1e-8) shifts the loss by float32-sized amounts: it must be named as the epsilon, while a
    loss computed in float32 (written out here, not taken from the catalogue) is still named float32."""
    rng = np.random.default_rng(3)
    params = {"W1": rng.normal(size=(5, 6)), "b1": rng.normal(size=6), "W2": rng.normal(size=(6, 3))}
    params["b2"] = rng.normal(size=3)
    X, y, reg = rng.normal(size=(7, 5)), np.array([0, 1, 2, 0, 1, 2, 2]), 0.05
    expected, _ = loss_and_grads(params, X, y, reg)
    z3 = np.maximum(X @ params["W1"] + params["b1"], 0) @ params["W2"] + params["b2"]
    p = np.exp(z3 - z3.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    penalty = reg * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2))
    with_epsilon = float(np.mean(-np.log(p[np.arange(7), y] + 1e-8)) + penalty)
    assert "epsilon added inside the log" in _first_named(with_epsilon, expected, params, X, y, reg)
    f32 = {k: v.astype(np.float32) for k, v in params.items()}
    z3 = np.maximum(X.astype(np.float32) @ f32["W1"] + f32["b1"], 0) @ f32["W2"] + f32["b2"]
    p = np.exp(z3 - z3.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    in_float32 = float(np.mean(-np.log(p[np.arange(7), y])) + reg * (np.sum(f32["W1"] ** 2) + np.sum(f32["W2"] ** 2)))
    assert _first_named(in_float32, expected, params, X, y, reg) == mutants.FLOAT32_MISTAKE


def test_train_mlp_history_format():
    """The handout's format for train_mlp's histories, as the values arrive from the worker: Python floats
    (numpy floats arrive as floats) pass; a tensor (an array of shape (1,)) or a count does not."""
    from grader.assignments.hlcv_ex2.test_4_mlp import history_problem

    good = {"loss_history": [0.7, 0.5, 0.4, 0.3], "val_acc_history": [0.5, 1]}
    assert history_problem(good, steps=4, epochs=2) is None
    arrays = {"loss_history": np.array([0.7, 0.5, 0.4, 0.3]), "val_acc_history": np.array([0.5, 1.0])}
    assert history_problem(arrays, steps=4, epochs=2) is None
    acc_tensor = dict(good, val_acc_history=[np.array([0.5], dtype=np.float32), 0.75])
    assert history_problem(acc_tensor, steps=4, epochs=2) is None
    tensors = dict(good, loss_history=[np.array([0.7], dtype=np.float32)] * 4)
    line, name = history_problem(tensors, steps=4, epochs=2)
    assert "loss.item()" in line and "loss.item()" in name
    line, name = history_problem(dict(good, val_acc_history=[12, 14]), steps=4, epochs=2)
    assert "[0, 1]" in line and "count" in name
    line, _ = history_problem(dict(good, loss_history=[0.7, 0.5]), steps=4, epochs=2)
    assert "expected 4" in line
    line, _ = history_problem(dict(good, val_acc_history=[0.5]), steps=4, epochs=2)
    assert "expected a list of 2" in line
