"""Validation accuracy on CIFAR-10, measured by the grader.

The submission trains in the sandbox on the training split (images and labels mounted read-only),
or ships weights; either way the grader receives only weights and runs them through the reference
forward pass on validation images whose labels never enter the sandbox.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from grader.engine.compare import CheckFailed, as_array, as_dict
from grader.engine.shared_data import share_data_set
from grader.worker.protocol import Ref
from reference.cifar10 import CifarError, CifarSplit, load_cifar10
from reference.hlcv_ex2.two_layernet import PARAM_NAMES, accuracy

from .fixtures import NUMPY_FILE, NUMPY_MODULE, TORCH_FILE, TORCH_MODULE, reference_mlp
from .hyperparams import HyperparamError, load_hyperparams

NUM_CLASSES = 10
#: Images the student's ``train`` gets as its "validation" set, for its own bookkeeping only. They
#: are training images: validation labels never enter the sandbox.
BOOKKEEPING = 1000


def _load(folder: Path) -> tuple[tuple[np.ndarray, np.ndarray], dict[str, np.ndarray]]:
    """The validation images and labels, kept on the trusted side, and the training split for the sandbox."""
    split = load_cifar10(folder)
    train = {"X_train": split.X_train, "y_train": split.y_train}  # float32 and int64, as the worker expects
    return (split.X_val, split.y_val), train


@pytest.fixture(scope="module")
def cifar(data_dir, training_data_dir, settings):
    """The exercise's split: read and normalised once per process (a batch worker grades many
    submissions); its training images and labels linked read-only into the training worker's folder."""
    if settings.accuracy_mode == "off":
        pytest.skip("accuracy checks are turned off for this assignment")
    if data_dir is None:
        pytest.skip("CIFAR-10 is not available: pass --data-dir or set BACKPROP_GRADER_DATA_DIR")
    try:
        (X_val, y_val), train = share_data_set("hlcv-ex2", data_dir, training_data_dir, _load)
    except CifarError as exc:
        pytest.skip(f"CIFAR-10 could not be read: {exc}")
    empty = np.empty((0, X_val.shape[1]), np.float32)
    return CifarSplit(train["X_train"], train["y_train"], X_val, y_val, empty, np.empty(0, np.int64))


def _hyperparams(submission_dir: Path):
    try:
        return load_hyperparams(submission_dir / "hyperparams.json")
    except HyperparamError as exc:
        raise CheckFailed(str(exc)) from None


@pytest.mark.points(5)
@pytest.mark.training
@pytest.mark.needs(NUMPY_FILE)
@pytest.mark.title("Two-layer net: CIFAR-10 validation accuracy > 48%")
def test_two_layer_accuracy(cifar, student, check, settings, submission_dir):
    shape = None
    if settings.accuracy_mode == "weights":
        value = student.read_weights("best_net.npz")
        params = as_dict(value, "best_net.npz", list(PARAM_NAMES))
    else:
        chosen = _hyperparams(submission_dir).two_layer
        net = student.new(NUMPY_MODULE, "TwoLayerNet", cifar.X_train.shape[1], chosen.hidden_size, NUM_CLASSES, seed=0)
        X, y = Ref("$file", "X_train"), Ref("$file", "y_train")
        hp = chosen.model_dump(exclude={"hidden_size"})
        net.call("train", X, y, cifar.X_train[:BOOKKEEPING], cifar.y_train[:BOOKKEEPING], seed=0, **hp)
        params = as_dict(net.get("params"), "params after training", list(PARAM_NAMES))
        shape = chosen.hidden_size
    d = cifar.X_train.shape[1]
    h = shape or (params["W1"].shape[1] if hasattr(params.get("W1"), "shape") else 0)
    shapes = {"W1": (d, h), "b1": (h,), "W2": (h, NUM_CLASSES), "b2": (NUM_CLASSES,)}
    weights = {k: as_array(params[k], k, shapes[k]) for k in PARAM_NAMES}
    value = accuracy(weights, cifar.X_val.astype(np.float64), cifar.y_val)
    check.note(f"validation accuracy {value:.1%} on {len(cifar.y_val)} images (measured by the grader)")
    limit = settings.two_layer_min
    if not value > limit:
        raise CheckFailed(f"validation accuracy {value:.1%}, must be above {limit:.0%}")


@pytest.mark.points(5)
@pytest.mark.training
@pytest.mark.needs(TORCH_FILE)
@pytest.mark.preload("torch")
@pytest.mark.title("PyTorch MLP: CIFAR-10 validation accuracy > 48%")
def test_mlp_accuracy(cifar, student, check, settings, submission_dir):
    if settings.accuracy_mode == "weights":
        value = student.read_weights("mlp.pt")
        arrays = value["arrays"] if type(value) is dict else None
    else:
        chosen = _hyperparams(submission_dir).mlp
        model = student.new(
            TORCH_MODULE,
            "MultiLayerPerceptron",
            cifar.X_train.shape[1],
            chosen.hidden_layers,
            NUM_CLASSES,
            seed=0,
        )
        student.call(
            TORCH_MODULE,
            "train_mlp",
            model.ref,
            Ref("$file", "X_train"),
            Ref("$file", "y_train"),
            cifar.X_train[:BOOKKEEPING],
            cifar.y_train[:BOOKKEEPING],
            epochs=chosen.epochs,
            batch_size=chosen.batch_size,
            learning_rate=chosen.learning_rate,
            weight_decay=chosen.weight_decay,
            optimizer=chosen.optimizer,
            seed=0,
        )
        _, arrays = model.torch_params()
    if type(arrays) is not list or not arrays:
        raise CheckFailed("no parameters came back from the model")
    checked = [as_array(a, f"parameter {i}", a.shape if hasattr(a, "shape") else ()) for i, a in enumerate(arrays)]
    try:
        value = reference_mlp().mlp_accuracy(checked, cifar.X_val, cifar.y_val)
    except ValueError as exc:
        raise CheckFailed(f"the model's parameters do not form an MLP: {exc}") from None
    check.note(f"validation accuracy {value:.1%} on {len(cifar.y_val)} images (measured by the grader)")
    limit = settings.mlp_min
    if not value > limit:
        raise CheckFailed(f"validation accuracy {value:.1%}, must be above {limit:.0%}")
