"""The ``modular-mlp`` pack: numpy modules with forward/backward composed into an MLP, the same MLP in
PyTorch (batch norm on or off), and batch normalisation as a ``torch.autograd.Function`` with a
hand-written backward.

Checks: ``test_1_modules`` (each module against the reference and centred differences of its own
forward), ``test_2_mlp_numpy`` (initialisation, composed gradients, one SGD step), ``test_3_batchnorm``
(``gradcheck`` and the reference), ``test_4_mlp_pytorch`` (structure by behaviour) and
``test_5_accuracy`` (CIFAR-10 test accuracy of models trained in the sandbox, measured here).
Mistakes are named from ``mutants``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from .example import MISTAKES, write_example

__all__ = ["MISTAKES", "PUBLISHED", "Settings", "check_reference", "write_example"]


class Settings(BaseModel):
    """The ``[settings]`` table of ``assignment.toml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    accuracy: Literal["retrain", "off"] = "retrain"
    numpy_min_accuracy: float = Field(0.46, ge=0, le=1)
    torch_min_accuracy: float = Field(0.50, ge=0, le=1)
    numpy_hidden_dims: list[int] = Field(default_factory=lambda: [128], min_length=0, max_length=8)
    numpy_lr: float = Field(0.1, gt=0, le=10)
    numpy_batch_size: int = Field(128, ge=1, le=100_000)
    numpy_epochs: int = Field(10, ge=1, le=100)
    gradient_tolerance: float = Field(1e-8, gt=0, lt=1)


#: The numbers the handout publishes (README.md of the handout), reproduced by ``check_reference``.
PUBLISHED = {
    "input_layer_weight_0": (0.0089618141, -0.0024945916, 0.0116857235),
    "hidden_layer_weight_0": (0.0126739190, -0.0035278853, 0.0165261087),
    "toy_loss": 1.23659090885,
    "toy_loss_after_step": 1.10652807639,
    "bn_toy_column_0": (-1.34163542, -0.44721181, 0.44721181, 1.34163542),
}


def check_reference() -> None:
    """Raise AssertionError (one line) unless the reference reproduces every published number."""
    import torch  # noqa: PLC0415 - heavy; only this check needs it

    from reference.modular_mlp import toy  # noqa: PLC0415
    from reference.modular_mlp.custom_batchnorm import CustomBatchNormManualFunction  # noqa: PLC0415
    from reference.modular_mlp.mlp_numpy import train_step  # noqa: PLC0415
    from reference.modular_mlp.modules import CrossEntropyModule, LinearModule  # noqa: PLC0415

    def near(name: str, got: object, limit: float) -> None:
        expected = np.asarray(PUBLISHED[name])
        if not np.all(np.abs(np.asarray(got) - expected) < limit):
            raise AssertionError(f"reference gives {np.asarray(got)} for {name}, the handout says {expected}")

    for name, input_layer in (("input_layer_weight_0", True), ("hidden_layer_weight_0", False)):
        np.random.seed(toy.INIT_SEED)
        near(name, LinearModule(*toy.INIT_SHAPE, input_layer=input_layer).params["weight"][0, :3], 1e-10)
    net = toy.toy_mlp()
    x, y = toy.toy_data()
    near("toy_loss", CrossEntropyModule().forward(net.forward(x), y), 1e-10)
    train_step(net, x, y, 0.1)
    near("toy_loss_after_step", CrossEntropyModule().forward(net.forward(x), y), 1e-10)
    ones, zeros = torch.ones(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
    out = CustomBatchNormManualFunction.apply(toy.bn_toy_tensor(), ones, zeros)
    near("bn_toy_column_0", out[:, 0].numpy(), 1e-8)
