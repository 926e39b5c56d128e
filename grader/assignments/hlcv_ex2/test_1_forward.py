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
    fresh_problem,
    loss_and_grads_of,
    loss_and_grads_reply,
    name_or_describe,
    random_problem,
    same,
    student_net,
)
from .mutants import LOSS_MUTANTS, forward_mutants
from .patterns import describe_probs, describe_scalar

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


def _probs_mistakes(params, X, probs) -> list[tuple[str, bool]]:
    return [
        (name, probs.shape == fn(params, X).shape and same(probs, fn(params, X), 1e-6))
        for name, fn in forward_mutants()
    ]


def _fresh_probs_ok(student, check, hidden_seed) -> bool:
    """The same forward pass on fresh inputs drawn from ``hidden_seed`` (no toy answer can pass it)."""
    params, X, _, _ = fresh_problem(hidden_seed, 1)
    probs = as_array(
        student_net(student, params).call("loss", X)[0], "loss(X) on fresh inputs", (len(X), params["b2"].size)
    )
    expected = forward_probs(params, X)
    # The handout's own measure and limit, so the fresh inputs are no stricter than the toy problem.
    if float(np.abs(probs - expected).sum()) < toy.PROBS_TOLERANCE:
        return True
    name_or_describe(check, _probs_mistakes(params, X, probs), describe_probs(probs, expected))
    return False


@pytest.mark.points(7)
@pytest.mark.title("Toy problem: class probabilities")
def test_toy_probabilities(student, check, toy_params, toy_xy, hidden_seed):
    X, y = toy_xy
    net = student_net(student, toy_params)
    probs, _ = net.call("loss", X)
    probs = as_array(probs, "loss(X) (the probabilities)", (5, 3))
    difference = float(np.abs(probs - toy.TOY_PROBS).sum())
    if not difference < toy.PROBS_TOLERANCE:
        expected = forward_probs(toy_params, X)
        name_or_describe(check, _probs_mistakes(toy_params, X, probs), describe_probs(probs, expected, y))
        raise CheckFailed(
            f"probabilities: sum of absolute differences {difference:.1e} (limit {toy.PROBS_TOLERANCE:.0e})"
        )
    if not _fresh_probs_ok(student, check, hidden_seed):
        raise CheckFailed("the toy probabilities match, but loss(X) on fresh inputs does not: it must compute them")


def _loss_mistakes(params, X, y, reg, loss) -> list[tuple[str, bool]]:
    return [(name, abs(fn(params, X, y, reg)[0] - loss) < 1e-9 * max(1.0, abs(loss))) for name, fn in LOSS_MUTANTS]


@pytest.mark.points(6)
@pytest.mark.title("Toy problem: loss 1.30378789133 with reg=0.05")
def test_toy_loss(student, check, toy_params, toy_xy, hidden_seed):
    X, y = toy_xy
    net = student_net(student, toy_params)
    loss, _ = loss_and_grads_of(net, X, y, toy.TOY_REG, toy_params)
    if not abs(loss - toy.TOY_LOSS) < toy.LOSS_TOLERANCE:
        name_or_describe(
            check, _loss_mistakes(toy_params, X, y, toy.TOY_REG, loss), describe_scalar(loss, toy.TOY_LOSS, len(y))
        )
    require_close("loss", loss, toy.TOY_LOSS, toy.LOSS_TOLERANCE)
    params, X, y, reg = fresh_problem(hidden_seed, 2)
    loss, _ = loss_and_grads_of(student_net(student, params), X, y, reg, params)
    expected, _ = loss_and_grads(params, X, y, reg)
    if not abs(loss - expected) < 1e-10 * max(1.0, abs(expected)):
        name_or_describe(check, _loss_mistakes(params, X, y, reg, loss), describe_scalar(loss, expected, len(y)))
        raise CheckFailed("the toy loss matches, but the loss on fresh inputs does not: loss() must compute it")


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
            if check.diagnosis is None:
                name_or_describe(
                    check, _loss_mistakes(params, X, y, reg, loss), describe_scalar(loss, expected, len(y))
                )
    if not any(f.startswith("data loss") for f in failures):
        # The handout's signature is loss(X, y=None, reg=0.0): without reg, the data loss alone.
        expected, _ = loss_and_grads(params, X, y, 0.0)
        value, _ = net.call("loss", X, y=y)
        loss, _ = loss_and_grads_reply(value, params)
        if not abs(loss - expected) < 1e-10:
            failures.append(
                f"loss(X, y) without reg: got {loss:.10f}, expected the data loss {expected:.10f} "
                "(the handout's default is reg=0.0)"
            )
            if check.diagnosis is None:
                check.diagnose("loss() has a non-zero default reg: the handout's signature is loss(X, y=None, reg=0.0)")
    check.partial(1 - len(failures) / 2)
    if failures:
        raise CheckFailed("; ".join(failures))


def _rows_are_probabilities(probs: np.ndarray) -> bool:
    return bool((probs >= 0).all() and np.allclose(probs.sum(axis=1), 1, atol=1e-6))


@pytest.mark.points(4)
@pytest.mark.title("Forward pass is vectorised (no Python loop over samples)")
def test_vectorised_forward(student, check):
    """Fails for a loop over samples only; whether the numbers are right is the other checks' business. It
    still needs a forward pass: rows of probabilities that depend on the input, the same for a row
    whether it comes in a batch of 8 or of 256."""
    counts, outputs = {}, {}
    params, X, _ = random_problem(5, n=256, d=12, h=9, c=5)
    for n in (8, 256):
        net = student_net(student, params)
        probs, extras = net.call("loss", X[:n], count_lines=True)
        probs = as_array(probs, f"loss(X) for {n} samples", (n, 5))
        lines = extras.get("lines")
        if type(lines) is not int:
            raise CheckFailed("could not measure the forward pass")
        counts[n], outputs[n] = lines, probs
    # A vectorised pass runs the same lines for 8 or 256 samples; a loop runs ~32x more.
    if not counts[256] <= 2 * counts[8] + 10:
        check.diagnose("forward pass loops over samples in Python (not vectorised)")
        raise CheckFailed(
            f"loss(X) ran {counts[8]} lines of your code for 8 samples but {counts[256]} for 256: "
            "loop over samples in Python; use matrix operations on the whole batch"
        )
    # Loose on purpose: float32 code may round a row differently in a larger batch.
    consistent = np.allclose(outputs[256][:8], outputs[8], rtol=1e-4, atol=1e-6)
    if not (_rows_are_probabilities(outputs[256]) and consistent):
        raise CheckFailed("loss(X) must return one row of probabilities per sample, whatever the batch size")
    if np.allclose(outputs[256], outputs[256][0]):
        raise CheckFailed("loss(X) returns the same probabilities for every sample: it must depend on X")
    if not same(outputs[256], forward_probs(params, X), 1e-8):
        check.note("vectorised; the probabilities differ from the reference (see the probability checks)")


#: Added to every class score in the loss part of the stable-softmax check: exp() of the raw scores
#: overflows (exp(1000) = inf), while the scores of a row stay a few units apart, so every p[i, y_i] is
#: far from underflowing and the handout's -log p[i, y_i] is finite.
SCORE_OFFSET = 1e3
#: Relative error allowed on that loss: stability is checked here, precision by the toy loss checks.
STABLE_LOSS_LIMIT = 1e-8


@pytest.mark.points(4)
@pytest.mark.title("Softmax and loss are numerically stable on huge scores")
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
        name_or_describe(check, _probs_mistakes(params, X, probs), describe_probs(probs, expected))
        raise CheckFailed(f"probabilities on large scores: sum of absolute differences {difference:.1e} (limit 1e-07)")
    _stable_loss(student, check)


def _stable_loss(student, check) -> None:
    """loss(X, y, reg) where every score is about SCORE_OFFSET must be finite and, when the loss is right
    on the same problem without the offset, the reference's. A loss wrong on ordinary scores too is
    left to the loss checks (it is not a matter of stability), so it does not cost these points twice."""
    params, X, y = random_problem(8, n=7, d=5, h=6, c=4)
    huge = dict(params, b2=params["b2"] + SCORE_OFFSET)
    reg = 0.05
    expected, _ = loss_and_grads(huge, X, y, reg)
    value, _ = student_net(student, huge).call("loss", X, y=y, reg=reg)
    loss = value[0] if type(value) is list and len(value) == 2 else None
    if type(loss) is np.ndarray and loss.size == 1 and loss.dtype.kind == "f":
        loss = float(loss.item())
    if type(loss) is float and not np.isfinite(loss):
        check.diagnose(
            "loss computed from the raw scores (log(sum(exp(z3))) overflows): take -log p[i, y_i] of the "
            "stable probabilities, or log-sum-exp of the row-max-shifted scores"
        )
        raise CheckFailed(
            f"loss(X, y) is {loss} for scores around 1e3 (expected {expected:.10f}): compute it from the "
            "shifted scores, not exp(z3)"
        )
    loss, _ = loss_and_grads_reply(value, huge)
    if _loss_close(loss, expected):
        return
    ordinary, _ = loss_and_grads_of(student_net(student, params), X, y, reg, params)
    if _loss_close(ordinary, loss_and_grads(params, X, y, reg)[0]):
        raise CheckFailed(
            f"loss(X, y) for scores around 1e3: got {loss:.10f}, expected {expected:.10f}, though it is right "
            "for the same scores 1e3 lower: compute it from the row-max-shifted scores"
        )
    check.note("the loss is finite on huge scores; its value is wrong on ordinary scores too (see the loss checks)")


def _loss_close(loss: float, expected: float) -> bool:
    return abs(loss - expected) < STABLE_LOSS_LIMIT * max(1.0, abs(expected))
