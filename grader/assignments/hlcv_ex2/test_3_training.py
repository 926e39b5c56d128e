"""SGD with momentum, the training loop's schedule, and prediction."""

from __future__ import annotations

import numpy as np
import pytest

from grader.engine.compare import CheckFailed, as_array, as_dict, as_float, require_relative
from reference.hlcv_ex2 import toy
from reference.hlcv_ex2.two_layernet import PARAM_NAMES, init_params, predict_labels, sgd_momentum_step, train_params

from .fixtures import NUMPY_FILE, NUMPY_MODULE, diagnose, random_problem, same, student_net
from .mutants import TRAIN_MISTAKES, sgd_mutants, train_loss_history

# Every check here runs on fixed inputs: the student bundle ships them with frozen expected values.
pytestmark = [pytest.mark.needs(NUMPY_FILE), pytest.mark.freezable]

HISTORY_LIMIT = 1e-8


@pytest.mark.points(6)
@pytest.mark.title("sgd_momentum_step over several steps")
def test_sgd_momentum_step(student, check):
    rng = np.random.default_rng(3)
    params = {k: rng.normal(size=s) for k, s in (("W1", (3, 4)), ("b1", (4,)), ("W2", (4, 2)), ("b2", (2,)))}
    velocity = {k: np.zeros_like(v) for k, v in params.items()}
    lr, mu = 0.1, 0.9
    for step in range(1, 4):
        grads = {k: rng.normal(size=v.shape) for k, v in params.items()}
        expected_p = {k: v.copy() for k, v in params.items()}
        expected_v = {k: v.copy() for k, v in velocity.items()}
        sgd_momentum_step(expected_p, grads, expected_v, lr, mu)
        _, extras = student.call(NUMPY_MODULE, "sgd_momentum_step", params, grads, velocity, lr, mu, return_args=True)
        after = extras.get("args")
        if type(after) is not list or len(after) != 5:
            raise CheckFailed("could not read the arguments back after sgd_momentum_step")
        got_p = as_dict(after[0], "params", list(PARAM_NAMES))
        got_v = as_dict(after[2], "velocity", list(PARAM_NAMES))
        got_p = {k: as_array(got_p[k], f"params['{k}']", params[k].shape) for k in PARAM_NAMES}
        got_v = {k: as_array(got_v[k], f"velocity['{k}']", params[k].shape) for k in PARAM_NAMES}
        if all(same(got_p[k], params[k], 1e-15) for k in PARAM_NAMES):
            raise CheckFailed(f"step {step}: params were not updated in place (assign into the dict)")
        if not all(same(got_p[k], expected_p[k], 1e-10) and same(got_v[k], expected_v[k], 1e-10) for k in PARAM_NAMES):
            diagnose(
                check,
                [
                    (name, all(same(got_p[k], mp[k], 1e-8) for k in PARAM_NAMES))
                    for name, mp, _ in sgd_mutants(params, grads, velocity, lr, mu)
                ],
            )
            for key in PARAM_NAMES:
                require_relative(f"step {step}: params['{key}']", got_p[key], expected_p[key], 1e-10)
                require_relative(f"step {step}: velocity['{key}']", got_v[key], expected_v[key], 1e-10)
        # The next step starts from the reference's state, which the student's matched within 1e-10:
        # the inputs stay fixed whatever the submission (so the check can be frozen for students).
        params, velocity = expected_p, expected_v


TRAIN_SETTINGS = {
    "learning_rate": 0.05,
    "learning_rate_decay": 0.9,
    "reg": 1e-3,
    "num_iters": 25,
    "batch_size": 20,
    "momentum": 0.9,
}


@pytest.mark.points(10)
@pytest.mark.title("train: loss history equals the reference under the same seed")
def test_loss_history(student, check):
    _, X, y = random_problem(21, n=120, d=10, h=8, c=3)
    np.random.seed(4)
    params = init_params(10, 8, 3, std=0.1)
    start = {k: v.copy() for k, v in params.items()}
    # Start from weights the grader sets, so a wrong initialisation is not counted twice.
    net = student_net(student, start)
    np.random.seed(5)
    expected = train_params(params, X, y, X, y, **TRAIN_SETTINGS)["loss_history"]
    stats, _ = net.call("train", X, y, X, y, seed=5, **TRAIN_SETTINGS)
    stats = as_dict(stats, "train(...) result", ["loss_history", "train_acc_history", "val_acc_history"])
    history = stats["loss_history"]
    if type(history) is not list or len(history) != len(expected):
        raise CheckFailed(f"loss_history: expected a list of {len(expected)} losses, one per iteration")
    history = np.array([as_float(v, f"loss_history[{i}]") for i, v in enumerate(history)])
    ok_first = same(history[:1], np.array(expected[:1]), HISTORY_LIMIT)
    if not same(history, np.array(expected), HISTORY_LIMIT):
        matches = []
        for key, description in TRAIN_MISTAKES.items():
            np.random.seed(5)
            mutant = train_loss_history(start, X, y, mistake=key, **TRAIN_SETTINGS)
            matches.append((description, same(history, np.array(mutant), 1e-6)))
        diagnose(check, matches)
        if not ok_first:
            check.note("the very first loss already differs: check loss() and the minibatch sampling line")
        require_relative("loss_history", history, np.array(expected), HISTORY_LIMIT)


@pytest.mark.points(5)
@pytest.mark.title("Toy problem: training reaches a final loss <= 0.02")
def test_toy_training(student, check, toy_xy):
    X, y = toy_xy
    net = student.new(NUMPY_MODULE, "TwoLayerNet", 4, 10, 3, std=0.1, seed=0)
    stats, _ = net.call("train", X, y, X, y, seed=1, **toy.TOY_TRAIN_KWARGS)
    stats = as_dict(stats, "train(...) result", ["loss_history"])
    history = stats["loss_history"]
    if type(history) is not list or len(history) != toy.TOY_TRAIN_KWARGS["num_iters"]:
        raise CheckFailed("loss_history must hold one loss per iteration")
    final = as_float(history[-1], "final training loss")
    if not final <= toy.TRAIN_LOSS_MAX:
        raise CheckFailed(f"final training loss {final:.4f}, must be <= {toy.TRAIN_LOSS_MAX}")


@pytest.mark.points(4)
@pytest.mark.title("predict returns the most probable class")
def test_predict(student, check):
    params, X, _ = random_problem(31, n=50, d=7, h=6, c=5)
    net = student_net(student, params)
    labels, _ = net.call("predict", X)
    labels = as_array(labels, "predict(X)", (50,), kinds="iu")
    expected = predict_labels(params, X)
    wrong = int((labels != expected).sum())
    if wrong:
        raise CheckFailed(f"predict(X): {wrong} of 50 labels differ from argmax of the probabilities")
