"""The lambda search's outcome and CIFAR-10 test accuracy, measured by the grader.

The submission trains in the sandbox on training and validation images mounted read-only; the
grader receives only the weights and measures accuracy on the test batch, whose images and labels
never enter the sandbox.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from grader.engine.shared_data import share_data_set
from grader.pack import CheckFailed, Ref, needs, points, title, training
from reference.cifar10 import CifarError
from reference.numpy_clr import compute_accuracy, init_weights, one_hot
from reference.numpy_clr.problems import CONFIG_1, CONFIG_1_LAM, HIDDEN, CifarColumns, K, cifar_splits

from .fixtures import FILE, HYPERPARAMS, MODULE, arrays_of, gradient_shapes, shaped
from .hyperparams import HyperparamError, Hyperparams, load_hyperparams

#: Seed of the starting weights the grader passes to both training runs.
INIT_SEED = 0
#: Names of the arrays placed in the training data folder, per run.
RUNS = {"config1": "C1_", "final": ""}


def _load(folder: Path) -> tuple[dict[str, CifarColumns], dict[str, np.ndarray]]:
    """Both runs' data sets, kept for every grading of this process (so made read-only), and their
    training and validation parts for the sandbox to map."""
    first, final = cifar_splits(folder)
    sets = {"config1": first, "final": final}
    files = {}
    for run, data in sets.items():
        for array in vars(data).values():
            array.setflags(write=False)
        prefix = RUNS[run]
        # d x n, one image per contiguous column (Fortran order), so a batch is one slice of the file.
        files[f"{prefix}X"] = data.X
        files[f"{prefix}Y"] = one_hot(data.y, K)
        files[f"{prefix}X_val"] = data.X_val
        files[f"{prefix}Y_val"] = one_hot(data.y_val, K)
    return sets, files


@pytest.fixture(scope="module")
def cifar(settings, data_dir, training_data_dir) -> dict[str, CifarColumns]:
    """Both runs' data sets, read once per process; their training and validation parts linked into the
    training worker's folder."""
    if settings.accuracy == "off":
        pytest.skip("accuracy checks are turned off for this assignment")
    if data_dir is None:
        pytest.skip("CIFAR-10 is not available: pass --data-dir or set BACKPROP_GRADER_DATA_DIR")
    try:
        sets, _ = share_data_set("numpy-clr", data_dir, training_data_dir, _load)
    except CifarError as exc:
        pytest.skip(f"CIFAR-10 could not be read: {exc}")
    return sets


def read_hyperparams(submission_dir: Path, settings) -> Hyperparams:
    """The validated hyperparams.json, within the update budget; CheckFailed with one line otherwise."""
    try:
        chosen = load_hyperparams(submission_dir / HYPERPARAMS)
    except HyperparamError as exc:
        raise CheckFailed(str(exc)) from None
    if chosen.updates > settings.max_updates:
        raise CheckFailed(f"2 * n_s * cycles = {chosen.updates} updates, the limit is {settings.max_updates}")
    return chosen


def train_and_measure(student, check, run: str, data: CifarColumns, params: dict, lam: float) -> float:
    """Train in the sandbox from the grader's starting weights; test accuracy measured here."""
    prefix = RUNS[run]
    start = init_weights(data.X.shape[0], HIDDEN, K, INIT_SEED)
    files = [Ref("$file", f"{prefix}{name}") for name in ("X", "Y", "X_val", "Y_val")]
    value, _ = student.call(MODULE, "mini_batch_gd", *files, params, *start, lam)
    if type(value) is not list or len(value) != 5:
        raise CheckFailed("mini_batch_gd must return (W1, b1, W2, b2, history)")
    weights = shaped(arrays_of(value[:4], "mini_batch_gd", 4), ["W1", "b1", "W2", "b2"], gradient_shapes(*start[::2]))
    accuracy = compute_accuracy(data.X_test, data.y_test, *weights)
    check.note(f"test accuracy {accuracy:.1%} on {data.y_test.size} test images (measured by the grader)")
    return accuracy


@points(4)
@needs(HYPERPARAMS)
@title("hyperparams.json: lam, n_s, cycles, n_batch and consistent coarse and fine search ranges")
def test_hyperparams(submission_dir, settings):
    read_hyperparams(submission_dir, settings)


@points(10)
@training
@needs(FILE)
@title("Configuration 1 on CIFAR-10 batch 1: test accuracy >= 45%")
def test_config1_accuracy(cifar, student, check, settings):
    accuracy = train_and_measure(student, check, "config1", cifar["config1"], dict(CONFIG_1), CONFIG_1_LAM)
    if not accuracy >= settings.config1_min_accuracy:
        raise CheckFailed(f"test accuracy {accuracy:.1%}, must be at least {settings.config1_min_accuracy:.0%}")


@points(10)
@training
@needs(FILE, HYPERPARAMS)
@title("Final run with your hyperparams.json on 45,000 images: test accuracy >= 50%")
def test_final_accuracy(cifar, student, check, settings, submission_dir):
    chosen = read_hyperparams(submission_dir, settings)
    if chosen.n_batch > cifar["final"].X.shape[1]:
        raise CheckFailed(f"n_batch {chosen.n_batch} is larger than the training set")
    params = dict(CONFIG_1, n_batch=chosen.n_batch, n_s=chosen.n_s, cycles=chosen.cycles)
    accuracy = train_and_measure(student, check, "final", cifar["final"], params, chosen.lam)
    if not accuracy >= settings.final_min_accuracy:
        raise CheckFailed(f"test accuracy {accuracy:.1%}, must be at least {settings.final_min_accuracy:.0%}")
