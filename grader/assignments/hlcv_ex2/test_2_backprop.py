"""Backpropagation: analytic gradients against the reference, with partial credit per parameter."""

from __future__ import annotations

import numpy as np
import pytest

from grader.engine.compare import CheckFailed, as_float, close_relative, worst
from reference.gradcheck import numerical_gradient
from reference.hlcv_ex2 import toy
from reference.hlcv_ex2.two_layernet import PARAM_NAMES, loss_and_grads

from .fixtures import (
    NUMPY_FILE,
    diagnose,
    fresh_problem,
    loss_and_grads_of,
    note_pattern,
    random_problem,
    same,
    student_net,
)
from .mutants import LOSS_MUTANTS
from .patterns import describe_gradients

pytestmark = pytest.mark.needs(NUMPY_FILE)

GRAD_LIMIT = toy.GRAD_TOLERANCE


def name_gradient_mistake(check, params, X, y, reg, loss, grads) -> None:
    """Name the catalogue mistake the gradients match (loss too, first), else describe the error pattern."""
    # A variant whose loss matches too is the better explanation: a 0.5*reg convention and a
    # missing factor 2 in the gradient give the same gradients but different losses.
    _, expected = loss_and_grads(params, X, y, reg)
    both, grads_only = [], []
    for name, fn in LOSS_MUTANTS:
        mutant_loss, mutant = fn(params, X, y, reg)
        if all(same(mutant[k], expected[k], 1e-6) for k in PARAM_NAMES):
            continue  # a mistake of the loss alone: it cannot explain wrong gradients
        grads_match = all(same(grads[k], mutant[k], 1e-6) for k in PARAM_NAMES)
        both.append((name, grads_match and abs(loss - mutant_loss) <= 1e-6 * max(1.0, abs(mutant_loss))))
        grads_only.append((name, grads_match))
    if diagnose(check, both) or diagnose(check, grads_only):
        return
    pattern = describe_gradients(grads, expected, len(y), GRAD_LIMIT)
    if pattern:
        note_pattern(check, pattern)


def wrong_gradients(check, net, params, X, y, reg) -> list[str]:
    """The parameters whose gradient misses the reference (naming the mistake when one is recognised)."""
    _, expected = loss_and_grads(params, X, y, reg)
    loss, grads = loss_and_grads_of(net, X, y, reg, params)
    wrong = [k for k in PARAM_NAMES if not close_relative(grads[k], expected[k], GRAD_LIMIT)[0]]
    if wrong and check.diagnosis is None:
        name_gradient_mistake(check, params, X, y, reg, loss, grads)
    return wrong


def grade_gradients(check, net, params, X, y, reg) -> list[str]:
    """Compare each gradient with the reference; partial credit per parameter; diagnose mistakes."""
    _, expected = loss_and_grads(params, X, y, reg)
    loss, grads = loss_and_grads_of(net, X, y, reg, params)
    failures = []
    for key in PARAM_NAMES:
        ok, error, where = close_relative(grads[key], expected[key], GRAD_LIMIT)
        if not ok:
            failures.append(f"d{key}: max relative error {error:.1e} at {where} (limit {GRAD_LIMIT:.0e})")
    check.partial((len(PARAM_NAMES) - len(failures)) / len(PARAM_NAMES))
    if failures:
        name_gradient_mistake(check, params, X, y, reg, loss, grads)
    return failures


def own_consistency(net, params, X, y, reg, grads_key_order=PARAM_NAMES) -> str:
    """How well the student's analytic gradients match centred differences of the student's own loss.

    Feedback only: it separates a wrong gradient of a right loss from a consistent but wrong loss.
    """
    student_params = {k: v.copy() for k, v in params.items()}

    def loss_at(key: str):
        def f(_: np.ndarray) -> float:
            net.set("params", key, value=student_params[key])
            value, _ = net.call("loss", X, y=y, reg=reg)
            return as_float(value[0] if type(value) is list and value else value, "loss")

        return f

    _, analytic = loss_and_grads_of(net, X, y, reg, params)
    parts = []
    for key in grads_key_order:
        numeric = numerical_gradient(loss_at(key), student_params[key], h=1e-5)
        net.set("params", key, value=params[key].copy())
        error, _ = worst(np.abs(analytic[key] - numeric) / np.maximum(1e-8, np.abs(analytic[key]) + np.abs(numeric)))
        parts.append(f"{key} {error:.1e}")
    return "your analytic gradients vs. centred differences of your own loss (h=1e-5): " + ", ".join(parts)


@pytest.mark.points(12)
@pytest.mark.freezable
@pytest.mark.title("Toy problem: gradients of W1, b1, W2, b2 (relative error < 1e-8)")
def test_toy_gradients(student, check, toy_params, toy_xy, hidden_seed):
    X, y = toy_xy
    net = student_net(student, toy_params)
    failures = grade_gradients(check, net, toy_params, X, y, toy.TOY_REG)
    # A parameter earns its share only if its gradient is also right on fresh inputs: returning the
    # toy answers must earn nothing.
    params, fx, fy, freg = fresh_problem(hidden_seed, 3)
    fresh_wrong = wrong_gradients(check, student_net(student, params), params, fx, fy, freg)
    if fresh_wrong:
        right = len(PARAM_NAMES) - len(failures)
        toy_right = [k for k in PARAM_NAMES if not any(f.startswith(f"d{k}:") for f in failures)]
        credited = [k for k in toy_right if k not in fresh_wrong]
        check.partial(len(credited) / len(PARAM_NAMES))
        if right and len(credited) < right:
            failures.append(
                "gradient(s) of "
                + ", ".join(k for k in toy_right if k in fresh_wrong)
                + " right on the toy problem but wrong on fresh inputs"
            )
    if failures:
        try:
            check.note(own_consistency(net, toy_params, X, y, toy.TOY_REG))
        except CheckFailed:
            pass
        raise CheckFailed("; ".join(failures))


@pytest.mark.points(8)
@pytest.mark.hidden
@pytest.mark.title("Gradients on hidden inputs")
def test_hidden_gradients(student, check, hidden_seed):
    rng = np.random.default_rng(hidden_seed)
    n, d, h, c = (int(v) for v in rng.integers(3, 9, 4))
    reg = float(rng.uniform(0.01, 0.5))
    params, X, y = random_problem(hidden_seed, n=n + c, d=d, h=h, c=c)
    net = student_net(student, params)
    failures = grade_gradients(check, net, params, X, y, reg)
    if failures:
        raise CheckFailed(f"{len(failures)} of 4 gradients differ from the reference on hidden inputs")
