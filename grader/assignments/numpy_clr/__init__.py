"""numpy-clr: a two-layer network in column-major numpy, a centred-difference gradient check,
mini-batch gradient descent with a cyclical learning rate, and a search for lambda.

The checks are the ``test_*.py`` modules beside this file; the mistake catalogue is ``mutants.py``;
the reference is ``reference.numpy_clr``; the handout is ``student_template/numpy-clr/``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .example import MISTAKES, write_example

__all__ = ["MISTAKES", "Settings", "check_reference", "write_example"]


class Settings(BaseModel):
    """The ``[settings]`` table of ``assignment.toml``: tolerances, thresholds and the accuracy mode."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Analytic gradients vs. the reference: max relative error, per parameter.
    grad_tolerance: float = Field(1e-8, gt=0, lt=1)
    #: Step the grader passes to the student's compute_grads_num_slow (large enough that one-sided
    #: differences are told apart from centred ones, small enough that centred ones stay exact).
    numgrad_h: float = Field(1e-3, gt=0, lt=1)
    #: Student's vs. reference's centred differences: |a - e| <= atol + rtol * |e|.
    numgrad_atol: float = Field(1e-8, ge=0)
    numgrad_rtol: float = Field(1e-6, ge=0)
    #: cyclical_eta vs. the reference: max relative error.
    eta_tolerance: float = Field(1e-12, gt=0, lt=1)
    #: Per-epoch history of mini_batch_gd vs. the reference's: max relative error.
    trajectory_tolerance: float = Field(1e-8, gt=0, lt=1)
    #: "retrain": train in the sandbox on CIFAR-10 and measure test accuracy; "off": no accuracy checks.
    accuracy: Literal["retrain", "off"] = "retrain"
    config1_min_accuracy: float = Field(0.45, ge=0, le=1)
    final_min_accuracy: float = Field(0.50, ge=0, le=1)
    #: Most updates (2 n_s cycles) a student's hyperparams.json may ask for in the final run.
    max_updates: int = Field(8000, ge=1)


def check_reference() -> None:
    """Raise AssertionError with one line if the reference misses a number the handout publishes."""
    from reference.numpy_clr import compute_accuracy, compute_cost, cyclical_eta, init_weights, mini_batch_gd
    from reference.numpy_clr.problems import (
        CONFIG_1_LAM,
        HIDDEN,
        REDUCED,
        REDUCED_D,
        REDUCED_INIT_SEED,
        TOY_LAM,
        K,
        reduced_data,
        toy_problem,
    )

    from . import published as pub

    def agree(name: str, value: float, expected: float, tolerance: float = pub.PRINTED_TOLERANCE) -> None:
        if not abs(value - expected) <= tolerance:
            raise AssertionError(f"reference {name} is {value!r}, the handout publishes {expected!r}")

    toy = toy_problem()
    cost, loss = compute_cost(toy.X, toy.Y, *toy.weights, TOY_LAM)
    agree("toy cost", cost, pub.TOY_COST)
    agree("toy loss", loss, pub.TOY_LOSS)
    agree("toy accuracy", compute_accuracy(toy.X, toy.y, *toy.weights), pub.TOY_ACCURACY, 0)
    for t, eta in pub.ETA_POINTS.items():
        agree(f"cyclical_eta({t})", cyclical_eta(t, 1e-5, 1e-1, 500), eta, 1e-15)
    X, Y, X_val, Y_val = reduced_data()
    *_, history = mini_batch_gd(
        X, Y, X_val, Y_val, REDUCED, *init_weights(REDUCED_D, HIDDEN, K, REDUCED_INIT_SEED), CONFIG_1_LAM
    )
    agree("reduced first-epoch cost", history["cost_train"][0], pub.REDUCED_COST_FIRST)
    agree("reduced last-epoch cost", history["cost_train"][-1], pub.REDUCED_COST_LAST)
    agree("reduced last-epoch validation cost", history["cost_val"][-1], pub.REDUCED_VAL_COST_LAST)
    agree("reduced last-epoch validation accuracy", history["acc_val"][-1], pub.REDUCED_VAL_ACC_LAST, 0)
