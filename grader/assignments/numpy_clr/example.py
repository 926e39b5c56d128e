"""The pack's example submission: the reference packed the way a student hands it in.

The student's one module, ``two_layer_clr.py``, is the reference's two modules
(``reference/numpy_clr/network.py`` and ``training.py``) joined at run time rather than kept twice:
both import only numpy and the standard library, exactly like a student's file, and the training
module's import of the network module is dropped because the two now share one namespace.
"""

from __future__ import annotations

import json
from pathlib import Path

from grader.pack import Mistake
from reference import numpy_clr

REFERENCE_DIR = Path(numpy_clr.__file__).resolve().parent
MODULE = "two_layer_clr.py"
#: What the example hands in as its search result (used only when the data set is available).
HYPERPARAMS = {
    "lam": 0.0025,
    "n_s": 900,
    "cycles": 3,
    "n_batch": 100,
    "coarse": {"l_min": -5, "l_max": -1},
    "fine": {"l_min": -3.2, "l_max": -2.2},
}


def example_source() -> str:
    """``network.py`` followed by ``training.py``, with one ``__future__`` import and no reference imports."""
    lines = ["from __future__ import annotations", ""]
    for name in ("network.py", "training.py"):
        text = (REFERENCE_DIR / name).read_text(encoding="utf-8")
        # Multi-line imports from the reference end with a line holding only ")".
        skipping = False
        for line in text.splitlines():
            if line.startswith(("from __future__", "from reference.")):
                skipping = line.rstrip().endswith("(")
                continue
            if skipping:
                skipping = line.strip() != ")"
                continue
            lines.append(line)
        lines.append("")
    return "\n".join(lines)


def write_example(dest: Path) -> Path:
    """Write the example submission into the existing, empty folder ``dest`` and return it."""
    (dest / MODULE).write_text(example_source(), encoding="utf-8")
    (dest / "hyperparams.json").write_text(json.dumps(HYPERPARAMS, indent=2) + "\n")
    return dest


#: Classic mistakes as edits of the example's source, for ``grade pack check``: each must lose points on
#: its check and be named there. Written apart from the catalogue in ``mutants.py`` (and from the corpus
#: in tests/corpus/numpy-clr/buggy), so a rubric that stopped recognising a mistake fails the pack check.
MISTAKES = [
    Mistake("G-sign", ((MODULE, "G = -(Y - P)", "G = Y - P"),), "test_gradients", r"wrong sign"),
    Mistake(
        "lam-W-gradient",
        ((MODULE, "+ 2 * lam * W2", "+ lam * W2"), (MODULE, "+ 2 * lam * W1", "+ lam * W1")),
        "test_gradients",
        r"lam\*W instead of 2\*lam\*W",
    ),
    Mistake(
        "softmax-over-samples",
        (
            (MODULE, "S - S.max(axis=0, keepdims=True)", "S - S.max(axis=1, keepdims=True)"),
            (MODULE, "E / E.sum(axis=0, keepdims=True)", "E / E.sum(axis=1, keepdims=True)"),
        ),
        "test_evaluate_classifier",
        r"wrong axis",
    ),
    Mistake(
        "forward-difference",
        (
            (MODULE, "param[ix] = original - h\n", "param[ix] = original\n"),
            (MODULE, "(c_plus - c_minus) / (2 * h)", "(c_plus - c_minus) / h"),
        ),
        "test_numerical_gradients",
        r"one-sided",
    ),
    Mistake(
        "falling-first",
        (
            (
                MODULE,
                "    if into <= n_s:\n        return eta_min + into / n_s * (eta_max - eta_min)\n    return eta_max - ",
                "    if into <= n_s:\n        return eta_max - into / n_s * (eta_max - eta_min)\n    return eta_min + ",
            ),
        ),
        "test_published_points",
        r"phases swapped",
    ),
    Mistake(
        "eta-once-per-epoch",
        ((MODULE, "eta_per_epoch: bool = False", "eta_per_epoch: bool = True"),),
        "test_trajectory",
        r"once per epoch",
    ),
    Mistake(
        "leftover-columns-as-a-batch",
        ((MODULE, "leftover_batch: bool = False", "leftover_batch: bool = True"),),
        "test_trajectory",
        r"leftover columns",
    ),
    Mistake(
        "whole-epochs-only",
        ((MODULE, "whole_epochs: bool = False", "whole_epochs: bool = True"),),
        "test_trajectory",
        r"partial epoch dropped",
    ),
]
