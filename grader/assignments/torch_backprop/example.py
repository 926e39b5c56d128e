"""The pack's example submission: the reference solution in the handout's form, as a student hands it in.

``grade demo --assignment torch-backprop`` and ``grade pack check`` grade it. The file is copied from
``reference/torch_backprop/solution.py`` at run time: it imports only numpy and torch, like a
student's ``backprop.py``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from grader.pack import Mistake
from reference import torch_backprop

SOLUTION = Path(torch_backprop.__file__).resolve().parent / "solution.py"
FILE = "backprop.py"

#: The CIFAR-2 settings of the example (those of the handout).
HYPERPARAMS = {"lr": 0.01, "momentum": 0.9, "weight_decay": 0.001, "n_epochs": 10, "batch_size": 128}


def write_example(dest: Path) -> Path:
    """Write the example submission into the existing, empty folder ``dest`` and return it."""
    shutil.copyfile(SOLUTION, dest / FILE)
    (dest / "hyperparams.json").write_text(json.dumps(HYPERPARAMS, indent=2) + "\n")
    return dest


#: Classic mistakes as edits of the example's source, for ``grade pack check``: each must lose points on
#: its check and be named there. Written apart from the catalogue in ``mutants.py``.
MISTAKES = [
    Mistake(
        "missing-factor-2",
        ((FILE, "delta = 2 / N * (y_pred - y_true)", "delta = 1 / N * (y_pred - y_true)"),),
        "test_gradients",
        r"factor 2",
    ),
    Mistake(
        "derivative-at-a",
        (
            (FILE, "model.df[L](model.z[L])", "model.df[L](model.a[L])"),
            (FILE, "model.df[l - 1](model.z[l - 1])", "model.df[l - 1](model.a[l - 1])"),
        ),
        "test_gradients",
        r"derivative taken at a",
    ),
    Mistake(
        "weight-decay-after-momentum",
        (
            (
                FILE,
                "                    if weight_decay != 0:\n                        grad = grad + weight_decay * p\n",
                "",
            ),
            (FILE, "                    p -= lr * grad\n", "                    p -= lr * (grad + weight_decay * p)\n"),
        ),
        "test_manual_sgd[m0.9-wd0.01]",
        r"weight decay added after the momentum",
    ),
    Mistake(
        "nesterov",
        (
            (
                FILE,
                "                        grad = velocities[i]\n",
                "                        grad = grad + momentum * velocities[i]\n",
            ),
        ),
        "test_manual_sgd[m0.9-wd0.0]",
        r"Nesterov",
    ),
    Mistake(
        "optimizer-never-zeroed",
        ((FILE, "            optimizer.zero_grad()\n", ""),),
        "test_train_with_optimizer",
        r"never zeroed",
    ),
]
