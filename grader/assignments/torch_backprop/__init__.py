"""The torch-backprop pack: backpropagation and SGD written by hand for a PyTorch network.

Students fill in ``backprop.py``: ``backpropagation`` (gradients of the squared error, checked
against ``loss.backward()``), ``train_manual_update`` (SGD by hand, checked against
``torch.optim.SGD``) and ``train`` (the loop with a ``torch.optim`` optimizer), and choose the
hyperparameters of a CIFAR-2 (airplane vs bird) MLP in ``hyperparams.json``, which the grader
retrains in the sandbox and measures outside it. The reference is ``reference.torch_backprop``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .example import MISTAKES, write_example

__all__ = ["MISTAKES", "Settings", "check_reference", "write_example"]


class Settings(BaseModel):
    """The ``[settings]`` table of this pack's ``assignment.toml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Largest relative error of a gradient against autograd.
    gradient_tolerance: float = Field(1e-8, gt=0, lt=1)
    #: Largest relative error of a parameter or loss against torch.optim after training.
    training_tolerance: float = Field(1e-10, gt=0, lt=1)
    #: "retrain": train the CIFAR-2 MLP with hyperparams.json in the sandbox; "off": no accuracy check.
    accuracy_mode: Literal["retrain", "off"] = "retrain"
    #: Validation and test accuracy the CIFAR-2 MLP must reach.
    min_accuracy: float = Field(0.80, ge=0, le=1)


def _close(actual: float, published: float, name: str) -> None:
    # Published numbers have 12 significant digits.
    if not abs(actual - published) <= 1e-10 * max(abs(published), 1e-3):
        raise AssertionError(f"the reference gives {name} = {actual!r}, the handout publishes {published!r}")


def check_reference() -> None:
    """Raise ``AssertionError`` (one line) unless the reference reproduces the handout's published numbers."""
    from reference.torch_backprop import example

    numbers = example.example_numbers()
    _close(float(numbers["loss"]), example.PUBLISHED["loss"], "the example loss")
    for i, (got, want) in enumerate(zip(numbers["dL_db[2]"], example.PUBLISHED["dL_db[2]"], strict=True)):
        _close(got, want, f"dL_db[2][{i}]")
    _close(float(numbers["dL_dw[1][0][1]"]), example.PUBLISHED["dL_dw[1][0][1]"], "dL_dw[1][0][1]")
    for epoch, (got, want) in enumerate(zip(example.example_losses(), example.PUBLISHED_LOSSES, strict=True), 1):
        _close(got, want, f"the example's loss of epoch {epoch}")
