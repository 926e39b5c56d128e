"""The torch-backprop reference, its published numbers and its mistake catalogue, checked independently.

Gradients are compared with autograd and with centred differences; the hand-written SGD with
``torch.optim.SGD``; the published example numbers are recomputed by autograd and ``torch.optim``
rather than by the functions that produced them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from grader.assignments.torch_backprop import Settings, check_reference
from grader.assignments.torch_backprop.hyperparams import HyperparamError, load_hyperparams
from grader.assignments.torch_backprop.mutants import (
    GRADIENT_MUTANTS,
    LOSS_MUTANTS,
    TRAINING_MUTANTS,
    gradients,
    sgd_trajectory,
)
from reference.gradcheck import numerical_gradient
from reference.torch_backprop import cifar2, example
from reference.torch_backprop.net import (
    DF,
    F,
    SquaredError,
    autograd_gradients,
    initial_arrays,
    manual_gradients,
    net_from_arrays,
    squared_error,
    to_arrays,
)
from reference.torch_backprop.training import loader, train, train_manual_update

REPO = Path(__file__).resolve().parents[1]
HANDOUT = REPO / "student_template" / "torch-backprop"
NETWORKS = [
    ((3, 5, 4, 2), ("relu", "sigmoid", "identity")),
    ((4, 6, 6, 3), ("tanh", "tanh", "sigmoid")),
    ((5, 5, 5, 5), ("sigmoid", "relu", "tanh")),
    ((2, 7, 1), ("identity", "tanh")),
]
SGD_SETTINGS = [(0.0, 0.0), (0.9, 0.0), (0.0, 0.01), (0.9, 0.01), (0.5, 0.005)]


def rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def batch(sizes, n=9, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, sizes[0])), rng.normal(size=(n, sizes[-1]))


@pytest.mark.parametrize(("sizes", "activations"), NETWORKS)
def test_backpropagation_matches_autograd(sizes, activations):
    arrays = initial_arrays(sizes, activations, 3)
    X, Y = batch(sizes)
    for got, want in zip(
        manual_gradients(sizes, activations, arrays, X, Y),
        autograd_gradients(sizes, activations, arrays, X, Y),
        strict=True,
    ):
        assert got.shape == want.shape
        assert rel(got, want) < 1e-12


def test_the_derivatives_match_autograd():
    z = torch.linspace(-3, 3, 41, dtype=torch.float64, requires_grad=True)
    for name in F:
        (grad,) = torch.autograd.grad(F[name](z).sum(), z)
        assert torch.allclose(DF[name](z.detach()), grad, rtol=0, atol=1e-15), name


def test_numpy_gradients_of_the_catalogue_match_centred_differences():
    sizes, activations = (3, 4, 2), ("tanh", "sigmoid")
    arrays = initial_arrays(sizes, activations, 5)
    X, Y = batch(sizes, n=6, seed=2)
    analytic = gradients(activations, arrays, X, Y)
    for index in range(len(arrays)):

        def loss(value, index=index):
            trial = [a.copy() for a in arrays]
            trial[index] = value
            with torch.no_grad():
                return squared_error(
                    net_from_arrays(sizes, activations, trial)(torch.as_tensor(X)), torch.as_tensor(Y)
                ).item()

        numeric = numerical_gradient(loss, arrays[index].copy())
        assert rel(analytic[index], numeric) < 1e-7


def test_every_gradient_mistake_changes_the_result_and_is_told_apart():
    """On the visible networks each mutant differs from the truth and from every other mutant."""
    for sizes, activations in NETWORKS[:3]:
        arrays = initial_arrays(sizes, activations, 1)
        X, Y = batch(sizes, n=7, seed=4)
        truth = autograd_gradients(sizes, activations, arrays, X, Y)
        assert all(rel(g, t) < 1e-12 for g, t in zip(gradients(activations, arrays, X, Y), truth, strict=True))
    outputs = {}
    for sizes, activations in NETWORKS[:3]:
        arrays = initial_arrays(sizes, activations, 1)
        X, Y = batch(sizes, n=7, seed=4)
        for name, fn in GRADIENT_MUTANTS:
            outputs.setdefault(name, []).extend(fn(activations, arrays, X, Y))
    names = list(outputs)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            same = all(x.shape == y.shape and rel(x, y) < 1e-6 for x, y in zip(outputs[a], outputs[b], strict=True))
            assert not same, (a, b)


def _sgd_reference(sizes, activations, arrays, X, Y, epochs, lr, momentum, decay):
    model = net_from_arrays(sizes, activations, arrays)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=decay)
    losses = train(epochs, optimizer, model, SquaredError(), loader(X, Y, 16))
    return to_arrays(model), losses


@pytest.mark.parametrize(("momentum", "decay"), SGD_SETTINGS)
def test_manual_update_matches_torch_optim_sgd(momentum, decay):
    sizes, activations = (3, 5, 4, 2), ("relu", "tanh", "identity")
    arrays = initial_arrays(sizes, activations, 7)
    X, Y = batch(sizes, n=48, seed=7)
    want, want_losses = _sgd_reference(sizes, activations, arrays, X, Y, 3, 0.05, momentum, decay)
    model = net_from_arrays(sizes, activations, arrays)
    losses = train_manual_update(3, 0.05, model, SquaredError(), loader(X, Y, 16), momentum, decay)
    assert all(rel(g, w) < 1e-12 for g, w in zip(to_arrays(model), want, strict=True))
    assert rel(np.array(losses), np.array(want_losses)) < 1e-12
    # The catalogue's loop without switches is the same SGD.
    model = net_from_arrays(sizes, activations, arrays)
    sgd_trajectory(model, SquaredError(), loader(X, Y, 16), 3, 0.05, momentum, decay)
    assert all(rel(g, w) < 1e-12 for g, w in zip(to_arrays(model), want, strict=True))


@pytest.mark.parametrize(("momentum", "decay"), [(0.0, 0.0), (0.8, 0.005)])
def test_a_smaller_last_batch_is_kept_and_the_loss_history_is_the_plain_mean(momentum, decay):
    """40 samples in batches of 16: the loader keeps the last 8 (no drop_last), and every loop returns
    the plain mean of the epoch's batch losses, as the handout says; recomputed here on slices of
    the arrays with ``torch.optim.SGD``."""
    sizes, activations = (3, 5, 4, 2), ("tanh", "relu", "identity")
    arrays = initial_arrays(sizes, activations, 9)
    X, Y = batch(sizes, n=40, seed=9)
    assert [len(x) for x, _ in loader(X, Y, 16)] == [16, 16, 8]
    model = net_from_arrays(sizes, activations, arrays)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=momentum, weight_decay=decay)
    want = []
    for _ in range(3):
        batch_losses = []
        for start in (0, 16, 32):
            optimizer.zero_grad()
            loss = squared_error(model(torch.as_tensor(X[start : start + 16])), torch.as_tensor(Y[start : start + 16]))
            loss.backward()
            optimizer.step()
            batch_losses.append(loss.item())
        want.append(sum(batch_losses) / 3)
    for run in (
        lambda m: train_manual_update(3, 0.05, m, SquaredError(), loader(X, Y, 16), momentum, decay),
        lambda m: sgd_trajectory(m, SquaredError(), loader(X, Y, 16), 3, 0.05, momentum, decay),
        lambda m: train(
            3,
            torch.optim.SGD(m.parameters(), lr=0.05, momentum=momentum, weight_decay=decay),
            m,
            SquaredError(),
            loader(X, Y, 16),
        ),
    ):
        fresh = net_from_arrays(sizes, activations, arrays)
        assert rel(np.array(run(fresh)), np.array(want)) < 1e-12
        assert all(rel(g, w) < 1e-12 for g, w in zip(to_arrays(fresh), to_arrays(model), strict=True))


def test_the_loss_history_mistakes_come_from_the_batch_losses():
    """The catalogue's loss histories from the (loss.item(), batch size) pairs its loop records."""
    sizes, activations = (3, 5, 4, 2), ("tanh", "relu", "identity")
    arrays = initial_arrays(sizes, activations, 9)
    X, Y = batch(sizes, n=40, seed=9)
    seen: list = []
    model = net_from_arrays(sizes, activations, arrays)
    losses = sgd_trajectory(model, SquaredError(), loader(X, Y, 16), 2, 0.05, 0.9, 0.0, batches_seen=seen)
    assert [[size for _, size in epoch] for epoch in seen] == [[16, 16, 8]] * 2
    assert losses == [sum(loss for loss, _ in epoch) / 3 for epoch in seen]
    entries = {name.split(":")[0]: [entry(epoch) for epoch in seen] for name, entry in LOSS_MUTANTS}
    assert entries["loss history weighted by batch size"] == [
        (16 * epoch[0][0] + 16 * epoch[1][0] + 8 * epoch[2][0]) / 40 for epoch in seen
    ]
    assert entries["loss history holds the last batch's loss"] == [epoch[2][0] for epoch in seen]
    assert entries["loss history holds the sum of the batch losses"] == [sum(x for x, _ in epoch) for epoch in seen]


def test_every_training_mistake_changes_the_result():
    sizes, activations = (3, 5, 4, 2), ("relu", "tanh", "identity")
    arrays = initial_arrays(sizes, activations, 7)
    X, Y = batch(sizes, n=48, seed=7)
    want, _ = _sgd_reference(sizes, activations, arrays, X, Y, 3, 0.05, 0.9, 0.01)
    for name, switches in TRAINING_MUTANTS:
        model = net_from_arrays(sizes, activations, arrays)
        sgd_trajectory(model, SquaredError(), loader(X, Y, 16), 3, 0.05, 0.9, 0.01, **switches)
        assert max(rel(g, w) for g, w in zip(to_arrays(model), want, strict=True)) > 1e-6, name


def test_published_example_by_autograd_and_centred_differences():
    torch.manual_seed(example.SEED)
    model = net_from_arrays(
        example.SIZES, example.ACTIVATIONS, initial_arrays(example.SIZES, example.ACTIVATIONS, example.SEED)
    )
    X, Y = torch.as_tensor(example.X), torch.as_tensor(example.Y)
    # The loss, straight from its definition in numpy.
    y_pred = model(X)
    by_definition = float(np.mean(np.sum((y_pred.detach().numpy() - example.Y) ** 2, axis=1)))
    assert by_definition == pytest.approx(example.PUBLISHED["loss"], rel=1e-10)
    squared_error(y_pred, Y).backward()
    assert model.fc["2"].bias.grad.numpy() == pytest.approx(example.PUBLISHED["dL_db[2]"], rel=1e-10)
    assert model.fc["1"].weight.grad[0, 1].item() == pytest.approx(example.PUBLISHED["dL_dw[1][0][1]"], rel=1e-10)
    arrays = initial_arrays(example.SIZES, example.ACTIVATIONS, example.SEED)

    def loss_of_w1(w1: np.ndarray) -> float:
        trial = [w1, *arrays[1:]]
        with torch.no_grad():
            return squared_error(net_from_arrays(example.SIZES, example.ACTIVATIONS, trial)(X), Y).item()

    numeric = numerical_gradient(loss_of_w1, arrays[0].copy())
    assert numeric[0, 1] == pytest.approx(example.PUBLISHED["dL_dw[1][0][1]"], rel=1e-7)


def test_published_example_losses_by_torch_optim():
    arrays = initial_arrays(example.SIZES, example.ACTIVATIONS, example.SEED)
    model = net_from_arrays(example.SIZES, example.ACTIVATIONS, arrays)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=example.LR, momentum=example.MOMENTUM, weight_decay=example.WEIGHT_DECAY
    )
    losses = train(example.EPOCHS, optimizer, model, SquaredError(), loader(example.X, example.Y, example.BATCH))
    assert losses == pytest.approx(example.PUBLISHED_LOSSES, rel=1e-10)


def test_check_reference_passes_and_the_handout_prints_every_published_number():
    check_reference()
    text = (HANDOUT / "README.md").read_text()
    numbers = [example.PUBLISHED["loss"], *example.PUBLISHED["dL_db[2]"], example.PUBLISHED["dL_dw[1][0][1]"]]
    for value in numbers + example.PUBLISHED_LOSSES:
        assert repr(value) in text, value
    for constant in ("1e-8", "1e-10", "0.80", "265", "9,000", "1,000", "2,000", "600 seconds"):
        assert constant in text, constant
    assert "3072, 512, 128, 32, 2" in text and tuple(cifar2.SIZES) == (3072, 512, 128, 32, 2)


def test_handout_settings_match_the_pack():
    import tomllib

    raw = tomllib.loads((REPO / "grader" / "assignments" / "torch_backprop" / "assignment.toml").read_text())
    settings = Settings.model_validate(raw["settings"])
    assert (settings.gradient_tolerance, settings.training_tolerance, settings.min_accuracy) == (1e-8, 1e-10, 0.80)
    assert raw["limits"]["train_seconds"] == 600
    with pytest.raises(ValueError):
        Settings.model_validate({"gradient_tolerance": 1e-8, "unknown": 1})


def test_cifar2_preparation_on_synthetic_images():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (40, 3072)).astype(np.float64)
    X[:, 0::3] *= 0.5  # red darker than the others: per-channel statistics differ
    y = np.array([0, 2, 1, 3, 4, 5, 6, 7, 8, 9] * 4)
    Xs, ys = cifar2.select(X, y)
    assert len(ys) == 8 and set(ys) == {0, 1} and (ys == (y[np.isin(y, (0, 2))] == 2)).all()
    mean, std = cifar2.channel_stats(X)
    assert mean[0] < mean[1] and mean == pytest.approx((X / 255).reshape(-1, 3).mean(axis=0))
    normal = cifar2.normalise(X, mean, std).reshape(40, -1, 3)
    assert normal.mean(axis=(0, 1)) == pytest.approx(0, abs=1e-4)
    assert normal.std(axis=(0, 1)) == pytest.approx(1, abs=1e-4)
    train_idx, val_idx = cifar2.split_indices(10_000)
    assert (len(train_idx), len(val_idx)) == (9_000, 1_000)
    assert len(np.intersect1d(train_idx, val_idx)) == 0
    assert (train_idx == np.random.default_rng(265).permutation(10_000)[:9_000]).all()


def test_hyperparams_of_the_handout_are_valid_and_mistakes_are_one_line(tmp_path):
    hp = load_hyperparams(HANDOUT / "hyperparams.json")
    assert hp.model_dump() == json.loads((HANDOUT / "hyperparams.json").read_text())
    for bad, words in (
        ({**hp.model_dump(), "momentum": 1.0}, r"momentum"),
        ({**hp.model_dump(), "extra": 1}, r"extra"),
        ({"lr": 0.1}, r"momentum|Field required"),
    ):
        path = tmp_path / "hyperparams.json"
        path.write_text(json.dumps(bad))
        with pytest.raises(HyperparamError, match=words) as info:
            load_hyperparams(path)
        assert "\n" not in str(info.value)
    with pytest.raises(HyperparamError, match="missing"):
        load_hyperparams(tmp_path / "absent.json")
    assert re.search(r"budget your `n_epochs`", (HANDOUT / "README.md").read_text())


def test_load_cifar2_from_a_small_release(tmp_path):
    from test_cifar10 import write_python_release

    rng = np.random.default_rng(1)
    batches = []
    for _ in range(6):
        labels = [0] * 10 + [2] * 10 + [7] * 5
        batches.append((rng.integers(0, 256, (25, 3072)).astype(np.uint8), labels))
    write_python_release(tmp_path, batches)
    split = cifar2.load_cifar2(tmp_path)
    assert (split.X_train.shape, split.X_val.shape, split.X_test.shape) == ((90, 3072), (10, 3072), (20, 3072))
    assert split.X_train.dtype == np.float32 and set(split.y_test) == {0, 1} and (split.y_test == 1).sum() == 10
    # The training and validation images together are normalised per channel.
    together = np.concatenate([split.X_train, split.X_val]).reshape(100, -1, 3)
    assert together.mean(axis=(0, 1)) == pytest.approx(0, abs=1e-4)


def test_the_corpus_good_submission_is_the_reference_solution():
    solution = (REPO / "reference" / "torch_backprop" / "solution.py").read_text()
    good = (REPO / "tests" / "corpus" / "torch-backprop" / "good" / "backprop.py").read_text()
    assert solution.split("\n", 1)[1] == good  # without the lint directive of its first line
