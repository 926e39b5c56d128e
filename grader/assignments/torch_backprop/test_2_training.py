"""``train_manual_update`` against ``torch.optim.SGD`` and ``train`` against the reference loop.

The student's model starts from the grader's initial weights; the data come in a fixed order. After
every epoch, every parameter and the loss history must match ``torch.optim.SGD`` run in the trusted
process from the same weights on the same batches.
"""

from __future__ import annotations

import numpy as np
import pytest

from grader.pack import Check, CheckFailed, Student, StudentException, hidden, needs, points, preload, title

from .fixtures import (
    FILE,
    MODULE,
    Problem,
    as_losses,
    data_objects,
    make_problem,
    param_names,
    relative_error,
    student_arrays,
    student_net,
)
from .mutants import NO_GRAD_MESSAGE, NO_GRAD_MISTAKE, TRAINING_MUTANTS, first_match, sgd_trajectory

pytestmark = [needs(FILE), preload("torch")]

EPOCHS = 3
BATCH = 16
LR = 0.05
#: (momentum, weight decay) of the visible checks.
SETTINGS = [(0.0, 0.0), (0.9, 0.0), (0.0, 0.01), (0.9, 0.01)]


def training_problem(seed: int, sizes=(3, 5, 4, 2), activations=("relu", "tanh", "identity"), n=48) -> Problem:
    return make_problem(sizes, activations, n, seed)


def reference_run(problem: Problem, n_epochs: int, make_optimizer) -> tuple[list[list[np.ndarray]], list[float]]:
    """Parameters after every epoch and the loss history of the reference ``train`` with ``torch.optim``."""
    from reference.torch_backprop.net import SquaredError, net_from_arrays, to_arrays
    from reference.torch_backprop.training import loader, train

    model = net_from_arrays(problem.sizes, problem.activations, problem.arrays)
    optimizer = make_optimizer(model.parameters())
    data = loader(problem.X, problem.Y, BATCH)
    snapshots, losses = [], []
    for _ in range(n_epochs):
        losses += train(1, optimizer, model, SquaredError(), data)
        snapshots.append(to_arrays(model))
    return snapshots, losses


def mutant_runs(problem: Problem, n_epochs: int, lr: float, momentum: float, decay: float) -> list:
    """Final parameters of every training mistake on the same problem."""
    from reference.torch_backprop.net import SquaredError, net_from_arrays, to_arrays
    from reference.torch_backprop.training import loader

    out = []
    for name, switches in TRAINING_MUTANTS:
        model = net_from_arrays(problem.sizes, problem.activations, problem.arrays)
        sgd_trajectory(
            model, SquaredError(), loader(problem.X, problem.Y, BATCH), n_epochs, lr, momentum, decay, **switches
        )
        out.append((name, to_arrays(model)))
    return out


def compare_epochs(
    runs: list[tuple[list[np.ndarray], np.ndarray]], expected: list[list[np.ndarray]], losses: list[float], limit: float
) -> list[str]:
    """What differs between the student's runs of 1..E epochs and the reference's snapshots."""
    wrong = []
    names = param_names(len(expected[0]) // 2)
    for epochs, (arrays, history) in enumerate(runs, start=1):
        for name, got, want in zip(names, arrays, expected[epochs - 1], strict=True):
            error, where = relative_error(got, want)
            if not error < limit:
                wrong.append(f"after {epochs} epoch(s), {name}: max relative error {error:.1e} at {where}")
                break
        error, where = relative_error(history, np.asarray(losses[:epochs]))
        if not error < limit:
            wrong.append(f"loss history of a {epochs}-epoch run {history.tolist()}, expected {losses[:epochs]}")
    return wrong


def student_runs(student: Student, problem: Problem, n_epochs: int, call) -> list[tuple[list[np.ndarray], np.ndarray]]:
    """Train fresh student models for 1..n_epochs epochs; return (parameters, loss history) of each."""
    loss_fn = student.new(MODULE, "SquaredError")
    loader = data_objects(student, problem.X, problem.Y, BATCH)
    runs = []
    for epochs in range(1, n_epochs + 1):
        model = student_net(student, problem)
        value = call(epochs, model, loss_fn, loader)
        history = as_losses(value, epochs, f"the losses returned after {epochs} epoch(s)")
        runs.append((student_arrays(model, problem, f"after {epochs} epoch(s)"), history))
    return runs


def check_manual_sgd(
    student: Student, check: Check, problem: Problem, lr: float, momentum: float, decay: float, limit: float
) -> None:
    import torch

    expected, losses = reference_run(
        problem, EPOCHS, lambda params: torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=decay)
    )

    def call(epochs, model, loss_fn, loader):
        try:
            value, _ = student.call(
                MODULE,
                "train_manual_update",
                epochs,
                lr,
                model.ref,
                loss_fn.ref,
                loader.ref,
                momentum=momentum,
                weight_decay=decay,
            )
        except StudentException as exc:
            if NO_GRAD_MESSAGE in str(exc):
                check.diagnose(NO_GRAD_MISTAKE)
            raise
        return value

    runs = student_runs(student, problem, EPOCHS, call)
    wrong = compare_epochs(runs, expected, losses, limit)
    if wrong:
        mistake = first_match(runs[-1][0], mutant_runs(problem, EPOCHS, lr, momentum, decay))
        if mistake:
            check.diagnose(mistake)
        raise CheckFailed(f"momentum={momentum}, weight_decay={decay}: " + "; ".join(wrong[:3]))


@points(7)
@title("train_manual_update matches torch.optim.SGD after every epoch")
@pytest.mark.parametrize(("momentum", "decay"), SETTINGS, ids=[f"m{m}-wd{d}" for m, d in SETTINGS])
def test_manual_sgd(student, check, settings, momentum, decay):
    check_manual_sgd(student, check, training_problem(7), LR, momentum, decay, settings.training_tolerance)


@points(7)
@hidden
@title("train_manual_update on a hidden network and setting")
def test_hidden_manual_sgd(student, check, settings, hidden_seed):
    rng = np.random.default_rng(hidden_seed)
    momentum = float(rng.choice([0.5, 0.8, 0.95]))
    decay = float(rng.choice([0.001, 0.005, 0.02]))
    lr = float(rng.choice([0.01, 0.02, 0.05]))
    sizes = tuple(int(v) for v in rng.integers(2, 7, 4))
    problem = training_problem(int(rng.integers(1 << 30)), sizes, ("tanh", "relu", "identity"), 32)
    check_manual_sgd(student, check, problem, lr, momentum, decay, settings.training_tolerance)


#: Optimizers ``train`` is run with: (label, dotted class in the handout's module, keyword arguments).
OPTIMIZERS = [
    ("SGD with momentum", "torch.optim.SGD", {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.01}),
    ("Adam", "torch.optim.Adam", {"lr": 0.01}),
]


@points(10)
@title("train with torch.optim optimizers matches the reference loop")
def test_train_with_optimizer(student, check, settings):
    import torch

    problem = training_problem(11)
    wrong: list[str] = []
    passed = 0
    for label, dotted, kwargs in OPTIMIZERS:
        optimizer_class = getattr(torch.optim, dotted.rsplit(".", 1)[1])
        expected, losses = reference_run(problem, EPOCHS, lambda params, c=optimizer_class, k=kwargs: c(params, **k))

        def call(epochs, model, loss_fn, loader, dotted=dotted, kwargs=kwargs):
            optimizer = student.new(MODULE, dotted, model.call_object("parameters").ref, **kwargs)
            value, _ = student.call(MODULE, "train", epochs, optimizer.ref, model.ref, loss_fn.ref, loader.ref)
            return value

        runs = student_runs(student, problem, EPOCHS, call)
        found = compare_epochs(runs, expected, losses, settings.training_tolerance)
        if found:
            wrong.append(f"{label}: " + "; ".join(found[:2]))
            if label.startswith("SGD") and check.diagnosis is None:
                never_zeroed = [m for m in mutant_runs(problem, EPOCHS, 0.05, 0.9, 0.01) if "never zeroed" in m[0]]
                mistake = first_match(runs[-1][0], never_zeroed)
                if mistake:
                    check.diagnose(mistake)
        else:
            passed += 1
    check.partial(passed / len(OPTIMIZERS))
    if wrong:
        raise CheckFailed(" | ".join(wrong))
