"""The toy problem of docs/assignments/hlcv-ex2.md and a self-check of the reference against it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from reference.gradcheck import numerical_gradient, relative_error
from reference.hlcv_ex2.two_layernet import PARAM_NAMES, TwoLayerNet

INPUT_SIZE, HIDDEN_SIZE, NUM_CLASSES, NUM_INPUTS = 4, 10, 3, 5

TOY_REG = 0.05
TOY_LOSS = 1.30378789133
TOY_PROBS = np.array(
    [
        [0.36446210, 0.22911264, 0.40642526],
        [0.47590629, 0.17217039, 0.35192332],
        [0.43035767, 0.26164229, 0.30800004],
        [0.41583127, 0.29832280, 0.28584593],
        [0.36328815, 0.32279939, 0.31391246],
    ]
)

# Pass marks, all from docs/assignments/hlcv-ex2.md.
PROBS_TOLERANCE = 1e-7  # sum of absolute differences
LOSS_TOLERANCE = 1e-10  # the published loss has 11 decimals
GRAD_TOLERANCE = 1e-8  # max relative error against centred differences, h = 1e-5
TRAIN_LOSS_MAX = 0.02  # final loss of the toy training run

TOY_TRAIN_KWARGS: dict[str, float | int] = {"learning_rate": 1e-1, "reg": 5e-6, "num_iters": 100}


def toy_model() -> TwoLayerNet:
    """The toy network: seed 0, weights ``0.1 * randn`` (W1 first), zero biases."""
    np.random.seed(0)
    return TwoLayerNet(INPUT_SIZE, HIDDEN_SIZE, NUM_CLASSES, std=1e-1)


def toy_data() -> tuple[np.ndarray, np.ndarray]:
    """The toy inputs and labels: seed 1, ``X = 10 * randn(5, 4)``, ``y = [0, 1, 2, 2, 1]``."""
    np.random.seed(1)
    X = 10 * np.random.randn(NUM_INPUTS, INPUT_SIZE)
    y = np.array([0, 1, 2, 2, 1])
    return X, y


def toy_training_loss(momentum: float = 0.0) -> float:
    """Final loss of ``train(X, y, X, y, lr=1e-1, reg=5e-6, num_iters=100)`` on the toy problem.

    Model then data, as the notebook does, so the minibatch draws follow seed 1.
    """
    net = toy_model()
    X, y = toy_data()
    stats = net.train(X, y, X, y, momentum=momentum, **TOY_TRAIN_KWARGS)
    return float(stats["loss_history"][-1])


@dataclass
class ToyFigures:
    """Everything the self-check measures on the toy problem."""

    probs_diff: float
    loss: float
    loss_diff: float
    grad_errors: dict[str, float] = field(default_factory=dict)
    train_loss: dict[float, float] = field(default_factory=dict)

    def checks(self) -> list[tuple[str, float, str, bool]]:
        """Rows of (figure, value, pass mark, passed)."""
        rows = [
            (
                "probabilities: sum |diff|",
                self.probs_diff,
                f"< {PROBS_TOLERANCE:g}",
                self.probs_diff < PROBS_TOLERANCE,
            ),
            ("loss", self.loss, f"= {TOY_LOSS}", self.loss_diff < LOSS_TOLERANCE),
            ("loss: |diff|", self.loss_diff, f"< {LOSS_TOLERANCE:g}", self.loss_diff < LOSS_TOLERANCE),
        ]
        for name, err in self.grad_errors.items():
            rows.append((f"grad {name}: rel. error", err, f"< {GRAD_TOLERANCE:g}", err < GRAD_TOLERANCE))
        for momentum, loss in self.train_loss.items():
            rows.append(
                (
                    f"training loss, momentum {momentum:g}",
                    loss,
                    f"<= {TRAIN_LOSS_MAX:g}",
                    loss <= TRAIN_LOSS_MAX,
                )
            )
        return rows

    @property
    def passed(self) -> bool:
        return all(ok for *_, ok in self.checks())


def toy_figures(momenta: tuple[float, ...] = (0.0, 0.9)) -> ToyFigures:
    """Measure the reference on the toy problem (float64 throughout)."""
    net = toy_model()
    X, y = toy_data()
    probs = net.loss(X)
    probs_diff = float(np.sum(np.abs(probs - TOY_PROBS)))
    loss, grads = net.loss(X, y, reg=TOY_REG)
    grad_errors = {}
    for name in PARAM_NAMES:
        numeric = numerical_gradient(lambda _: net.loss(X, y, reg=TOY_REG)[0], net.params[name], h=1e-5)
        grad_errors[name] = relative_error(grads[name], numeric)
    train_loss = {m: toy_training_loss(m) for m in momenta}
    return ToyFigures(
        probs_diff=probs_diff,
        loss=float(loss),
        loss_diff=abs(float(loss) - TOY_LOSS),
        grad_errors=grad_errors,
        train_loss=train_loss,
    )


def self_check(echo: Callable[[str], None] = print) -> bool:
    """Print a table of the toy figures and their pass marks; return whether all pass."""
    figures = toy_figures()
    rows = figures.checks()
    width = max(len(name) for name, *_ in rows)
    echo(f"{'figure':<{width}}  {'value':>20}  {'pass mark':<18}  result")
    for name, value, mark, ok in rows:
        echo(f"{name:<{width}}  {value:>20.13g}  {mark:<18}  {'ok' if ok else 'FAIL'}")
    echo("all toy checks pass" if figures.passed else "some toy checks FAIL")
    return figures.passed
