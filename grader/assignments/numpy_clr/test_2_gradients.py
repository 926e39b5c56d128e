"""Analytic gradients (partial credit per parameter) and the centred-difference gradient check."""

from __future__ import annotations

import numpy as np

from grader.pack import CheckFailed, close_relative, hidden, needs, points, title
from reference.numpy_clr import compute_gradients, compute_grads_num_slow, evaluate_classifier
from reference.numpy_clr.problems import TOY_LAM, Problem, toy_problem

from .fixtures import FILE, MODULE, arrays_of, grad_labels, gradient_shapes, matches, name_mistake, shaped
from .mutants import GRADIENT_MUTANTS, NUMERICAL_MUTANTS

pytestmark = needs(FILE)


def grade_gradients(student, check, problem: Problem, lam: float, limit: float) -> list[str]:
    """Call the student's compute_gradients with the reference's H and P (so a forward-pass mistake
    is not counted twice); partial credit per parameter; name the mistake when one matches."""
    H, P = evaluate_classifier(problem.X, *problem.weights)
    args = (problem.X, problem.Y, H, P, problem.W1, problem.W2, lam)
    expected = compute_gradients(*args)
    value, _ = student.call(MODULE, "compute_gradients", *args)
    raw = arrays_of(value, "compute_gradients", 4)
    if not matches(raw, expected, limit):
        name_mistake(check, raw, GRADIENT_MUTANTS, *args)
    shapes = gradient_shapes(problem.W1, problem.W2)
    failures = []
    for label, got, want, shape in zip(grad_labels(), raw, expected, shapes, strict=True):
        if got.shape != shape:
            failures.append(f"{label}: shape {got.shape}, expected {shape}")
            continue
        (got,) = shaped([got], [label], [shape])
        ok, error, where = close_relative(got, want, limit)
        if not ok:
            failures.append(f"{label}: max relative error {error:.1e} at {where} (limit {limit:.0e})")
    check.partial(1 - len(failures) / 4)
    return failures


@points(14)
@title("compute_gradients on the check problem (relative error < 1e-8 per parameter)")
def test_gradients(student, check, toy, settings):
    failures = grade_gradients(student, check, toy, TOY_LAM, settings.grad_tolerance)
    if failures:
        raise CheckFailed("; ".join(failures))


@points(8)
@hidden
@title("compute_gradients on a hidden problem")
def test_hidden_gradients(student, check, hidden_seed, settings):
    rng = np.random.default_rng(hidden_seed)
    n, d, m, k = (int(v) for v in rng.integers((5, 4, 3, 3), (40, 30, 20, 12)))
    lam = float(10 ** rng.uniform(-4, -0.5))
    problem = toy_problem(seed=hidden_seed, n=n, d=d, m=m, k=k)
    failures = grade_gradients(student, check, problem, lam, settings.grad_tolerance)
    if failures:
        raise CheckFailed(f"{len(failures)} of 4 gradients differ from the reference on a hidden problem")


@points(8)
@title("compute_grads_num_slow: centred differences equal the reference's")
def test_numerical_gradients(student, check, settings):
    # Smaller than the check problem: the student's loop makes two cost evaluations per weight.
    problem = toy_problem(seed=7, n=12, d=6, m=8, k=4)
    h = settings.numgrad_h
    args = (problem.X, problem.Y, *problem.weights, TOY_LAM, h)
    expected = compute_grads_num_slow(*args)
    value, _ = student.call(MODULE, "compute_grads_num_slow", *args)
    raw = arrays_of(value, "compute_grads_num_slow", 4)
    got = shaped(raw, grad_labels(), [e.shape for e in expected])
    failures = []
    for label, g, e in zip(grad_labels(), got, expected, strict=True):
        excess = np.abs(g - e) / (settings.numgrad_atol + settings.numgrad_rtol * np.abs(e))
        if not np.all(excess <= 1):
            where = [int(i) for i in np.unravel_index(int(np.argmax(excess)), excess.shape)]
            failures.append(f"{label}: differs from the reference's centred differences at {where}")
    if failures:
        name_mistake(check, got, NUMERICAL_MUTANTS, *args)
        raise CheckFailed(f"with h = {h:g}: " + "; ".join(failures))
