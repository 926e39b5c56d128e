"""hlcv-ex2: a two-layer network in numpy (forward pass, softmax loss, backpropagation, SGD with
momentum) and a PyTorch MLP, trained on CIFAR-10. Handout: ``student_template/hlcv-ex2/``;
reference: ``reference/hlcv_ex2/``; the published numbers: ``docs/assignments/hlcv-ex2.md``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .example import MISTAKES, write_example

__all__ = ["MISTAKES", "Settings", "check_reference", "write_example"]


class Settings(BaseModel):
    """The ``[settings]`` table of this pack's ``assignment.toml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: "retrain": train with hyperparams.json in the sandbox; "weights": evaluate best_net.npz / mlp.pt;
    #: "off": no accuracy checks. Accuracy is always measured by the grader on labels the sandbox never sees.
    accuracy_mode: Literal["retrain", "weights", "off"] = "retrain"
    two_layer_min: float = Field(0.48, ge=0, le=1)
    mlp_min: float = Field(0.48, ge=0, le=1)


def check_reference() -> None:
    """Raise AssertionError when the reference misses the handout's published toy figures."""
    from reference.hlcv_ex2.toy import self_check

    if not self_check(echo=lambda _line: None):
        raise AssertionError("the reference does not reproduce the handout's toy loss, scores or gradients")
