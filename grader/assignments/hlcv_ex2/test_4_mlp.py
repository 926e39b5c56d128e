"""The PyTorch MultiLayerPerceptron and train_mlp."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from grader.engine.compare import CheckFailed, as_array, as_dict, as_float

from .fixtures import TORCH_FILE, TORCH_MODULE, reference_mlp

# Every check here runs on fixed inputs: the student bundle ships them with frozen expected values.
pytestmark = [pytest.mark.needs(TORCH_FILE), pytest.mark.freezable]

SIZES = (20, [16, 12], 5)
EXPECTED_LAYERS = ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
NO_RELU = "MLP without ReLU between layers (purely linear)"


def reference_model(seed: int = 0) -> Any:
    """The reference MultiLayerPerceptron of SIZES, initialised under ``seed``."""
    mlp = reference_mlp()
    mlp.torch.manual_seed(seed)
    return mlp.MultiLayerPerceptron(*SIZES)


def reference_logits(arrays: list[np.ndarray], X: np.ndarray, relu: bool = True) -> np.ndarray:
    """The network's logits in float64, computed from its arrays (optionally without ReLU)."""
    a = X
    for i in range(0, len(arrays), 2):
        a = a @ arrays[i].astype(np.float64).T + arrays[i + 1]
        if relu and i + 2 < len(arrays):
            a = np.maximum(a, 0)
    return a


@pytest.mark.points(5)
@pytest.mark.title("MLP layers: Linear, ReLU, ..., Linear")
def test_mlp_layers(student, check):
    model = student.new(TORCH_MODULE, "MultiLayerPerceptron", *SIZES, seed=0)
    layers = model.torch_layers()
    if type(layers) is not list or not all(type(n) is str for n in layers):
        raise CheckFailed("could not list the model's layers")
    if layers != EXPECTED_LAYERS:
        if "ReLU" not in layers and layers.count("Linear") == 3:
            check.diagnose(NO_RELU)
        if layers[-1:] in (["Softmax"], ["LogSoftmax"]):
            check.diagnose("forward ends in softmax: return logits, nn.CrossEntropyLoss applies log-softmax")
        raise CheckFailed(f"layers {layers}, expected {EXPECTED_LAYERS} for hidden_layers=[16, 12]")


@pytest.mark.points(3)
@pytest.mark.title("MLP parameters in layer order (weight, bias)")
def test_mlp_parameter_order(student, check):
    model = student.new(TORCH_MODULE, "MultiLayerPerceptron", *SIZES, seed=0)
    names, arrays = model.torch_params()
    expected = [a.shape for a in reference_mlp().model_to_arrays(reference_model())]
    shapes = [a.shape if type(a) is np.ndarray else None for a in arrays]
    if shapes != expected:
        raise CheckFailed(f"parameter shapes {shapes}, expected {expected} (weight (out, in), then bias)")


@pytest.mark.points(6)
@pytest.mark.title("MLP forward pass with reference weights")
def test_mlp_forward(student, check):
    model = student.new(TORCH_MODULE, "MultiLayerPerceptron", *SIZES, seed=0)
    arrays = reference_mlp().model_to_arrays(reference_model(1))
    model.torch_load(arrays)
    X = np.random.default_rng(8).normal(size=(32, SIZES[0])).astype(np.float32)
    logits = as_array(model.forward(X), "forward(x)", (32, SIZES[2]))
    expected = reference_logits(arrays, X.astype(np.float64))
    error = float(np.max(np.abs(logits - expected) / (1 + np.abs(expected))))
    if not error < 1e-5:
        if np.allclose(logits, reference_logits(arrays, X.astype(np.float64), relu=False), atol=1e-4):
            check.diagnose(NO_RELU)
        elif np.allclose(logits.sum(axis=1), 1, atol=1e-4) and (logits >= 0).all():
            check.diagnose("forward returns probabilities: return logits, nn.CrossEntropyLoss applies log-softmax")
        raise CheckFailed(f"forward(x): max error {error:.1e} against the reference logits (limit 1e-05)")


def held_out_accuracy(arrays: list[np.ndarray], X: np.ndarray, y: np.ndarray) -> float:
    """Accuracy on (X, y) of the Linear/ReLU network whose (weight, bias) arrays are ``arrays``."""
    width = X.shape[1]
    if len(arrays) < 2 or len(arrays) % 2:
        raise CheckFailed(f"the trained model has {len(arrays)} parameter arrays, expected (weight, bias) pairs")
    for i in range(0, len(arrays), 2):
        weight, bias = arrays[i], arrays[i + 1]
        if weight.ndim != 2 or weight.shape[1] != width or bias.shape != (weight.shape[0],):
            raise CheckFailed(
                f"parameters {i} and {i + 1} have shapes {weight.shape} and {bias.shape}: "
                f"not a Linear layer on {width} inputs"
            )
        width = weight.shape[0]
    return float(np.mean(reference_logits(arrays, X.astype(np.float64)).argmax(axis=1) == y))


def blobs(seed: int, n: int, d: int = 20, classes: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Well-separated Gaussian blobs: any working MLP trainer separates them."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(0, 2.0, (classes, d))
    y = rng.integers(0, classes, n)
    return (centres[y] + rng.normal(0, 1.0, (n, d))).astype(np.float32), y.astype(np.int64)


@pytest.mark.points(6)
@pytest.mark.title("train_mlp lowers the loss and learns a simple problem")
def test_train_mlp(student, check):
    X, y = blobs(1, 400)
    X_test, y_test = blobs(2, 300)
    model = student.new(TORCH_MODULE, "MultiLayerPerceptron", 20, [32], 4, seed=0)
    stats, _ = student.call(
        TORCH_MODULE,
        "train_mlp",
        model.ref,
        X,
        y,
        X[:50],
        y[:50],
        epochs=8,
        batch_size=32,
        learning_rate=1e-2,
        weight_decay=0.0,
        optimizer="adam",
        seed=0,
    )
    stats = as_dict(stats, "train_mlp(...) result", ["loss_history", "val_acc_history"])
    history = stats["loss_history"]
    if type(history) is not list or len(history) < 2:
        raise CheckFailed("loss_history must hold the training losses")
    first, last = as_float(history[0], "first loss"), as_float(history[-1], "last loss")
    if not last < first:
        raise CheckFailed(f"training did not lower the loss ({first:.4f} -> {last:.4f})")
    _, arrays = model.torch_params()
    if type(arrays) is not list:
        raise CheckFailed("could not read the trained model's parameters")
    checked = [as_array(a, f"parameter {i}", a.shape if hasattr(a, "shape") else ()) for i, a in enumerate(arrays)]
    # Measured with this module's own forward pass (no trusted code on the student's weights, so the
    # check can be frozen for students).
    accuracy = held_out_accuracy(checked, X_test, y_test)
    check.note(f"held-out accuracy after training: {accuracy:.1%} (measured by the grader)")
    if not accuracy > 0.9:
        raise CheckFailed(f"held-out accuracy {accuracy:.1%} after 8 epochs, expected > 90%")
