"""The pack's example submission: a correct solution written the way a student hands it in.

``grade demo --assignment modular-mlp`` and ``grade pack check`` grade it. Its files live in
``example/`` beside this module (student-style code: numpy and torch only, no import from
``reference/``); the corpus in ``tests/corpus/modular-mlp/buggy`` holds one-mistake edits of it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from grader.pack import Mistake

EXAMPLE_DIR = Path(__file__).resolve().parent / "example"
FILES = ("modules.py", "mlp_numpy.py", "mlp_pytorch.py", "custom_batchnorm.py", "hyperparams.json")


def write_example(dest: Path) -> Path:
    """Write the example submission into the existing, empty folder ``dest`` and return it."""
    for name in FILES:
        shutil.copyfile(EXAMPLE_DIR / name, dest / name)
    return dest


#: Mistakes as edits of the example, for ``grade pack check``: each must lose points on its check and be
#: named there. Written apart from ``mutants.py``; two suffice here (each costs a full grading in the
#: pack check), the corpus test (``tests/test_pack_modular_mlp.py``) grades every other mistake.
MISTAKES = [
    Mistake(
        "softmax-backward-diagonal-only",
        (
            (
                "modules.py",
                "        return y * (dout - np.sum(dout * y, axis=1, keepdims=True))",
                "        return dout * y * (1 - y)",
            ),
        ),
        "test_softmax",
        r"off-diagonal",
    ),
    Mistake(
        "batchnorm-eps-outside-sqrt",
        (
            (
                "custom_batchnorm.py",
                "        return self.gamma * (input - mean) / torch.sqrt(var + self.eps) + self.beta",
                "        return self.gamma * (input - mean) / (torch.sqrt(var) + self.eps) + self.beta",
            ),
        ),
        "test_autograd_module",
        r"eps outside",
    ),
]
