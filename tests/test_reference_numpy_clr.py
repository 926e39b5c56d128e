"""The numpy-clr reference against independent computations and the handout's published numbers.

Independent means: torch autograd for the cost and its gradients, ``reference.gradcheck``'s own
centred differences, a closed-form triangle wave for the schedule, and a training loop written
with autograd for the trajectory. The published numbers live in the pack's ``published.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from grader.assignments.numpy_clr import Settings, check_reference
from grader.assignments.numpy_clr import published as pub
from grader.assignments.numpy_clr.hyperparams import HyperparamError, load_hyperparams
from grader.assignments.numpy_clr.mutants import (
    COST_MUTANTS,
    ETA_MUTANTS,
    FORWARD_MUTANTS,
    GRADIENT_MUTANTS,
    NUMERICAL_MUTANTS,
    ONE_SIDED,
    TRAINING_MUTANTS,
    UNEVEN_MUTANTS,
)
from reference.gradcheck import numerical_gradient, relative_error
from reference.numpy_clr import (
    HISTORY_KEYS,
    compute_accuracy,
    compute_cost,
    compute_gradients,
    compute_grads_num_slow,
    cyclical_eta,
    evaluate_classifier,
    init_weights,
    mini_batch_gd,
)
from reference.numpy_clr.problems import (
    CONFIG_1,
    CONFIG_1_LAM,
    HIDDEN,
    REDUCED,
    REDUCED_D,
    REDUCED_INIT_SEED,
    TOY_LAM,
    UNEVEN_N,
    K,
    reduced_data,
    toy_problem,
    uneven_data,
)

TEMPLATE = Path(__file__).resolve().parents[1] / "student_template" / "numpy-clr"


def torch_cost(X, Y, weights, lam):
    """Cost, loss and the four gradients by autograd, from the formulas in the handout."""
    W1, b1, W2, b2 = (torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in weights)
    Xt = torch.tensor(X, dtype=torch.float64)
    labels = torch.tensor(np.argmax(Y, axis=0))
    scores = W2 @ torch.relu(W1 @ Xt + b1) + b2
    loss = torch.nn.functional.cross_entropy(scores.T, labels)
    cost = loss + lam * ((W1**2).sum() + (W2**2).sum())
    cost.backward()
    return float(cost.detach()), float(loss.detach()), [w.grad.numpy() for w in (W1, b1, W2, b2)]


def triangle(t, eta_min, eta_max, n_s):
    """The triangular wave in closed form: 0 at even multiples of n_s, 1 at odd ones."""
    phase = (t / n_s) % 2.0
    return eta_min + (eta_max - eta_min) * (1.0 - abs(phase - 1.0))


def test_reference_reproduces_the_published_numbers():
    check_reference()


def test_published_toy_numbers_by_autograd():
    toy = toy_problem()
    cost, loss, _ = torch_cost(toy.X, toy.Y, toy.weights, TOY_LAM)
    assert cost == pytest.approx(pub.TOY_COST, abs=pub.PRINTED_TOLERANCE)
    assert loss == pytest.approx(pub.TOY_LOSS, abs=pub.PRINTED_TOLERANCE)
    labels = np.argmax(evaluate_classifier(toy.X, *toy.weights)[1], axis=0)
    assert np.mean(labels == toy.y) == pub.TOY_ACCURACY == compute_accuracy(toy.X, toy.y, *toy.weights)


@pytest.mark.parametrize("lam", [0.0, TOY_LAM, 0.3])
def test_gradients_equal_autograd(lam):
    toy = toy_problem()
    cost, loss = compute_cost(toy.X, toy.Y, *toy.weights, lam)
    t_cost, t_loss, expected = torch_cost(toy.X, toy.Y, toy.weights, lam)
    assert (cost, loss) == pytest.approx((t_cost, t_loss), rel=1e-12)
    H, P = evaluate_classifier(toy.X, *toy.weights)
    grads = compute_gradients(toy.X, toy.Y, H, P, toy.W1, toy.W2, lam)
    for got, want in zip(grads, expected, strict=True):
        assert got.shape == want.shape
        assert relative_error(got, want) < 1e-9


def test_handout_gradient_check_claim():
    """The handout: analytic vs. centred differences at h = 1e-5 agree to about 1e-7 or better."""
    toy = toy_problem()
    H, P = evaluate_classifier(toy.X, *toy.weights)
    analytic = compute_gradients(toy.X, toy.Y, H, P, toy.W1, toy.W2, TOY_LAM)
    numeric = compute_grads_num_slow(toy.X, toy.Y, *toy.weights, TOY_LAM, 1e-5)
    for a, n in zip(analytic, numeric, strict=True):
        assert relative_error(a, n) < 1e-6


def test_numerical_gradients_equal_an_independent_centred_difference():
    problem = toy_problem(seed=7, n=12, d=6, m=8, k=4)
    weights = [w.copy() for w in problem.weights]
    h = Settings().numgrad_h
    ours = compute_grads_num_slow(problem.X, problem.Y, *weights, TOY_LAM, h)
    for i, got in enumerate(ours):
        params = [w.copy() for w in weights]

        def cost(_: np.ndarray, params: list[np.ndarray] = params) -> float:
            return compute_cost(problem.X, problem.Y, *params, TOY_LAM)[0]

        independent = numerical_gradient(cost, params[i], h)
        assert np.allclose(got, independent, rtol=1e-9, atol=1e-12)
    # The inputs are left unchanged.
    assert all(np.array_equal(a, b) for a, b in zip(weights, problem.weights, strict=True))


def test_numerical_check_tolerance_separates_one_sided_differences():
    """The check's tolerance passes centred differences written another way and fails one-sided ones."""
    settings = Settings()
    problem = toy_problem(seed=7, n=12, d=6, m=8, k=4)
    args = (problem.X, problem.Y, *problem.weights, TOY_LAM, settings.numgrad_h)
    expected = compute_grads_num_slow(*args)

    def within(grads):
        return all(
            np.all(np.abs(g - e) <= settings.numgrad_atol + settings.numgrad_rtol * np.abs(e))
            for g, e in zip(grads, expected, strict=True)
        )

    params = [w.copy() for w in problem.weights]
    other = []
    for i in range(4):
        grad = np.zeros_like(params[i])
        for ix in np.ndindex(params[i].shape):
            up = [p.copy() for p in params]
            down = [p.copy() for p in params]
            up[i][ix] += settings.numgrad_h
            down[i][ix] -= settings.numgrad_h
            grad[ix] = (
                torch_cost(problem.X, problem.Y, up, TOY_LAM)[0] - torch_cost(problem.X, problem.Y, down, TOY_LAM)[0]
            ) / (2 * settings.numgrad_h)
        other.append(grad)
    assert within(other)
    one_sided = dict(NUMERICAL_MUTANTS)[ONE_SIDED](*args)
    assert not within(one_sided)


def test_schedule_equals_the_closed_form():
    for t, eta in pub.ETA_POINTS.items():
        assert cyclical_eta(t, 1e-5, 1e-1, 500) == pytest.approx(eta, rel=1e-14)
    for n_s in (1, 3, 7, 500):
        for t in range(0, 6 * n_s + 1):
            assert cyclical_eta(t, 2e-4, 0.3, n_s) == pytest.approx(triangle(t, 2e-4, 0.3, n_s), rel=1e-12)


def autograd_training(X, Y, X_val, Y_val, params, weights, lam):
    """An independent trainer: autograd gradients, the closed-form schedule, the handout's batch order."""
    W = [w.copy() for w in weights]
    per_epoch = X.shape[1] // params["n_batch"]
    total = 2 * params["n_s"] * params["cycles"]
    costs = []
    for t in range(total):
        j = t % per_epoch
        cols = slice(j * params["n_batch"], (j + 1) * params["n_batch"])
        _, _, grads = torch_cost(X[:, cols], Y[:, cols], W, lam)
        eta = triangle(t, params["eta_min"], params["eta_max"], params["n_s"])
        W = [w - eta * g for w, g in zip(W, grads, strict=True)]
        if j == per_epoch - 1 or t == total - 1:
            costs.append(torch_cost(X, Y, W, lam)[0])
    return W, costs


def test_trajectory_equals_an_autograd_trainer():
    X, Y, X_val, Y_val = reduced_data()
    start = init_weights(REDUCED_D, HIDDEN, K, REDUCED_INIT_SEED)
    *weights, history = mini_batch_gd(X, Y, X_val, Y_val, REDUCED, *start, CONFIG_1_LAM)
    independent, costs = autograd_training(X, Y, X_val, Y_val, REDUCED, start, CONFIG_1_LAM)
    assert list(history) == list(HISTORY_KEYS) and all(len(v) == 10 for v in history.values())
    assert np.allclose(history["cost_train"], costs, rtol=1e-9, atol=0)
    for got, want in zip(weights, independent, strict=True):
        assert relative_error(got, want) < 1e-7
    assert history["cost_train"][0] == pytest.approx(pub.REDUCED_COST_FIRST, abs=pub.PRINTED_TOLERANCE)
    assert history["cost_train"][-1] == pytest.approx(pub.REDUCED_COST_LAST, abs=pub.PRINTED_TOLERANCE)
    # The start weights were not changed in place.
    assert np.array_equal(start[0], init_weights(REDUCED_D, HIDDEN, K, REDUCED_INIT_SEED)[0])


def test_a_partial_last_epoch_is_recorded():
    X, Y, X_val, Y_val = reduced_data()
    start = init_weights(REDUCED_D, HIDDEN, K, REDUCED_INIT_SEED)
    params = dict(REDUCED, n_s=7, cycles=1)  # 14 updates: one epoch of 10, then 4
    *_, history = mini_batch_gd(X, Y, X_val, Y_val, params, *start, CONFIG_1_LAM)
    _, costs = autograd_training(X, Y, X_val, Y_val, params, start, CONFIG_1_LAM)
    assert len(history["cost_train"]) == 2
    assert np.allclose(history["cost_train"], costs, rtol=1e-9, atol=0)


def test_the_uneven_run_leaves_columns_out_and_records_its_partial_last_epoch():
    """The trajectory check's second run: 950 images, 9 batches an epoch (50 columns unused), and the
    100 updates end one update into the 12th epoch, which is recorded too."""
    X, Y, X_val, Y_val = uneven_data()
    assert X.shape == (REDUCED_D, UNEVEN_N) and UNEVEN_N % REDUCED["n_batch"] == 50
    assert np.array_equal(X, reduced_data()[0][:, :UNEVEN_N])
    start = init_weights(REDUCED_D, HIDDEN, K, REDUCED_INIT_SEED)
    *weights, history = mini_batch_gd(X, Y, X_val, Y_val, REDUCED, *start, CONFIG_1_LAM)
    independent, costs = autograd_training(X, Y, X_val, Y_val, REDUCED, start, CONFIG_1_LAM)
    assert all(len(v) == 12 for v in history.values())
    assert np.allclose(history["cost_train"], costs, rtol=1e-9, atol=0)
    for got, want in zip(weights, independent, strict=True):
        assert relative_error(got, want) < 1e-7


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # G with the wrong sign diverges to log(0)
def test_every_mutant_changes_the_output():
    toy = toy_problem()
    H, P = evaluate_classifier(toy.X, *toy.weights)
    for name, fn in FORWARD_MUTANTS:
        assert not np.allclose(fn(toy.X, *toy.weights)[1], P), name
    reference_cost = compute_cost(toy.X, toy.Y, *toy.weights, TOY_LAM)
    for name, fn in COST_MUTANTS:
        assert not np.allclose(fn(toy.X, toy.Y, toy.weights, TOY_LAM), reference_cost), name
    expected = compute_gradients(toy.X, toy.Y, H, P, toy.W1, toy.W2, TOY_LAM)
    for name, fn in GRADIENT_MUTANTS:
        got = fn(toy.X, toy.Y, H, P, toy.W1, toy.W2, TOY_LAM)
        assert any(g.shape != e.shape or not np.allclose(g, e) for g, e in zip(got, expected, strict=True)), name
    # Every 50 updates, and next to the turning points of later cycles (where a wrong cycle index shows).
    ts = [*range(0, 1500, 50), *(k * 500 + r for k in range(2, 10) for r in (-1, 1, 2))]
    for name, fn in ETA_MUTANTS:
        assert not np.allclose([fn(t, 1e-5, 0.1, 500) for t in ts], [cyclical_eta(t, 1e-5, 0.1, 500) for t in ts]), name
    X, Y, X_val, Y_val = reduced_data()
    args = (X, Y, X_val, Y_val, REDUCED, *init_weights(REDUCED_D, HIDDEN, K, REDUCED_INIT_SEED), CONFIG_1_LAM)
    # The trajectory check tells them apart on the first two epochs, so two epochs must differ.
    reference_costs = mini_batch_gd(*args, max_epochs=2)[4]["cost_train"]
    for name, fn in TRAINING_MUTANTS:
        assert not np.allclose(fn(*args, max_epochs=2)[4]["cost_train"], reference_costs, rtol=1e-6, atol=0), name
    # The uneven run's mistakes change its history (they are compared over the whole run); they leave
    # the reduced configuration 1 alone.
    uneven = (*uneven_data(), *args[4:])
    reference_costs = mini_batch_gd(*uneven)[4]["cost_train"]
    for name, fn in UNEVEN_MUTANTS:
        costs = fn(*uneven)[4]["cost_train"]
        assert len(costs) != len(reference_costs) or not np.allclose(costs, reference_costs, rtol=1e-6), name
        assert fn(*args)[4] == mini_batch_gd(*args)[4], name


def write(tmp_path: Path, payload) -> Path:
    path = tmp_path / "hyperparams.json"
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload))
    return path


GOOD = {
    "lam": 0.003,
    "n_s": 900,
    "cycles": 3,
    "n_batch": 100,
    "coarse": {"l_min": -5, "l_max": -1},
    "fine": {"l_min": -3, "l_max": -2},
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"lam": 0.5}, "outside the fine range"),
        ({"fine": {"l_min": -6, "l_max": -2}}, "inside the coarse range"),
        ({"coarse": {"l_min": -1, "l_max": -5}}, "l_min must be below l_max"),
        ({"n_s": 900.5}, "n_s"),
        ({"extra": 1}, "extra"),
        ({"lam": None}, "lam"),
    ],
)
def test_hyperparams_are_refused_with_one_line(tmp_path, change, message):
    with pytest.raises(HyperparamError, match=message) as info:
        load_hyperparams(write(tmp_path, {**GOOD, **change}))
    assert "\n" not in str(info.value)


def test_hyperparams_accept_the_handout_example_and_refuse_the_template(tmp_path):
    assert load_hyperparams(write(tmp_path, GOOD)).updates == 5400
    with pytest.raises(HyperparamError):
        load_hyperparams(TEMPLATE / "hyperparams.json")
    with pytest.raises(HyperparamError, match="not a number"):
        load_hyperparams(write(tmp_path, '{"lam": NaN}'))


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("BACKPROP_GRADER_DATA_DIR"), reason="needs the real CIFAR-10 (BACKPROP_GRADER_DATA_DIR)"
)
def test_published_cifar_accuracy_of_configuration_1():
    from reference.numpy_clr.problems import cifar_splits

    first, _ = cifar_splits(Path(os.environ["BACKPROP_GRADER_DATA_DIR"]))
    start = init_weights(first.X.shape[0], HIDDEN, K, 0)
    Y = np.eye(K)[:, first.y]
    Y_val = np.eye(K)[:, first.y_val]
    *weights, _ = mini_batch_gd(first.X, Y, first.X_val, Y_val, CONFIG_1, *start, CONFIG_1_LAM)
    accuracy = compute_accuracy(first.X_test, first.y_test, *weights)
    assert accuracy == pytest.approx(pub.CIFAR_CONFIG_1_ACCURACY, abs=0.01)
