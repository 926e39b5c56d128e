"""Forward pass, softmax and loss of the numpy two-layer network."""

from __future__ import annotations

import numpy as np
import pytest

from grader.engine.compare import CheckFailed, as_array, require_close
from reference.hlcv_ex2 import toy
from reference.hlcv_ex2.two_layernet import PARAM_NAMES, forward_probs, init_params, loss_and_grads

from .fixtures import (
    NUMPY_FILE,
    NUMPY_MODULE,
    diagnose,
    loss_and_grads_of,
    random_problem,
    same,
    student_net,
)
from .mutants import LOSS_MUTANTS

# Every check here runs on fixed inputs: the student bundle ships them with frozen expected values.
pytestmark = [pytest.mark.needs(NUMPY_FILE), pytest.mark.freezable]


# The constructor is given in the handout, so this check earns nothing: it is there to tell a student
# who changed it why every later comparison is off, and an untouched handout scores 0.
@pytest.mark.points(0)
@pytest.mark.title("Initialisation: seeded weights and zero biases")
def test_initialisation(student, check):
    net = student.new(NUMPY_MODULE, "TwoLayerNet", 4, 10, 3, std=0.1, seed=0)
    np.random.seed(0)
    expected = init_params(4, 10, 3, std=0.1)
    params = net.get("params")
    if type(params) is not dict:
        raise CheckFailed("self.params must be a dict with keys W1, b1, W2, b2")
    for key in PARAM_NAMES:
        got = as_array(params.get(key), f"params['{key}']", expected[key].shape)
        if not same(got, expected[key], 1e-12):
            raise CheckFailed(
                f"params['{key}'] differs from the expected initialisation under seed 0: weights are "
                "std * np.random.randn(...), W1 drawn before W2, biases zeros"
            )


@pytest.mark.points(7)
@pytest.mark.title("Toy problem: class probabilities")
def test_toy_probabilities(student, check, toy_params, toy_xy):
    X, _ = toy_xy
    net = student_net(student, toy_params)
    probs, _ = net.call("loss", X)
    probs = as_array(probs, "loss(X) (the probabilities)", (5, 3))
    difference = float(np.abs(probs - toy.TOY_PROBS).sum())
    if not difference < toy.PROBS_TOLERANCE:
        if not np.allclose(probs.sum(axis=1), 1):
            check.diagnose("probabilities do not sum to 1 per row: apply softmax row-wise (axis=1)")
        raise CheckFailed(
            f"probabilities: sum of absolute differences {difference:.1e} (limit {toy.PROBS_TOLERANCE:.0e})"
        )


@pytest.mark.points(6)
@pytest.mark.title("Toy problem: loss 1.30378789133 with reg=0.05")
def test_toy_loss(student, check, toy_params, toy_xy):
    X, y = toy_xy
    net = student_net(student, toy_params)
    loss, _ = loss_and_grads_of(net, X, y, toy.TOY_REG, toy_params)
    if not abs(loss - toy.TOY_LOSS) < toy.LOSS_TOLERANCE:
        diagnose(
            check,
            [(name, abs(fn(toy_params, X, y, toy.TOY_REG)[0] - loss) < 1e-9) for name, fn in LOSS_MUTANTS],
        )
    require_close("loss", loss, toy.TOY_LOSS, toy.LOSS_TOLERANCE)


@pytest.mark.points(4)
@pytest.mark.title("Loss: data term and regulariser checked apart")
def test_loss_data_term_and_regulariser(student, check):
    params, X, y = random_problem(11, n=9, d=6, h=7, c=4)
    net = student_net(student, params)
    failures = []
    for reg in (0.0, 0.7):
        expected, _ = loss_and_grads(params, X, y, reg)
        loss, _ = loss_and_grads_of(net, X, y, reg, params)
        if not abs(loss - expected) < 1e-10:
            part = "data loss (reg=0)" if reg == 0 else "regularisation term (reg=0.7)"
            failures.append(f"{part}: got {loss:.10f}, expected {expected:.10f}")
            diagnose(check, [(n, abs(fn(params, X, y, reg)[0] - loss) < 1e-9) for n, fn in LOSS_MUTANTS])
    check.partial(1 - len(failures) / 2)
    if failures:
        raise CheckFailed("; ".join(failures))


@pytest.mark.points(4)
@pytest.mark.title("Forward pass is vectorised (no Python loop over samples)")
def test_vectorised_forward(student, check):
    counts = {}
    for n in (8, 256):
        params, X, _ = random_problem(5, n=n, d=12, h=9, c=5)
        net = student_net(student, params)
        probs, extras = net.call("loss", X, count_lines=True)
        probs = as_array(probs, f"loss(X) for {n} samples", (n, 5))
        if not same(probs, forward_probs(params, X), 1e-8):
            raise CheckFailed(f"loss(X) for {n} samples: probabilities differ from the reference")
        lines = extras.get("lines")
        if type(lines) is not int:
            raise CheckFailed("could not measure the forward pass")
        counts[n] = lines
    # A vectorised pass runs the same lines for 8 or 256 samples; a loop runs ~32x more.
    if not counts[256] <= 2 * counts[8] + 10:
        check.diagnose("forward pass loops over samples in Python (not vectorised)")
        raise CheckFailed(
            f"loss(X) ran {counts[8]} lines of your code for 8 samples but {counts[256]} for 256: "
            "loop over samples in Python; use matrix operations on the whole batch"
        )


@pytest.mark.points(4)
@pytest.mark.title("Softmax is numerically stable on huge scores")
def test_stable_softmax(student, check):
    params, X, y = random_problem(7, n=6, d=5, h=8, c=3, scale=1.0)
    X = X * 1e3  # scores in the thousands: exp() overflows unless the row max is subtracted
    net = student_net(student, params)
    probs, _ = net.call("loss", X)
    expected = forward_probs(params, X)
    if type(probs) is np.ndarray and probs.shape == (6, 3) and not np.isfinite(probs).all():
        check.diagnose("softmax without subtracting the row max: overflows on large scores")
        raise CheckFailed("probabilities are not finite for scores around 1e3: subtract each row's max first")
    probs = as_array(probs, "loss(X) on large scores", (6, 3))
    difference = float(np.abs(probs - expected).sum())
    if not difference < 1e-7:
        raise CheckFailed(f"probabilities on large scores: sum of absolute differences {difference:.1e} (limit 1e-07)")
