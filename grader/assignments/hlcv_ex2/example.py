"""The pack's example submission: the reference solution packed the way a student would hand it in.

``grade demo`` and ``grade pack check`` grade it, so a fresh installation can show the whole pipeline
(intake, sandbox, rubric, result file) without any student work at hand. The files are copied from
``reference/hlcv_ex2/``
at run time rather than kept twice: the reference network and MLP modules import only numpy and
torch, exactly like a student's files.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from grader.pack import Mistake
from reference import hlcv_ex2

REFERENCE_DIR = Path(hlcv_ex2.__file__).resolve().parent

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


def write_example(dest: Path) -> Path:
    """Write the example submission into the existing, empty folder ``dest`` and return it."""
    for student_name, reference_name in FILES.items():
        shutil.copyfile(REFERENCE_DIR / reference_name, dest / student_name)
    (dest / "hyperparams.json").write_text(json.dumps(HYPERPARAMS, indent=2) + "\n")
    return dest


#: Classic mistakes as edits of the example's source, for ``grade pack check``: each must lose points on
#: its check and be named there. Written independently of the catalogue in ``mutants.py``, so a rubric
#: that stopped recognising a mistake fails the pack check.
NET = "two_layernet.py"
MISTAKES = [
    Mistake("missing-1/N", ((NET, "    dz3 /= n\n", ""),), "test_toy_gradients", r"1/N|averaged"),
    Mistake(
        "reg*W-gradient",
        ((NET, "2.0 * reg * W2", "reg * W2"), (NET, "2.0 * reg * W1", "reg * W1")),
        "test_toy_gradients",
        r"reg\s*\*\s*W instead of 2\s*\*\s*reg\s*\*\s*W",
    ),
    Mistake(
        "half-reg-loss",
        ((NET, 'float(reg * (np.sum(params["W1"]', 'float(0.5 * reg * (np.sum(params["W1"]'),),
        "test_toy_loss",
        r"0\.5\s*\*\s*reg",
    ),
    Mistake(
        "no-max-shift",
        ((NET, "shifted = z3 - z3.max(axis=1, keepdims=True)", "shifted = z3"),),
        "test_stable_softmax",
        r"max",
    ),
    Mistake(
        "relu-mask-missing",
        ((NET, "dz2 = (dz3 @ W2.T) * (z2 > 0)", "dz2 = dz3 @ W2.T"),),
        "test_toy_gradients",
        r"ReLU",
    ),
    Mistake(
        "momentum-ascent",
        (
            (
                NET,
                "momentum * velocity[key] - learning_rate * grads[key]",
                "momentum * velocity[key] + learning_rate * grads[key]",
            ),
        ),
        "test_sgd_momentum_step",
        r"ascent",
    ),
    Mistake(
        "momentum-memory",
        ((NET, "momentum * velocity[key] - learning_rate * grads[key]", "-learning_rate * grads[key]"),),
        "test_sgd_momentum_step",
        r"previous velocity|momentum ignored",
    ),
    Mistake(
        "nesterov",
        (
            (
                NET,
                "params[key] = params[key] + velocity[key]",
                "params[key] = params[key] + momentum * velocity[key] - learning_rate * grads[key]",
            ),
        ),
        "test_sgd_momentum_step",
        r"Nesterov",
    ),
    Mistake(
        "decay-every-iteration",
        (
            (
                NET,
                "            learning_rate *= learning_rate_decay\n",
                "        learning_rate *= learning_rate_decay\n",
            ),
        ),
        "test_loss_history",
        r"every iteration",
    ),
    Mistake(
        "mlp-without-relu",
        (("ex2_pytorch.py", "                layers.append(nn.ReLU())\n", "                pass\n"),),
        "test_mlp_layers",
        r"ReLU",
    ),
    Mistake(
        "no-zero-grad",
        (("ex2_pytorch.py", "            opt.zero_grad()\n", ""),),
        "test_train_mlp",
        r"zero_grad",
    ),
]
