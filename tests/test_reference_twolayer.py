"""The numpy reference against docs/assignments/hlcv-ex2.md's published figures and independent computations.

Expected values are typed in from docs/assignments/hlcv-ex2.md or computed here (centred
differences written out in the test, torch autograd in float64, plain loops),
never taken from what the reference itself reports.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from reference import gradcheck
from reference.hlcv_ex2 import toy
from reference.hlcv_ex2.two_layernet import (
    TwoLayerNet,
    forward_probs,
    init_params,
    loss_and_grads,
    predict_labels,
    sgd_momentum_step,
    train_params,
)

ROOT = Path(__file__).resolve().parents[1]

# Published in docs/assignments/hlcv-ex2.md.
PUBLISHED_PROBS = np.array(
    [
        [0.36446210, 0.22911264, 0.40642526],
        [0.47590629, 0.17217039, 0.35192332],
        [0.43035767, 0.26164229, 0.30800004],
        [0.41583127, 0.29832280, 0.28584593],
        [0.36328815, 0.32279939, 0.31391246],
    ]
)
PUBLISHED_LOSS = 1.30378789133
REG = 0.05
NAMES = ("W1", "b1", "W2", "b2")


def make_toy() -> tuple[TwoLayerNet, np.ndarray, np.ndarray]:
    """The toy problem written out from docs/assignments/hlcv-ex2.md (not via reference.hlcv_ex2.toy)."""
    np.random.seed(0)
    net = TwoLayerNet(4, 10, 3, std=1e-1)
    np.random.seed(1)
    X = 10 * np.random.randn(5, 4)
    y = np.array([0, 1, 2, 2, 1])
    return net, X, y


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """docs/assignments/hlcv-ex2.md's measure, written out independently of reference.gradcheck."""
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def centred_differences(net: TwoLayerNet, X: np.ndarray, y: np.ndarray, name: str, h: float = 1e-5):
    param = net.params[name]
    grad = np.zeros_like(param)
    for ix in np.ndindex(param.shape):
        keep = param[ix]
        param[ix] = keep + h
        plus = net.loss(X, y, reg=REG)[0]
        param[ix] = keep - h
        minus = net.loss(X, y, reg=REG)[0]
        param[ix] = keep
        grad[ix] = (plus - minus) / (2 * h)
    return grad


def test_initialisation_draws_w1_before_w2_with_zero_biases():
    np.random.seed(0)
    W1 = 0.1 * np.random.randn(4, 10)
    W2 = 0.1 * np.random.randn(10, 3)
    net, _, _ = make_toy()
    assert np.array_equal(net.params["W1"], W1)
    assert np.array_equal(net.params["W2"], W2)
    assert np.array_equal(net.params["b1"], np.zeros(10))
    assert np.array_equal(net.params["b2"], np.zeros(3))
    assert list(net.params) == list(NAMES)


def test_toy_helpers_build_the_published_problem():
    net, X, y = make_toy()
    model = toy.toy_model()
    X2, y2 = toy.toy_data()
    for name in NAMES:
        assert np.array_equal(model.params[name], net.params[name])
    assert np.array_equal(X2, X) and np.array_equal(y2, y)
    assert np.array_equal(toy.TOY_PROBS, PUBLISHED_PROBS)
    assert toy.TOY_LOSS == PUBLISHED_LOSS and toy.TOY_REG == REG


def test_toy_probabilities_match_published():
    net, X, _ = make_toy()
    probs = net.loss(X)
    assert probs.shape == (5, 3)
    assert np.sum(np.abs(probs - PUBLISHED_PROBS)) < 1e-7


def test_toy_loss_matches_published():
    net, X, y = make_toy()
    loss, _ = net.loss(X, y, reg=REG)
    assert abs(loss - PUBLISHED_LOSS) < 1e-10


@pytest.mark.parametrize("name", NAMES)
def test_toy_gradients_match_centred_differences(name):
    net, X, y = make_toy()
    _, grads = net.loss(X, y, reg=REG)
    assert grads[name].shape == net.params[name].shape
    assert rel_error(grads[name], centred_differences(net, X, y, name)) < 1e-8


def test_toy_gradients_match_torch_autograd_float64():
    net, X, y = make_toy()
    loss, grads = net.loss(X, y, reg=REG)
    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in net.params.items()}
    Xt = torch.tensor(X, dtype=torch.float64)
    hidden = torch.relu(Xt @ t["W1"] + t["b1"])
    logits = hidden @ t["W2"] + t["b2"]
    t_loss = torch.nn.functional.cross_entropy(logits, torch.tensor(y)) + REG * (
        (t["W1"] ** 2).sum() + (t["W2"] ** 2).sum()
    )
    t_loss.backward()
    assert abs(loss - t_loss.item()) < 1e-12
    for name in NAMES:
        assert rel_error(grads[name], t[name].grad.numpy()) < 1e-8, name


def test_gradients_match_autograd_on_a_larger_random_problem():
    rng = np.random.default_rng(7)
    params = {
        "W1": rng.normal(size=(6, 8)),
        "b1": rng.normal(size=8),
        "W2": rng.normal(size=(8, 4)),
        "b2": rng.normal(size=4),
    }
    X = rng.normal(size=(11, 6))
    y = rng.integers(0, 4, size=11)
    loss, grads = loss_and_grads(params, X, y, reg=0.3)
    t = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    logits = torch.relu(torch.tensor(X) @ t["W1"] + t["b1"]) @ t["W2"] + t["b2"]
    t_loss = torch.nn.functional.cross_entropy(logits, torch.tensor(y)) + 0.3 * (
        (t["W1"] ** 2).sum() + (t["W2"] ** 2).sum()
    )
    t_loss.backward()
    assert loss == pytest.approx(t_loss.item(), rel=1e-13)
    for name in NAMES:
        assert rel_error(grads[name], t[name].grad.numpy()) < 1e-10, name


def test_softmax_is_stable_for_huge_logits():
    params = {
        "W1": np.eye(2),
        "b1": np.zeros(2),
        "W2": np.array([[1e4, 0.0], [0.0, 1e4]]),
        "b2": np.zeros(2),
    }
    X = np.array([[1.0, 0.0], [0.0, 3.0]])
    probs = forward_probs(params, X)
    assert np.all(np.isfinite(probs))
    assert np.allclose(probs, [[1.0, 0.0], [0.0, 1.0]])
    # The wrong class has probability exp(-1e4): the loss must be the exact logit gap, not inf.
    loss, grads = loss_and_grads(params, X, np.array([1, 0]))
    assert loss == pytest.approx((1e4 + 3e4) / 2)
    assert all(np.all(np.isfinite(g)) for g in grads.values())


def test_loss_without_labels_returns_row_stochastic_probabilities():
    np.random.seed(3)
    net = TwoLayerNet(7, 5, 4, std=1.0)
    probs = net.loss(np.random.randn(9, 7))
    assert probs.shape == (9, 4)
    assert np.allclose(probs.sum(axis=1), 1.0)


def test_predict_returns_int64_argmax():
    net, X, _ = make_toy()
    pred = net.predict(X)
    assert pred.shape == (5,) and pred.dtype == np.int64
    assert np.array_equal(pred, PUBLISHED_PROBS.argmax(axis=1))
    assert np.array_equal(predict_labels(net.params, X), pred)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_toy_training_reaches_published_loss(momentum):
    net, X, y = make_toy()
    stats = net.train(X, y, X, y, learning_rate=1e-1, reg=5e-6, num_iters=100, momentum=momentum)
    assert len(stats["loss_history"]) == 100
    assert stats["loss_history"][-1] <= 0.02
    # 5 samples, batch 200: every iteration is an epoch, so 100 accuracy entries.
    assert len(stats["train_acc_history"]) == len(stats["val_acc_history"]) == 100


def expected_momentum_updates(params, grad_seq, lr, momentum):
    """The update rule of docs/assignments/hlcv-ex2.md as a plain loop over keys and elements."""
    params = {k: v.copy() for k, v in params.items()}
    velocity = {k: np.zeros_like(v) for k, v in params.items()}
    for grads in grad_seq:
        for k in params:
            for ix in np.ndindex(params[k].shape):
                velocity[k][ix] = momentum * velocity[k][ix] - lr * grads[k][ix]
                params[k][ix] = params[k][ix] + velocity[k][ix]
    return params, velocity


@pytest.mark.parametrize("momentum", [0.0, 0.5, 0.9])
def test_sgd_momentum_step_follows_the_update_rule(momentum):
    rng = np.random.default_rng(0)
    start = {"W": rng.normal(size=(3, 2)), "b": rng.normal(size=2)}
    grad_seq = [{k: rng.normal(size=v.shape) for k, v in start.items()} for _ in range(5)]
    params = {k: v.copy() for k, v in start.items()}
    velocity = {k: np.zeros_like(v) for k, v in start.items()}
    for grads in grad_seq:
        sgd_momentum_step(params, grads, velocity, 0.1, momentum)
    want_p, want_v = expected_momentum_updates(start, grad_seq, 0.1, momentum)
    for k in start:
        assert np.allclose(params[k], want_p[k], rtol=0, atol=1e-14)
        assert np.allclose(velocity[k], want_v[k], rtol=0, atol=1e-14)


def test_sgd_momentum_step_assigns_new_arrays():
    old_w = np.ones(3)
    params = {"W": old_w}
    velocity = {"W": np.zeros(3)}
    sgd_momentum_step(params, {"W": np.ones(3)}, velocity, 0.5, 0.9)
    assert np.array_equal(old_w, np.ones(3)), "the caller's old array must be left as it was"
    assert np.allclose(params["W"], 0.5)
    assert np.allclose(velocity["W"], -0.5)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_momentum_step_equals_torch_sgd(momentum):
    # torch: v = m v + g; p -= lr v. Ours: u = m u - lr g; p += u, i.e. u = -lr v: same path for constant lr.
    rng = np.random.default_rng(1)
    start = {"W": rng.normal(size=(4, 3)), "b": rng.normal(size=3)}
    lr, steps = 0.05, 8
    grad_seq = [{k: rng.normal(size=v.shape) for k, v in start.items()} for _ in range(steps)]

    tparams = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in start.items()}
    opt = torch.optim.SGD(list(tparams.values()), lr=lr, momentum=momentum, dampening=0)
    params = {k: v.copy() for k, v in start.items()}
    velocity = {k: np.zeros_like(v) for k, v in start.items()}
    for grads in grad_seq:
        opt.zero_grad()
        for k, t in tparams.items():
            t.grad = torch.tensor(grads[k], dtype=torch.float64)
        opt.step()
        sgd_momentum_step(params, grads, velocity, lr, momentum)
        for k in start:
            assert np.allclose(params[k], tparams[k].detach().numpy(), rtol=0, atol=1e-13)


def test_train_follows_the_schedule_step_by_step():
    """Replay the loop by hand: one choice() per iteration, decay and accuracies once per epoch."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(40, 6))
    y = rng.integers(0, 3, size=40)
    X_val, y_val = rng.normal(size=(10, 6)), rng.integers(0, 3, size=10)
    kwargs = dict(learning_rate=0.2, learning_rate_decay=0.5, reg=1e-3, num_iters=10, batch_size=10, momentum=0.8)

    np.random.seed(11)
    net = TwoLayerNet(6, 5, 3, std=0.5)
    start = {k: v.copy() for k, v in net.params.items()}
    stats = net.train(X, y, X_val, y_val, **kwargs)

    np.random.seed(11)
    init_params(6, 5, 3, std=0.5)  # consume the same draws as the constructor
    params = {k: v.copy() for k, v in start.items()}
    velocity = {k: np.zeros_like(v) for k, v in params.items()}
    lr, losses, accs = 0.2, [], []
    for it in range(10):
        idx = np.random.choice(40, 10, replace=True)
        loss, grads = loss_and_grads(params, X[idx], y[idx], 1e-3)
        losses.append(loss)
        for k in params:
            velocity[k] = 0.8 * velocity[k] - lr * grads[k]
            params[k] = params[k] + velocity[k]
        if it % 4 == 0:  # 40 // 10 iterations per epoch
            accs.append(float(np.mean(np.argmax(forward_probs(params, X_val), axis=1) == y_val)))
            lr *= 0.5

    assert stats["loss_history"] == losses
    assert stats["val_acc_history"] == accs
    assert len(stats["train_acc_history"]) == 3
    for k in params:
        assert np.array_equal(net.params[k], params[k])


def test_train_params_is_the_engine_of_train():
    net, X, y = make_toy()
    params = {k: v.copy() for k, v in net.params.items()}
    np.random.seed(2)
    a = net.train(X, y, X, y, learning_rate=1e-1, num_iters=20)
    np.random.seed(2)
    b = train_params(params, X, y, X, y, learning_rate=1e-1, num_iters=20)
    assert a == b


# --- gradcheck --------------------------------------------------------------------------------


def test_numerical_gradient_of_a_known_function_and_restores_input():
    x = np.array([[0.3, -1.2], [2.0, 0.7]])
    before = x.copy()
    grad = gradcheck.numerical_gradient(lambda v: float(np.sum(v**3)), x)
    assert np.allclose(grad, 3 * before**2, rtol=1e-9)
    assert np.array_equal(x, before)


def test_numerical_gradient_via_closure_matches_published_toy_errors():
    net, X, y = make_toy()
    _, grads = net.loss(X, y, reg=REG)
    for name in NAMES:
        numeric = gradcheck.numerical_gradient(lambda _: net.loss(X, y, reg=REG)[0], net.params[name])
        assert np.allclose(numeric, centred_differences(net, X, y, name), rtol=0, atol=1e-12)
        assert gradcheck.relative_error(grads[name], numeric) < 1e-8


def test_numerical_gradient_rejects_integer_arrays():
    with pytest.raises(TypeError):
        gradcheck.numerical_gradient(lambda v: 0.0, np.arange(3))


def test_relative_error_formula_and_worst_index():
    a = np.array([[1.0, 2.0], [0.0, 5.0]])
    n = np.array([[1.0, 2.2], [0.0, 5.0]])
    err, index = gradcheck.worst_relative_error(a, n)
    assert err == pytest.approx(0.2 / 4.2)
    assert index == (0, 1)
    assert gradcheck.relative_error(a, n) == err
    # Both zero: the 1e-8 floor keeps 0/0 at zero; tiny absolute gaps are measured against it.
    assert gradcheck.relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert gradcheck.relative_error(np.array([0.0]), np.array([1e-9])) == pytest.approx(0.1)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_relative_error_is_infinite_for_non_finite_values(bad):
    a = np.array([1.0, bad, 3.0])
    n = np.array([1.0, 2.0, 3.0])
    assert gradcheck.relative_error(a, n) == np.inf
    assert gradcheck.relative_error(n, a) == np.inf
    assert gradcheck.worst_relative_error(a, n) == (np.inf, (1,))


def test_relative_error_rejects_shape_mismatch():
    with pytest.raises(ValueError, match="shape"):
        gradcheck.relative_error(np.zeros(3), np.zeros(4))


# --- self-check -------------------------------------------------------------------------------


def test_self_check_passes_and_reports_every_figure():
    lines: list[str] = []
    assert toy.self_check(echo=lines.append) is True
    text = "\n".join(lines)
    for needle in ("probabilities", "loss", "grad W1", "grad b1", "grad W2", "grad b2", "momentum 0.9"):
        assert needle in text


def test_self_check_fails_on_a_wrong_published_value(monkeypatch):
    monkeypatch.setattr(toy, "TOY_LOSS", PUBLISHED_LOSS + 1e-6)
    assert toy.self_check(echo=lambda _: None) is False


def test_python_dash_m_reference_exits_zero():
    result = subprocess.run([sys.executable, "-m", "reference"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all toy checks pass" in result.stdout
