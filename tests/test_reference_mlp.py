"""The PyTorch reference MLP: structure, training on scikit-learn's digits, weight round-trips."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from reference.hlcv_ex2.mlp import (
    MultiLayerPerceptron,
    mlp_accuracy,
    mlp_from_arrays,
    model_to_arrays,
    train_mlp,
)


@pytest.fixture(scope="module")
def digits():
    """8x8 handwritten digits shipped inside scikit-learn: no download."""
    datasets = pytest.importorskip("sklearn.datasets")
    X, y = datasets.load_digits(return_X_y=True)
    order = np.random.RandomState(0).permutation(len(X))
    X, y = (X[order] / 16.0).astype(np.float32), y[order].astype(np.int64)
    return X[:1400], y[:1400], X[1400:], y[1400:]


def test_layers_and_parameter_order_for_two_hidden_layers():
    model = MultiLayerPerceptron(12, [8, 6], 4)
    kinds = [type(m) for m in model.modules() if not isinstance(m, (MultiLayerPerceptron, nn.Sequential))]
    assert kinds == [nn.Linear, nn.ReLU, nn.Linear, nn.ReLU, nn.Linear]
    shapes = [tuple(p.shape) for p in model.parameters()]
    assert shapes == [(8, 12), (8,), (6, 8), (6,), (4, 6), (4,)]


def test_no_hidden_layers_is_a_single_linear_map():
    model = MultiLayerPerceptron(5, [], 3)
    assert [tuple(p.shape) for p in model.parameters()] == [(3, 5), (3,)]


def test_forward_returns_logits_computed_by_hand():
    torch.manual_seed(0)
    model = MultiLayerPerceptron(5, [7, 4], 3)
    w1, b1, w2, b2, w3, b3 = (a.astype(np.float64) for a in model_to_arrays(model))
    X = np.random.RandomState(1).randn(6, 5)
    hidden = np.maximum(np.maximum(X @ w1.T + b1, 0) @ w2.T + b2, 0)
    expected = hidden @ w3.T + b3
    with torch.no_grad():
        got = model(torch.tensor(X, dtype=torch.float32)).numpy()
    assert np.allclose(got, expected, atol=1e-5)
    assert not np.allclose(got.sum(axis=1), 1.0), "forward must not apply softmax"


def test_training_on_digits_lowers_loss_and_reaches_90_percent(digits):
    X_train, y_train, X_val, y_val = digits
    torch.manual_seed(0)
    model = MultiLayerPerceptron(64, [64], 10)
    stats = train_mlp(model, X_train, y_train, X_val, y_val, epochs=8, batch_size=50, learning_rate=1e-2)
    losses = stats["loss_history"]
    assert len(losses) == 8 * 28  # 1400 / 50 batches per epoch
    assert len(stats["val_acc_history"]) == 8
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    assert stats["val_acc_history"][-1] > 0.90
    # The network the weights describe scores the same outside torch's training code.
    assert mlp_accuracy(model_to_arrays(model), X_val, y_val) == pytest.approx(stats["val_acc_history"][-1])


def test_sgd_with_weight_decay_also_learns(digits):
    X_train, y_train, X_val, y_val = digits
    torch.manual_seed(1)
    model = MultiLayerPerceptron(64, [32], 10)
    stats = train_mlp(
        model,
        X_train,
        y_train,
        X_val,
        y_val,
        epochs=3,
        batch_size=20,
        learning_rate=0.1,
        weight_decay=1e-4,
        optimizer="sgd",
    )
    assert np.mean(stats["loss_history"][-10:]) < np.mean(stats["loss_history"][:10])


def test_training_is_reproducible_under_the_same_seed(digits):
    X_train, y_train, X_val, y_val = digits
    runs = []
    for _ in range(2):
        torch.manual_seed(3)
        model = MultiLayerPerceptron(64, [16], 10)
        runs.append(train_mlp(model, X_train[:300], y_train[:300], X_val, y_val, 2, 64, 1e-2, seed=9))
    assert runs[0] == runs[1]


def test_train_mlp_uses_one_randperm_per_epoch_after_seeding():
    """Replay plain SGD by hand with the same permutations and compare the weights."""
    rng = np.random.RandomState(0)
    X = rng.randn(30, 4)
    y = rng.randint(0, 3, size=30)
    torch.manual_seed(0)
    model = MultiLayerPerceptron(4, [5], 3).double()
    replica = MultiLayerPerceptron(4, [5], 3).double()
    replica.load_state_dict(model.state_dict())
    train_mlp(model, X, y, X, y, epochs=2, batch_size=8, learning_rate=0.1, optimizer="sgd", seed=4)

    torch.manual_seed(4)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    for _ in range(2):
        order = torch.randperm(30)
        for start in range(0, 30, 8):
            batch = order[start : start + 8]
            replica.zero_grad()
            nn.functional.cross_entropy(replica(Xt[batch]), yt[batch]).backward()
            with torch.no_grad():
                for p in replica.parameters():
                    p -= 0.1 * p.grad
    for got, want in zip(model.parameters(), replica.parameters(), strict=True):
        assert torch.allclose(got, want, atol=1e-12)


def test_unknown_optimizer_is_one_clear_line():
    model = MultiLayerPerceptron(4, [3], 2)
    with pytest.raises(ValueError) as info:
        train_mlp(
            model,
            np.zeros((4, 4)),
            np.zeros(4),
            np.zeros((2, 4)),
            np.zeros(2),
            1,
            2,
            1e-3,
            optimizer="rmsprop",
        )
    message = str(info.value)
    assert "\n" not in message and "rmsprop" in message and "adam" in message and "sgd" in message


def test_mlp_from_arrays_round_trips_parameters():
    torch.manual_seed(0)
    model = MultiLayerPerceptron(10, [8, 6], 4)
    arrays = model_to_arrays(model)
    rebuilt = mlp_from_arrays(arrays)
    for a, b in zip(model.parameters(), rebuilt.parameters(), strict=True):
        assert torch.equal(a, b)
    X = torch.randn(5, 10)
    with torch.no_grad():
        assert torch.equal(model(X), rebuilt(X))
    assert [tuple(a.shape) for a in model_to_arrays(rebuilt)] == [tuple(a.shape) for a in arrays]


def test_mlp_accuracy_matches_a_hand_computation():
    rng = np.random.RandomState(2)
    arrays = [rng.randn(6, 3), rng.randn(6), rng.randn(2, 6), rng.randn(2)]
    X = rng.randn(40, 3)
    y = rng.randint(0, 2, size=40)
    logits = np.maximum(X @ arrays[0].T + arrays[1], 0) @ arrays[2].T + arrays[3]
    assert mlp_accuracy(arrays, X, y) == pytest.approx(np.mean(logits.argmax(axis=1) == y))


@pytest.mark.parametrize(
    ("shapes", "needle"),
    [
        ([], "no arrays"),
        ([(4, 3)], "even number"),
        ([(4, 3), (4,), (2, 5), (2,)], "layer 2 weight"),
        ([(4, 3), (3,), (2, 4), (2,)], "layer 1 bias"),
        ([(4, 3, 1), (4,)], "2-D"),
        ([(4, 3), (4, 1)], "layer 1 bias"),
    ],
)
def test_mlp_from_arrays_rejects_shapes_that_do_not_chain(shapes, needle):
    arrays = [np.zeros(s, dtype=np.float32) for s in shapes]
    with pytest.raises(ValueError, match=needle):
        mlp_from_arrays(arrays)


def test_mlp_from_arrays_rejects_non_finite_and_non_numeric():
    with pytest.raises(ValueError, match="NaN"):
        mlp_from_arrays([np.full((2, 2), np.nan), np.zeros(2)])
    with pytest.raises(ValueError, match="not numeric"):
        mlp_from_arrays([np.array([["a", "b"]]), np.zeros(1)])


def test_mlp_accuracy_rejects_wrong_input_width():
    arrays = [np.zeros((4, 3)), np.zeros(4), np.zeros((2, 4)), np.zeros(2)]
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        mlp_accuracy(arrays, np.zeros((5, 7)), np.zeros(5))
