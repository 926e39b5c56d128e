"""The training trajectory: mini_batch_gd's per-epoch history against the reference's, same start,
on the reduced configuration 1 and on an uneven run of it (leftover columns, a partial last epoch)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from grader.pack import (
    CheckFailed,
    StudentException,
    as_dict,
    as_float,
    needs,
    points,
    relative_errors,
    title,
    worst,
)
from reference.numpy_clr import HISTORY_KEYS, cyclical_eta, init_weights, mini_batch_gd
from reference.numpy_clr.problems import (
    CONFIG_1_LAM,
    HIDDEN,
    REDUCED,
    REDUCED_D,
    REDUCED_INIT_SEED,
    UNEVEN_N,
    K,
    reduced_data,
    uneven_data,
)

from .fixtures import FILE, MODULE, arrays_of, gradient_shapes, shaped
from .mutants import ETA_IN_SCHEDULE, ETA_MISUSED, REG_IN_LOSS, SETTINGS_MUTANTS, TRAINING_MUTANTS, UNEVEN_MUTANTS

pytestmark = needs(FILE)

#: Epochs of each mistake's trajectory compared with the student's to name the mistake (reduced
#: configuration 1; the uneven run's mistakes are compared over the whole run, which is as short).
MATCH_EPOCHS = 2
#: Where the student's own cyclical_eta is asked (at the runs' schedule) before a trajectory that
#: matches a schedule mistake is blamed on it: both ends, the peak and one update either side.
ETA_PROBES = (0, 1, REDUCED["n_s"] // 2, REDUCED["n_s"] - 1, REDUCED["n_s"], REDUCED["n_s"] + 1, 2 * REDUCED["n_s"] - 1)
#: The history lists in words, for the note on where the trajectory first goes wrong.
LIST_NAMES = {
    "cost_train": "the training cost",
    "loss_train": "the training loss",
    "acc_train": "the training accuracy",
    "cost_val": "the validation cost",
    "loss_val": "the validation loss",
    "acc_val": "the validation accuracy",
}
#: The third run: the reduced configuration 1's data with every setting other than configuration 1's,
#: so that a mini_batch_gd that writes in configuration 1's n_batch, eta_min, eta_max, cycles or lam
#: instead of using its arguments does not pass (100 updates: 5 epochs of 20 batches).
OTHER_SETTINGS = {"n_batch": 50, "eta_min": 1e-4, "eta_max": 5e-2, "n_s": 25, "cycles": 2}
OTHER_LAM = 0.003


@dataclass(frozen=True)
class Run:
    """One training call of the check: its inputs, the reference's result, and the mistakes to try."""

    label: str
    args: tuple
    start: tuple[np.ndarray, ...]
    weights: list[np.ndarray]
    history: dict[str, list[float]]
    mutants: list[tuple[str, Callable[..., Any]]]
    #: Epochs each mutant trains before its history is compared (None: the whole run).
    match_epochs: int | None


def _run(
    label: str,
    data: tuple[np.ndarray, ...],
    mutants: list,
    match_epochs: int | None,
    params: dict = REDUCED,
    lam: float = CONFIG_1_LAM,
) -> Run:
    X, Y, X_val, Y_val = data
    start = init_weights(REDUCED_D, HIDDEN, K, REDUCED_INIT_SEED)
    args = (X, Y, X_val, Y_val, dict(params), *start, lam)
    for array in (X, Y, X_val, Y_val, *start):
        array.setflags(write=False)  # shared between gradings: nobody may change it
    *weights, history = mini_batch_gd(*args)
    return Run(label, args, start, weights, history, mutants, match_epochs)


def _uneven_label() -> str:
    per_epoch = UNEVEN_N // REDUCED["n_batch"]
    left_over = UNEVEN_N % REDUCED["n_batch"]
    last = 2 * REDUCED["n_s"] * REDUCED["cycles"] % per_epoch
    updates = "one update" if last == 1 else f"{last} updates"
    return f"the uneven run ({UNEVEN_N} columns: {left_over} left over, last epoch ends after {updates})"


def _other_label() -> str:
    s = OTHER_SETTINGS
    return (
        f"the run with other settings (n_batch {s['n_batch']}, eta {s['eta_min']:g}..{s['eta_max']:g}, "
        f"n_s {s['n_s']}, {s['cycles']} cycles, lam {OTHER_LAM:g})"
    )


@functools.cache
def reference_runs() -> tuple[Run, Run, Run]:
    """The reduced configuration 1 (10 full epochs), the uneven run (the same on its first 950
    images: 9 batches an epoch, 50 columns left over, the 100th update one into the 12th epoch) and
    the same data with other settings (``OTHER_SETTINGS``, ``OTHER_LAM``). Fixed: computed once per process."""
    reduced = reduced_data()
    return (
        _run("reduced configuration 1", reduced, TRAINING_MUTANTS, MATCH_EPOCHS),
        _run(_uneven_label(), uneven_data(), UNEVEN_MUTANTS, None),
        _run(_other_label(), reduced, SETTINGS_MUTANTS, None, OTHER_SETTINGS, OTHER_LAM),
    )


def history_of(value: object, epochs: int) -> dict[str, np.ndarray]:
    """The per-epoch lists of a ``mini_batch_gd`` reply, validated: floats, at most a few times
    ``epochs`` of them (a list of another length is compared with the mistakes, then refused)."""
    history = as_dict(value, "the history mini_batch_gd returns", list(HISTORY_KEYS))
    out = {}
    for key in HISTORY_KEYS:
        series = history[key]
        if type(series) not in (list, np.ndarray) or not 0 < len(series) <= 4 * epochs:
            raise CheckFailed(f"history['{key}']: expected {epochs} values, one per epoch")
        out[key] = np.array([as_float(v, f"history['{key}'][{i}]") for i, v in enumerate(series)])
    return out


def _worst(a: np.ndarray, e: np.ndarray) -> float:
    return worst(relative_errors(a, e))[0]


def _name_mistake(check, run: Run, got: dict[str, np.ndarray]) -> str | None:
    """Record and return the first mistake of ``run.mutants`` whose training cost ``got`` matches."""
    for name, mutant in run.mutants:
        try:
            *_, other = mutant(*run.args, max_epochs=run.match_epochs)
        except (ValueError, FloatingPointError):
            continue
        mine = got["cost_train"] if run.match_epochs is None else got["cost_train"][: run.match_epochs]
        theirs = np.array(other["cost_train"])
        if mine.shape == theirs.shape and _worst(mine, theirs) < 1e-6:
            check.diagnose(name)
            return name
    return None


def _schedule_is_right(student, limit: float) -> bool:
    """Whether the student's cyclical_eta gives the reference's rate at every probe of the runs' schedule."""
    eta_min, eta_max, n_s = REDUCED["eta_min"], REDUCED["eta_max"], REDUCED["n_s"]
    for t in ETA_PROBES:
        try:
            value, _ = student.call(MODULE, "cyclical_eta", t, eta_min, eta_max, n_s)
            got = as_float(value, "cyclical_eta")
        except (StudentException, CheckFailed):
            return False
        expected = cyclical_eta(t, eta_min, eta_max, n_s)
        if not abs(got - expected) <= limit * abs(expected):
            return False
    return True


def _first_difference(got: dict[str, np.ndarray], expected: dict[str, list[float]], limit: float) -> str | None:
    """The first epoch where a history list differs, and the first list (in HISTORY_KEYS order) there."""
    first: tuple[int, str] | None = None
    for key in HISTORY_KEYS:
        off = np.flatnonzero(~(relative_errors(got[key], np.array(expected[key])) < limit))
        if off.size and (first is None or off[0] < first[0]):
            first = (int(off[0]), key)
    if first is None:
        return None
    epoch, key = first
    return (
        f"{LIST_NAMES[key]} ({key}) first differs after epoch {epoch + 1}: {got[key][epoch]:.10f} "
        f"(expected {expected[key][epoch]:.10f})"
    )


def _grade_run(student, check, settings, run: Run) -> None:
    """Raise CheckFailed (message without the run's label) if the student's result differs from the reference's."""
    epochs = len(run.history["cost_train"])
    value, _ = student.call(MODULE, "mini_batch_gd", *run.args)
    if type(value) is not list or len(value) != 5:
        raise CheckFailed("mini_batch_gd must return (W1, b1, W2, b2, history)")
    got_weights = shaped(
        arrays_of(value[:4], "mini_batch_gd", 4), ["W1", "b1", "W2", "b2"], gradient_shapes(*run.start[::2])
    )
    got = history_of(value[4], epochs)
    short = [key for key in HISTORY_KEYS if len(got[key]) != epochs]
    if short:
        if len(got["cost_train"]) != epochs:
            _name_mistake(check, run, got)
        key = short[0]
        raise CheckFailed(
            f"history['{key}']: {len(got[key])} values, expected {epochs} (one per epoch, a partial last one included)"
        )
    limit = settings.trajectory_tolerance
    errors = {key: _worst(got[key], np.array(run.history[key])) for key in HISTORY_KEYS}
    errors["weights"] = max(_worst(g, w) for g, w in zip(got_weights, run.weights, strict=True))
    wrong = [key for key, error in errors.items() if not error < limit]
    if not wrong:
        return
    if _worst(got["loss_train"], np.array(run.history["cost_train"])) < limit:
        check.diagnose(REG_IN_LOSS)
    # The first epochs tell the mistakes apart; training the variants that far only keeps this fast.
    name = _name_mistake(check, run, got)
    if name in ETA_IN_SCHEDULE and _schedule_is_right(student, settings.eta_tolerance):
        check.diagnose(ETA_MISUSED)
    where = _first_difference(got, run.history, limit)
    if where:
        check.note(where)
    raise CheckFailed("differs from the reference: " + ", ".join(f"{k} ({errors[k]:.1e})" for k in wrong))


@points(16)
@title(
    "mini_batch_gd: reduced configuration 1, an uneven run of it (950 images: leftover columns, "
    "partial last epoch) and a run with other settings, per-epoch history and weights equal the "
    "reference's (rel. error < 1e-8)"
)
def test_trajectory(student, check, settings):
    for run in reference_runs():
        try:
            _grade_run(student, check, settings, run)
        except CheckFailed as failed:
            raise CheckFailed(f"{run.label}: {failed.message}", failed.diagnosis) from None
