"""SGD with momentum, the training loop's schedule, and prediction."""

from __future__ import annotations

import numpy as np
import pytest

from grader.engine.compare import CheckFailed, as_array, as_dict, describe, require_relative
from grader.pack import StudentException
from reference.hlcv_ex2 import toy
from reference.hlcv_ex2.two_layernet import (
    PARAM_NAMES,
    forward_probs,
    init_params,
    loss_and_grads,
    predict_labels,
    sgd_momentum_step,
    train_params,
)

from .fixtures import NUMPY_FILE, NUMPY_MODULE, diagnose, fresh_problem, random_problem, same, student_net
from .mutants import TRAIN_MISTAKES, sgd_rules, train_params_variant

# Freezable check by check: the toy training check computes its loss from the student's trained weights,
# an argument the student bundle cannot have recorded, so only the instructor's grader runs it.
pytestmark = pytest.mark.needs(NUMPY_FILE)

HISTORY_LIMIT = 1e-8


def call_train(check, net, X: np.ndarray, y: np.ndarray, **kwargs) -> tuple:
    """``net.train(X, y, X, y, **kwargs)``. When it raises, and the submission's predict (which the
    handout's given train calls for its accuracies) does not return one label per row, say so: the
    error then comes from predict, not from the training loop."""
    try:
        return net.call("train", X, y, X, y, **kwargs)
    except StudentException:
        _hint_predict(check, net, X)
        raise


def _hint_predict(check, net, X: np.ndarray) -> None:
    try:
        labels, _ = net.call("predict", X)
    except StudentException:
        return
    if not (type(labels) is np.ndarray and labels.shape == (len(X),)):
        got = f"shape {labels.shape}" if type(labels) is np.ndarray else describe(labels)
        check.note(
            f"train() calls your predict() in its given accuracy lines, and predict(X) returns {got} for "
            f"{len(X)} samples instead of one label per row: fix predict (see the predict check)"
        )


def _read_step(extras: dict, shapes: dict) -> tuple[dict, dict]:
    """Params and velocity as the worker returns them after the call (the dicts the function updated)."""
    after = extras.get("args")
    if type(after) is not list or len(after) != 5:
        raise CheckFailed("could not read the arguments back after sgd_momentum_step")
    got_p = as_dict(after[0], "params", list(PARAM_NAMES))
    got_v = as_dict(after[2], "velocity", list(PARAM_NAMES))
    return (
        {k: as_array(got_p[k], f"params['{k}']", shapes[k]) for k in PARAM_NAMES},
        {k: as_array(got_v[k], f"velocity['{k}']", shapes[k]) for k in PARAM_NAMES},
    )


def _replay(rule, start_p, start_v, all_grads, lr, mu) -> list[tuple[dict, dict]]:
    """Every step's (params, velocity) of an update ``rule`` from the same start and gradients."""
    p, v, out = dict(start_p), dict(start_v), []
    for grads in all_grads:
        after = {k: rule(p[k], grads[k], v[k], lr, mu) for k in PARAM_NAMES}
        p, v = {k: a[0] for k, a in after.items()}, {k: a[1] for k, a in after.items()}
        out.append((p, v))
    return out


def _reference_rule(p, g, v, lr, mu):
    params, velocity = {"k": p.copy()}, {"k": v.copy()}
    sgd_momentum_step(params, {"k": g}, velocity, lr, mu)
    return params["k"], velocity["k"]


def _same_steps(got: list[tuple[dict, dict]], want: list[tuple[dict, dict]], limit: float) -> tuple[bool, bool]:
    """(params agree at every step, velocity agrees at every step)."""
    params = all(same(g[0][k], w[0][k], limit) for g, w in zip(got, want, strict=False) for k in PARAM_NAMES)
    velocity = all(same(g[1][k], w[1][k], limit) for g, w in zip(got, want, strict=False) for k in PARAM_NAMES)
    return params, velocity


@pytest.mark.freezable
@pytest.mark.points(6)
@pytest.mark.title("sgd_momentum_step over several steps")
def test_sgd_momentum_step(student, check):
    rng = np.random.default_rng(3)
    shapes = {"W1": (3, 4), "b1": (4,), "W2": (4, 2), "b2": (2,)}
    start_p = {k: rng.normal(size=s) for k, s in shapes.items()}
    # A non-zero starting velocity: from zero, one step of several wrong rules coincides with the right one.
    start_v = {k: rng.normal(0, 0.1, size=s) for k, s in shapes.items()}
    lr, mu = 0.1, 0.9
    all_grads = [{k: rng.normal(size=s) for k, s in shapes.items()} for _ in range(4)]
    got: list[tuple[dict, dict]] = []
    params, velocity = start_p, start_v
    for step, grads in enumerate(all_grads, start=1):
        _, extras = student.call(NUMPY_MODULE, "sgd_momentum_step", params, grads, velocity, lr, mu, return_args=True)
        got_p, got_v = _read_step(extras, shapes)
        if all(same(got_p[k], params[k], 1e-15) for k in PARAM_NAMES):
            raise CheckFailed(f"step {step}: params were not updated in place (assign into the dict)")
        got.append((got_p, got_v))
        params, velocity = got_p, got_v
    expected = _replay(_reference_rule, start_p, start_v, all_grads, lr, mu)
    params_ok, velocity_ok = _same_steps(got, expected, 1e-10)
    if params_ok and velocity_ok:
        return
    matches = [
        (name, all(_same_steps(got, _replay(rule, start_p, start_v, all_grads, lr, mu), 1e-8)))
        for name, rule in sgd_rules()
    ]
    diagnose(check, matches)
    for step, ((got_p, got_v), (exp_p, exp_v)) in enumerate(zip(got, expected, strict=True), start=1):
        for key in PARAM_NAMES:
            require_relative(f"step {step}: params['{key}']", got_p[key], exp_p[key], 1e-10)
        for key in PARAM_NAMES:
            if not same(got_v[key], exp_v[key], 1e-10):
                check.note("the handout fixes the velocity: v = momentum * v - learning_rate * g, then p = p + v")
                require_relative(f"step {step}: velocity['{key}']", got_v[key], exp_v[key], 1e-10)


TRAIN_SETTINGS = {
    "learning_rate": 0.05,
    "learning_rate_decay": 0.9,
    "reg": 1e-3,
    "num_iters": 25,
    "batch_size": 20,
    "momentum": 0.9,
}


def _trained_params(net, shapes: dict) -> dict:
    """The weights the submission's network holds after training (read back from the worker)."""
    params = as_dict(net.get("params"), "self.params after train()", list(PARAM_NAMES))
    return {k: as_array(params[k], f"params['{k}'] after train()", shapes[k]) for k in PARAM_NAMES}


@pytest.mark.freezable
@pytest.mark.points(10)
@pytest.mark.title("train: the trained weights equal the reference's under the same seed")
def test_loss_history(student, check):
    """Scores the weights train() leaves, not the history it reports: a correct loop under the same seed
    and start ends exactly where the reference does."""
    _, X, y = random_problem(21, n=120, d=10, h=8, c=3)
    np.random.seed(4)
    params = init_params(10, 8, 3, std=0.1)
    start = {k: v.copy() for k, v in params.items()}
    shapes = {k: v.shape for k, v in start.items()}
    # Start from weights the grader sets, so a wrong initialisation is not counted twice.
    net = student_net(student, start)
    np.random.seed(5)
    expected = train_params(params, X, y, X, y, **TRAIN_SETTINGS)["loss_history"]
    stats, _ = call_train(check, net, X, y, seed=5, **TRAIN_SETTINGS)
    as_dict(stats, "train(...) result", ["loss_history", "train_acc_history", "val_acc_history"])
    got = _trained_params(net, shapes)
    if all(same(got[k], params[k], HISTORY_LIMIT) for k in PARAM_NAMES):
        return
    matches = []
    for key, description in TRAIN_MISTAKES.items():
        np.random.seed(5)
        mutant = train_params_variant(start, X, y, mistake=key, **TRAIN_SETTINGS)
        matches.append((description, all(same(got[k], mutant[k], 1e-6) for k in PARAM_NAMES)))
    diagnose(check, matches)
    history = stats.get("loss_history")
    if type(history) is list and history and type(history[0]) is float and abs(history[0] - expected[0]) > 1e-8:
        check.note("the very first loss already differs: check loss() and the minibatch sampling line")
    for key in PARAM_NAMES:
        require_relative(f"params['{key}'] after 25 iterations", got[key], params[key], HISTORY_LIMIT)


@pytest.mark.points(5)
@pytest.mark.title("Toy problem: training reaches a final loss <= 0.02")
def test_toy_training(student, check, toy_xy, hidden_seed):
    """The final loss is recomputed by the grader from the trained weights; the same train() must also
    follow the reference on a fresh problem drawn from ``hidden_seed``."""
    X, y = toy_xy
    net = student.new(NUMPY_MODULE, "TwoLayerNet", 4, 10, 3, std=0.1, seed=0)
    call_train(check, net, X, y, seed=1, **toy.TOY_TRAIN_KWARGS)
    shapes = {"W1": (4, 10), "b1": (10,), "W2": (10, 3), "b2": (3,)}
    final, _ = loss_and_grads(_trained_params(net, shapes), X, y, toy.TOY_TRAIN_KWARGS["reg"])
    if not final <= toy.TRAIN_LOSS_MAX:
        raise CheckFailed(
            f"final training loss {final:.4f} (computed from the trained weights), must be <= {toy.TRAIN_LOSS_MAX}"
        )
    params, fx, fy, _ = fresh_problem(hidden_seed, 4)
    fresh = student_net(student, params)
    call_train(check, fresh, fx, fy, seed=2, **FRESH_TRAIN)
    np.random.seed(2)
    expected = {k: v.copy() for k, v in params.items()}
    train_params(expected, fx, fy, fx, fy, **FRESH_TRAIN)
    got = _trained_params(fresh, {k: v.shape for k, v in params.items()})
    if not all(same(got[k], expected[k], HISTORY_LIMIT) for k in PARAM_NAMES):
        raise CheckFailed("the toy training converges, but train() on fresh inputs does not follow the reference")


#: A short run on the fresh problem of the toy training check.
FRESH_TRAIN = {"learning_rate": 0.1, "learning_rate_decay": 0.95, "reg": 1e-3, "num_iters": 6, "batch_size": 4}


@pytest.mark.freezable
@pytest.mark.points(4)
@pytest.mark.title("predict returns the most probable class")
def test_predict(student, check):
    params, X, _ = random_problem(31, n=50, d=7, h=6, c=5)
    net = student_net(student, params)
    labels, _ = net.call("predict", X)
    if type(labels) is np.ndarray and labels.shape == (50,) and labels.dtype.kind == "f":
        if np.array_equal(labels, predict_labels(params, X)):
            check.diagnose("predict returns float labels: return integers (argmax gives int64)")
    if type(labels) is np.ndarray and labels.shape == (50, 5):
        check.diagnose("predict returns the probabilities: return the argmax over axis 1")
    if type(labels) is np.ndarray and labels.shape == (5,):
        if np.array_equal(labels, np.argmax(forward_probs(params, X), axis=0)):
            check.diagnose("predict takes the argmax over axis 0 (one per class): take it over axis 1, one per sample")
    labels = as_array(labels, "predict(X)", (50,), kinds="iu")
    expected = predict_labels(params, X)
    wrong = int((labels != expected).sum())
    if wrong:
        probs = forward_probs(params, X)
        if np.array_equal(labels, np.argmin(probs, axis=1)):
            check.diagnose("predict takes the argmin: the predicted class is the argmax of the probabilities")
        raise CheckFailed(f"predict(X): {wrong} of 50 labels differ from argmax of the probabilities")
