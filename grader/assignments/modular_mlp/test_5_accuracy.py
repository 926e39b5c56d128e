"""CIFAR-10 test accuracy of models trained in the sandbox, measured by the grader.

The grader writes the standardised training and validation splits (both cut from CIFAR-10's
training images) into the folder the training worker sees read-only and passes its path to the
submission's ``train``. The returned best model's weights come back as arrays; the grader runs them
through the reference forward pass on the test batch, whose images and labels never enter the sandbox.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from grader.engine.shared_data import share_data_set
from grader.pack import CheckFailed, Ref, as_array, needs, points, preload, title, training
from reference.cifar10 import CifarError, CifarSplit
from reference.modular_mlp import data as cifar_folder
from reference.modular_mlp import mlp_numpy, mlp_pytorch

from .fixtures import FILES, MLP_NUMPY, MLP_TORCH, MODULES
from .hyperparams import HyperparamError, load_hyperparams

#: The ``seed`` argument both ``train`` functions get.
TRAIN_SEED = 42
NUM_CLASSES = 10


def _load(folder: Path) -> tuple[CifarSplit, dict[str, np.ndarray]]:
    """The standardised split, kept for every grading of this process, and its training and validation
    files for the sandbox."""
    split = cifar_folder.standardised_split(folder)
    return split, cifar_folder.folder_arrays(split)


@pytest.fixture(scope="module")
def cifar(settings, data_dir, training_data_dir):
    if settings.accuracy == "off":
        pytest.skip("accuracy checks are turned off for this assignment")
    if data_dir is None:
        pytest.skip("CIFAR-10 is not available: pass --data-dir or set BACKPROP_GRADER_DATA_DIR")
    try:
        split, _ = share_data_set("modular-mlp", data_dir, training_data_dir, _load)
    except CifarError as exc:
        pytest.skip(f"CIFAR-10 could not be read: {exc}")
    return split


def _verdict(check, which: str, value: float, limit: float, n: int) -> None:
    check.note(f"test accuracy {value:.1%} on {n} images (measured by the grader)")
    if not value >= limit:
        raise CheckFailed(f"{which}: test accuracy {value:.1%}, must be at least {limit:.0%}")


@points(5)
@training
@needs(FILES[MODULES], FILES[MLP_NUMPY])
@title("numpy MLP, default settings: CIFAR-10 test accuracy >= 46%")
def test_numpy_accuracy(cifar, student, check, settings):
    dims = list(settings.numpy_hidden_dims)
    args = (dims, settings.numpy_lr, settings.numpy_batch_size, settings.numpy_epochs, TRAIN_SEED, Ref("$dir", ""))
    result = student.call_object(MLP_NUMPY, "train", *args)
    widths = [cifar.X_train.shape[1], *dims, NUM_CLASSES]
    model = mlp_numpy.MLP(widths[0], dims, NUM_CLASSES)
    for i, layer in enumerate(model.linear_layers()):
        shapes = {"weight": (widths[i + 1], widths[i]), "bias": (1, widths[i + 1])}
        for key, shape in shapes.items():
            value = result.get(0, "layers", 2 * i, "params", key)
            layer.params[key] = as_array(value, f"best model: layers[{2 * i}].params['{key}']", shape)
    value = mlp_numpy.evaluate(model, cifar.X_test, cifar.y_test)
    _verdict(check, "numpy MLP", value, settings.numpy_min_accuracy, len(cifar.y_test))


@points(5)
@training
@needs(FILES[MLP_TORCH])
@preload("torch")
@title("PyTorch MLP, your hyperparams.json: CIFAR-10 test accuracy >= 50%")
def test_torch_accuracy(cifar, student, check, settings, submission_dir):
    try:
        hp = load_hyperparams(Path(submission_dir) / "hyperparams.json")
    except HyperparamError as exc:
        raise CheckFailed(str(exc)) from None
    args = (list(hp.hidden_dims), hp.lr, hp.use_batch_norm, hp.batch_size, hp.epochs, TRAIN_SEED, Ref("$dir", ""))
    result = student.call_object(MLP_TORCH, "train", *args)
    model = result.call_object("__getitem__", 0)
    state, _ = model.call("state_dict")
    if type(state) is not dict or not state:
        raise CheckFailed("the returned model's state_dict() is empty or not a dict")
    arrays = [
        as_array(v, f"state entry {k}", v.shape if isinstance(v, np.ndarray) else (), "fiu") for k, v in state.items()
    ]
    try:
        reference = mlp_pytorch.from_state(arrays, hp.use_batch_norm)
    except ValueError as exc:
        raise CheckFailed(f"the returned model does not match the MLP of the handout: {exc}") from None
    value = mlp_pytorch.evaluate(reference, cifar.X_test, cifar.y_test)
    _verdict(check, "PyTorch MLP", value, settings.torch_min_accuracy, len(cifar.y_test))
