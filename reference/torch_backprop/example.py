"""The handout's worked example: a small network whose gradients and SGD losses students can check.

``MyNet([2, 3, 2], ["tanh", "sigmoid"])`` built right after ``torch.manual_seed(265)``, the batch
``X``, ``Y`` below; the handout publishes the loss, some gradients and the losses of
``train_manual_update(3, 0.1, model, SquaredError(), loader, momentum=0.9, weight_decay=0.01)``
with a loader of batch size 1 and no shuffling.
"""

from __future__ import annotations

import numpy as np
import torch

from reference.torch_backprop.net import MyNet, SquaredError, backpropagation, squared_error
from reference.torch_backprop.training import loader, train_manual_update

SEED = 265
SIZES = (2, 3, 2)
ACTIVATIONS = ("tanh", "sigmoid")
X = np.array([[1.0, -2.0], [0.5, 3.0]])
Y = np.array([[0.0, 1.0], [1.0, 0.0]])
LR, MOMENTUM, WEIGHT_DECAY, EPOCHS, BATCH = 0.1, 0.9, 0.01, 3, 1

#: The numbers the handout publishes (12 significant digits).
PUBLISHED = {
    "loss": 0.721588647085,
    "dL_db[2]": [-0.000223629374763, 0.0511991841264],
    "dL_dw[1][0][1]": -0.205210465209,
}
#: The per-epoch losses of the example training run.
PUBLISHED_LOSSES = [0.719367813602, 0.625884889761, 0.50368269241]


def example_model() -> MyNet:
    """The example network, initialised as the handout says."""
    torch.manual_seed(SEED)
    return MyNet(SIZES, ACTIVATIONS)


def example_numbers() -> dict[str, object]:
    """The published quantities, computed by the reference's ``backpropagation``."""
    model = example_model()
    with torch.no_grad():
        y_pred = model(torch.as_tensor(X))
    backpropagation(model, torch.as_tensor(Y), y_pred)
    return {
        "loss": squared_error(y_pred, torch.as_tensor(Y)).item(),
        "dL_db[2]": model.dL_db[2].tolist(),
        "dL_dw[1][0][1]": model.dL_dw[1][0, 1].item(),
    }


def example_losses() -> list[float]:
    """The per-epoch losses of the example's training run with the reference's hand-written SGD."""
    model = example_model()
    data = loader(X, Y, BATCH)
    return train_manual_update(EPOCHS, LR, model, SquaredError(), data, MOMENTUM, WEIGHT_DECAY)
