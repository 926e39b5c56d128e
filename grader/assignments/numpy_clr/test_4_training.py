"""The training trajectory: mini_batch_gd's per-epoch history against the reference's, same start."""

from __future__ import annotations

import functools

import numpy as np

from grader.pack import CheckFailed, as_dict, as_float, needs, points, title
from reference.numpy_clr import HISTORY_KEYS, init_weights, mini_batch_gd
from reference.numpy_clr.problems import CONFIG_1_LAM, HIDDEN, REDUCED, REDUCED_D, REDUCED_INIT_SEED, K, reduced_data

from .fixtures import FILE, MODULE, arrays_of, gradient_shapes, shaped
from .mutants import REG_IN_LOSS, TRAINING_MUTANTS

pytestmark = needs(FILE)

#: Epochs of each mistake's trajectory compared with the student's to name the mistake.
MATCH_EPOCHS = 2


def history_of(value: object, epochs: int) -> dict[str, np.ndarray]:
    """The per-epoch lists of a ``mini_batch_gd`` reply, validated: one float per epoch and key."""
    history = as_dict(value, "the history mini_batch_gd returns", list(HISTORY_KEYS))
    out = {}
    for key in HISTORY_KEYS:
        series = history[key]
        if type(series) not in (list, np.ndarray) or len(series) != epochs:
            raise CheckFailed(f"history['{key}']: expected {epochs} values, one per epoch")
        out[key] = np.array([as_float(v, f"history['{key}'][{i}]") for i, v in enumerate(series)])
    return out


@functools.cache
def reference_trajectory() -> tuple:
    """The reduced configuration 1's inputs and the reference's result (fixed: computed once per process)."""
    X, Y, X_val, Y_val = reduced_data()
    start = init_weights(REDUCED_D, HIDDEN, K, REDUCED_INIT_SEED)
    args = (X, Y, X_val, Y_val, dict(REDUCED), *start, CONFIG_1_LAM)
    for array in (X, Y, X_val, Y_val, *start):
        array.setflags(write=False)  # shared between gradings: nobody may change it
    *weights, history = mini_batch_gd(*args)
    return args, start, weights, history


def _relative(a: np.ndarray, e: np.ndarray) -> float:
    return float(np.max(np.abs(a - e) / np.maximum(1e-8, np.abs(a) + np.abs(e))))


@points(16)
@title("mini_batch_gd: reduced configuration 1, per-epoch history equals the reference's (rel. error < 1e-8)")
def test_trajectory(student, check, settings):
    args, start, weights, expected = reference_trajectory()
    epochs = len(expected["cost_train"])
    value, _ = student.call(MODULE, "mini_batch_gd", *args)
    if type(value) is not list or len(value) != 5:
        raise CheckFailed("mini_batch_gd must return (W1, b1, W2, b2, history)")
    got_weights = shaped(
        arrays_of(value[:4], "mini_batch_gd", 4), ["W1", "b1", "W2", "b2"], gradient_shapes(*start[::2])
    )
    got = history_of(value[4], epochs)
    limit = settings.trajectory_tolerance
    errors = {key: _relative(got[key], np.array(expected[key])) for key in HISTORY_KEYS}
    errors["weights"] = max(_relative(g, w) for g, w in zip(got_weights, weights, strict=True))
    wrong = [key for key, error in errors.items() if not error < limit]
    if not wrong:
        return
    if _relative(got["loss_train"], np.array(expected["cost_train"])) < limit:
        check.diagnose(REG_IN_LOSS)
    # The first epochs tell the mistakes apart; training the variants that far only keeps this fast.
    for name, mutant in TRAINING_MUTANTS:
        try:
            *_, other = mutant(*args, max_epochs=MATCH_EPOCHS)
        except (ValueError, FloatingPointError):
            continue
        if _relative(got["cost_train"][:MATCH_EPOCHS], np.array(other["cost_train"])) < 1e-6:
            check.diagnose(name)
            break
    first = int(np.argmax(np.abs(got["cost_train"] - expected["cost_train"]) > limit * np.abs(expected["cost_train"])))
    check.note(
        f"the training cost first differs after epoch {first + 1}: {got['cost_train'][first]:.10f} "
        f"(expected {expected['cost_train'][first]:.10f})"
    )
    raise CheckFailed("differs from the reference: " + ", ".join(f"{k} ({errors[k]:.1e})" for k in wrong))
