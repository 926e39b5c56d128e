"""``train_manual_update`` against ``torch.optim.SGD`` and ``train`` against the reference loop.

The student's model starts from the grader's initial weights; the data come in a fixed order. After
every epoch, every parameter and the loss history must match ``torch.optim.SGD`` run in the trusted
process from the same weights on the same batches. The hidden check's sample count is never a
multiple of the batch size, so every epoch ends with a smaller batch: the loss history is the plain
mean of the epoch's batch losses, which a mean over the samples only equals when the batches are
equal.
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
from .mutants import (
    LOSS_MUTANTS,
    NO_GRAD_MESSAGE,
    NO_GRAD_MISTAKE,
    TRAINING_MUTANTS,
    first_match,
    matches,
    sgd_trajectory,
)

pytestmark = [needs(FILE), preload("torch")]

EPOCHS = 3
BATCH = 16
LR = 0.05
#: (momentum, weight decay) of the visible checks.
SETTINGS = [(0.0, 0.0), (0.9, 0.0), (0.0, 0.01), (0.9, 0.01)]
#: Named when a run without momentum and weight_decay is not the (0, 0) run.
DEFAULTS_MISTAKE = "default momentum or weight_decay not 0: the signature's defaults are momentum=0, weight_decay=0"
#: What the loss history must hold, said when only the loss history is wrong.
LOSS_HISTORY = "each entry is the mean of that epoch's batch losses, loss.item()"


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


def mutant_runs(
    problem: Problem, n_epochs: int, lr: float, momentum: float, decay: float, expected: list[np.ndarray]
) -> list:
    """Final parameters of every training mistake on the same problem, leaving out the mistakes that
    give the reference's final parameters ``expected`` in this setting (weight decay after momentum
    without momentum or without weight decay, ...): those cannot be told apart from a right answer."""
    from reference.torch_backprop.net import SquaredError, net_from_arrays, to_arrays
    from reference.torch_backprop.training import loader

    out = []
    for name, switches in TRAINING_MUTANTS:
        model = net_from_arrays(problem.sizes, problem.activations, problem.arrays)
        sgd_trajectory(
            model, SquaredError(), loader(problem.X, problem.Y, BATCH), n_epochs, lr, momentum, decay, **switches
        )
        arrays = to_arrays(model)
        if not matches(arrays, expected):
            out.append((name, arrays))
    return out


def loss_history_mutants(
    problem: Problem, n_epochs: int, lr: float, momentum: float, decay: float, losses: list[float]
) -> list[tuple[str, np.ndarray]]:
    """The loss history of every loss-history mistake along the reference's trajectory, leaving out
    those equal to the reference's history ``losses`` here (a mean over samples with equal batches)."""
    from reference.torch_backprop.net import SquaredError, net_from_arrays
    from reference.torch_backprop.training import loader

    model = net_from_arrays(problem.sizes, problem.activations, problem.arrays)
    seen: list[list[tuple[float, int]]] = []
    sgd_trajectory(
        model, SquaredError(), loader(problem.X, problem.Y, BATCH), n_epochs, lr, momentum, decay, batches_seen=seen
    )
    out = []
    for name, entry in LOSS_MUTANTS:
        history = np.array([entry(epoch) for epoch in seen])
        if not matches([history], [np.asarray(losses)]):
            out.append((name, history))
    return out


def history_mistake(runs: list[tuple[list[np.ndarray], np.ndarray]], candidates: list) -> str | None:
    """The first loss-history mistake whose history every run of 1..E epochs gives."""
    for name, history in candidates:
        if all(matches([got], [history[:epochs]]) for epochs, (_, got) in enumerate(runs, start=1)):
            return name
    return None


def first_wrong_parameter(arrays: list[np.ndarray], expected: list[np.ndarray], limit: float) -> str | None:
    """``NAME: max relative error E at WHERE`` for the first parameter off by ``limit`` or more, else None."""
    for name, got, want in zip(param_names(len(expected) // 2), arrays, expected, strict=True):
        error, where = relative_error(got, want)
        if not error < limit:
            return f"{name}: max relative error {error:.1e} at {where}"
    return None


def compare_epochs(
    runs: list[tuple[list[np.ndarray], np.ndarray]], expected: list[list[np.ndarray]], losses: list[float], limit: float
) -> tuple[list[str], bool]:
    """What differs between the student's runs of 1..E epochs and the reference's snapshots, and
    whether every parameter after every epoch is right (so only loss histories can differ)."""
    wrong = []
    parameters_right = True
    for epochs, (arrays, history) in enumerate(runs, start=1):
        off = first_wrong_parameter(arrays, expected[epochs - 1], limit)
        if off:
            wrong.append(f"after {epochs} epoch(s), {off}")
            parameters_right = False
        error, where = relative_error(history, np.asarray(losses[:epochs]))
        if not error < limit:
            wrong.append(f"loss history of a {epochs}-epoch run {history.tolist()}, expected {losses[:epochs]}")
    return wrong, parameters_right


def only_losses_differ(
    against: str, runs: list[tuple[list[np.ndarray], np.ndarray]], losses: list[float], limit: float
) -> str:
    """One line for right parameters with a wrong loss history: the longest run whose history differs."""
    for epochs in range(len(runs), 0, -1):
        history = runs[epochs - 1][1]
        error, _ = relative_error(history, np.asarray(losses[:epochs]))
        if not error < limit:
            break
    return (
        f"parameters match {against} after every epoch, but the loss history differs: a {epochs}-epoch run"
        f" returned {history.tolist()}, expected {losses[:epochs]} ({LOSS_HISTORY})"
    )


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
    wrong, parameters_right = compare_epochs(runs, expected, losses, limit)
    if not wrong:
        if momentum == 0 and decay == 0:
            check_defaults(student, check, problem, lr, expected[0], limit)
        return
    setting = f"momentum={momentum}, weight_decay={decay}: "
    if parameters_right:
        mistake = history_mistake(runs, loss_history_mutants(problem, EPOCHS, lr, momentum, decay, losses))
        if mistake:
            check.diagnose(mistake)
        raise CheckFailed(setting + only_losses_differ("torch.optim.SGD", runs, losses, limit))
    mistake = first_match(runs[-1][0], mutant_runs(problem, EPOCHS, lr, momentum, decay, expected[-1]))
    if mistake:
        check.diagnose(mistake)
    raise CheckFailed(setting + "; ".join(wrong[:3]))


def check_defaults(
    student: Student, check: Check, problem: Problem, lr: float, expected: list[np.ndarray], limit: float
) -> None:
    """One epoch without the momentum and weight_decay arguments must be the (0, 0) run: the
    handout's signature has the defaults ``momentum=0, weight_decay=0``."""
    loss_fn = student.new(MODULE, "SquaredError")
    loader = data_objects(student, problem.X, problem.Y, BATCH)
    model = student_net(student, problem)
    student.call(MODULE, "train_manual_update", 1, lr, model.ref, loss_fn.ref, loader.ref)
    arrays = student_arrays(model, problem, "after 1 epoch with the default momentum and weight_decay")
    off = first_wrong_parameter(arrays, expected, limit)
    if off:
        check.diagnose(DEFAULTS_MISTAKE)
        raise CheckFailed(
            "called without momentum and weight_decay, train_manual_update does not train as with"
            f" momentum=0, weight_decay=0 (after 1 epoch, {off}); the handout's defaults are momentum=0,"
            " weight_decay=0"
        )


@points(7)
@title("train_manual_update matches torch.optim.SGD after every epoch")
@pytest.mark.parametrize(("momentum", "decay"), SETTINGS, ids=[f"m{m}-wd{d}" for m, d in SETTINGS])
def test_manual_sgd(student, check, settings, momentum, decay):
    check_manual_sgd(student, check, training_problem(7), LR, momentum, decay, settings.training_tolerance)


def hidden_setting(seed: int) -> tuple[Problem, float, float, float]:
    """The hidden check's problem and (lr, momentum, weight decay) for a secret seed.

    The sample count is 2 * BATCH + 1 .. 3 * BATCH - 1 (33..47): batches of 16, 16 and a smaller last
    one, which the loader keeps (no ``drop_last``).
    """
    rng = np.random.default_rng(seed)
    momentum = float(rng.choice([0.5, 0.8, 0.95]))
    decay = float(rng.choice([0.001, 0.005, 0.02]))
    lr = float(rng.choice([0.01, 0.02, 0.05]))
    sizes = tuple(int(v) for v in rng.integers(2, 7, 4))
    problem_seed = int(rng.integers(1 << 30))
    n = int(rng.integers(2 * BATCH + 1, 3 * BATCH))
    return training_problem(problem_seed, sizes, ("tanh", "relu", "identity"), n), lr, momentum, decay


@points(7)
@hidden
@title("train_manual_update on a hidden network and setting, with a smaller last batch")
def test_hidden_manual_sgd(student, check, settings, hidden_seed):
    problem, lr, momentum, decay = hidden_setting(hidden_seed)
    check_manual_sgd(student, check, problem, lr, momentum, decay, settings.training_tolerance)


#: Samples of ``train``'s problem: not a multiple of ``BATCH``, so its last batch is smaller.
TRAIN_SAMPLES = 2 * BATCH + 12

#: Optimizers ``train`` is run with: (label, dotted class in the handout's module, keyword arguments).
OPTIMIZERS = [
    ("SGD with momentum", "torch.optim.SGD", {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.01}),
    ("Adam", "torch.optim.Adam", {"lr": 0.01}),
]


@points(10)
@title("train with torch.optim optimizers matches the reference loop")
def test_train_with_optimizer(student, check, settings):
    import torch

    # 44 samples: batches of 16, 16 and 12, so a loss history averaged over the samples differs.
    problem = training_problem(11, n=TRAIN_SAMPLES)
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
        found, parameters_right = compare_epochs(runs, expected, losses, settings.training_tolerance)
        if not found:
            passed += 1
        elif parameters_right:
            limit = settings.training_tolerance
            wrong.append(f"{label}: " + only_losses_differ("the reference loop", runs, losses, limit))
            if label.startswith("SGD") and check.diagnosis is None:
                mistake = history_mistake(
                    runs,
                    loss_history_mutants(
                        problem, EPOCHS, kwargs["lr"], kwargs["momentum"], kwargs["weight_decay"], losses
                    ),
                )
                if mistake:
                    check.diagnose(mistake)
        else:
            wrong.append(f"{label}: " + "; ".join(found[:2]))
            if label.startswith("SGD") and check.diagnosis is None:
                candidates = mutant_runs(
                    problem, EPOCHS, kwargs["lr"], kwargs["momentum"], kwargs["weight_decay"], expected[-1]
                )
                mistake = first_match(runs[-1][0], [m for m in candidates if "never zeroed" in m[0]])
                if mistake:
                    check.diagnose(mistake)
    check.partial(passed / len(OPTIMIZERS))
    if wrong:
        raise CheckFailed(" | ".join(wrong))
