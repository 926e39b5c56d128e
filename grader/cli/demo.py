"""A built-in example submission: the reference solution packed the way a student would hand it in.

``grade demo`` grades it, so a fresh installation can show the whole pipeline (intake, sandbox,
rubric, result file) without any student work at hand. The files are copied from ``reference/``
at run time rather than kept twice: the reference network and MLP modules import only numpy and
torch, exactly like a student's files.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import reference

REFERENCE_DIR = Path(reference.__file__).resolve().parent

#: Student file name -> reference module file it is copied from.
FILES = {
    "two_layernet.py": "two_layernet.py",
    "ex2_pytorch.py": "mlp.py",
}

#: Hyperparameters for the CIFAR-10 retraining checks (used only when the data set is available).
HYPERPARAMS = {
    "two_layer": {
        "hidden_size": 200,
        "learning_rate": 1e-3,
        "learning_rate_decay": 0.95,
        "reg": 0.05,
        "num_iters": 3000,
        "batch_size": 200,
        "momentum": 0.9,
    },
    "mlp": {
        "hidden_layers": [512],
        "epochs": 10,
        "batch_size": 200,
        "learning_rate": 1e-3,
        "weight_decay": 0.0,
        "optimizer": "adam",
    },
}


def write_example_submission(dest: Path) -> Path:
    """Write the example submission into the existing, empty folder ``dest`` and return it."""
    for student_name, reference_name in FILES.items():
        shutil.copyfile(REFERENCE_DIR / reference_name, dest / student_name)
    (dest / "hyperparams.json").write_text(json.dumps(HYPERPARAMS, indent=2) + "\n")
    return dest
