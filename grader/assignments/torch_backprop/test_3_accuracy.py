"""The CIFAR-2 MLP: retrained in the sandbox with hyperparams.json, measured by the grader.

The grader builds CIFAR-2 (airplane vs bird), normalises it and splits it in the trusted process;
only the training images and labels enter the sandbox (read-only). The student's
``train_manual_update`` trains the given 3072-512-128-32-2 network there; the grader reads back the
weights and measures validation and test accuracy with the reference forward pass.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from grader.engine.shared_data import share_data_set
from grader.pack import CheckFailed, Ref, as_array, needs, points, preload, title, training

from .fixtures import FILE, MODULE, data_objects
from .hyperparams import HyperparamError, load_hyperparams


@pytest.fixture(scope="module")
def cifar2(data_dir, training_data_dir, settings):
    """CIFAR-2, with its training split written to the sandbox's read-only data folder."""
    from reference.cifar10 import CifarError

    if settings.accuracy_mode == "off":
        pytest.skip("the accuracy check is turned off for this assignment")
    if data_dir is None:
        pytest.skip("CIFAR-10 is not available: pass --data-dir or set BACKPROP_GRADER_DATA_DIR")
    try:
        split, _ = share_data_set("torch-backprop", data_dir, training_data_dir, _load)
    except CifarError as exc:
        pytest.skip(f"CIFAR-10 could not be read: {exc}")
    return split


def _load(folder: Path) -> tuple[Any, dict[str, Any]]:
    """CIFAR-2, kept for every grading of this process, and its training split for the sandbox."""
    from reference.torch_backprop.cifar2 import load_cifar2

    split = load_cifar2(folder)
    return split, {"X_train": split.X_train, "y_train": split.y_train}


@points(15)
@training
@needs(FILE, "hyperparams.json")
@preload("torch")
@title("CIFAR-2 MLP trained with hyperparams.json: validation and test accuracy >= 80%")
def test_cifar2_accuracy(cifar2, student, check, settings, submission_dir):
    from reference.torch_backprop import cifar2 as data

    try:
        hp = load_hyperparams(Path(submission_dir) / "hyperparams.json")
    except HyperparamError as exc:
        raise CheckFailed(str(exc)) from None
    model = student.new(MODULE, "MyNet", list(data.SIZES), list(data.ACTIVATIONS), seed=data.SEED)
    loader = data_objects(student, Ref("$file", "X_train"), Ref("$file", "y_train"), hp.batch_size, shuffle=True)
    loss_fn = student.new(MODULE, "nn.CrossEntropyLoss")
    student.call(
        MODULE,
        "train_manual_update",
        hp.n_epochs,
        hp.lr,
        model.ref,
        loss_fn.ref,
        loader.ref,
        momentum=hp.momentum,
        weight_decay=hp.weight_decay,
        seed=data.SEED,
    )
    _, arrays = model.torch_params()
    shapes = [(data.SIZES[i + 1], data.SIZES[i]) if k == 0 else (data.SIZES[i + 1],) for i in range(4) for k in (0, 1)]
    if type(arrays) is not list or len(arrays) != len(shapes):
        raise CheckFailed(f"the trained model has {len(arrays) if type(arrays) is list else 0} parameters, expected 8")
    checked = [as_array(a, f"parameter {i}", shape) for i, (a, shape) in enumerate(zip(arrays, shapes, strict=True))]
    val = data.accuracy(checked, cifar2.X_val, cifar2.y_val)
    test = data.accuracy(checked, cifar2.X_test, cifar2.y_test)
    check.note(
        f"validation accuracy {val:.1%} on {len(cifar2.y_val)} images, test accuracy {test:.1%} on "
        f"{len(cifar2.y_test)} images (measured by the grader)"
    )
    limit = settings.min_accuracy
    if not (val >= limit and test >= limit):
        raise CheckFailed(f"validation {val:.1%} and test {test:.1%} accuracy: both must be at least {limit:.0%}")
