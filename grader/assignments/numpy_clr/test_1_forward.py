"""Forward pass, cost and loss, and accuracy against the reference on the handout's check problem."""

from __future__ import annotations

import numpy as np

from grader.pack import CheckFailed, as_float, close_relative, needs, points, title
from reference.numpy_clr import compute_accuracy, compute_cost, evaluate_classifier, init_weights
from reference.numpy_clr.problems import TOY_LAM, class_templates, toy_problem

from .fixtures import FILE, MODULE, arrays_of, matches, name_mistake, shaped
from .mutants import COST_MUTANTS, FORWARD_MUTANTS

pytestmark = needs(FILE)

#: Forward pass and cost are deterministic sums of a few hundred terms: agreement to 1e-10 relative.
VALUE_LIMIT = 1e-10


@points(6)
@title("evaluate_classifier: H (m x n) and P (K x n) on the check problem")
def test_evaluate_classifier(student, check, toy):
    expected = evaluate_classifier(toy.X, *toy.weights)
    value, _ = student.call(MODULE, "evaluate_classifier", toy.X, *toy.weights)
    raw = arrays_of(value, "evaluate_classifier", 2)
    if not matches(raw, expected, VALUE_LIMIT):
        name_mistake(check, raw, FORWARD_MUTANTS, toy.X, *toy.weights)
    H, P = shaped(raw, ["H", "P"], [e.shape for e in expected])
    failures = []
    for label, got, want in (("H", H, expected[0]), ("P", P, expected[1])):
        ok, error, where = close_relative(got, want, VALUE_LIMIT)
        if not ok:
            failures.append(f"{label}: max relative error {error:.1e} at {where}")
    check.partial(1 - len(failures) / 2)
    if failures:
        raise CheckFailed("; ".join(failures))


@points(6)
@title("compute_cost: cost and loss on the check problem (lam = 0.01 and 0) and on a second problem")
def test_compute_cost(student, check, toy):
    # A second problem and a second lam, so that values copied from the handout earn nothing.
    cases = [(toy, TOY_LAM), (toy, 0.0), (toy_problem(seed=3, n=30, d=12, m=20), 0.1)]
    wrong = {"cost": [], "loss": []}
    first = None
    for problem, lam in cases:
        value, _ = student.call(MODULE, "compute_cost", problem.X, problem.Y, *problem.weights, lam)
        if type(value) is not list or len(value) != 2:
            raise CheckFailed("compute_cost must return a tuple (cost, loss)")
        got = (as_float(value[0], "cost"), as_float(value[1], "loss"))
        first = first or got
        expected = compute_cost(problem.X, problem.Y, *problem.weights, lam)
        for label, g, e in zip(("cost", "loss"), got, expected, strict=True):
            if not abs(g - e) <= VALUE_LIMIT * abs(e):
                wrong[label].append(f"{label} at lam={lam}: got {g:.11f}, expected {e:.11f}")
    failures = wrong["cost"] + wrong["loss"]
    # Half the points each for a cost and a loss right on every case.
    check.partial(sum(not v for v in wrong.values()) / 2)
    if failures:
        for name, mutant in COST_MUTANTS:
            if np.allclose(first, mutant(toy.X, toy.Y, toy.weights, TOY_LAM), rtol=1e-8, atol=0):
                check.diagnose(name)
                break
        raise CheckFailed("; ".join(failures))


@points(4)
@title("compute_accuracy on 200 images")
def test_compute_accuracy(student, check):
    X, y = class_templates(seed=5, n=200, d=10)
    weights = init_weights(10, 50, 10, seed=6)
    expected = compute_accuracy(X, y, *weights)
    value, _ = student.call(MODULE, "compute_accuracy", X, y, *weights)
    got = as_float(value, "compute_accuracy(...)")
    if not abs(got - expected) < 1e-12:
        if abs(got - expected * 100) < 1e-9:
            raise CheckFailed(f"accuracy {got} is a percentage: return the fraction ({expected})")
        raise CheckFailed(f"accuracy {got}, expected {expected} (the fraction of columns whose argmax is the label)")
