"""The PyTorch MultiLayerPerceptron and train_mlp."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from grader.engine.compare import CheckFailed, as_array, as_dict, describe

from .fixtures import TORCH_FILE, TORCH_MODULE, reference_mlp, student_mlp_built
from .mutants import MLP_FORWARD_MISTAKES, TRAIN_MLP_MISTAKES
from .torch_mutants import mlp_logits, train_mlp_variant

# Every check here runs on fixed inputs: the student bundle ships them with frozen expected values.
pytestmark = [pytest.mark.needs(TORCH_FILE), pytest.mark.freezable, pytest.mark.preload("torch")]

SIZES = (20, [16, 12], 5)
NO_RELU = MLP_FORWARD_MISTAKES["no-relu"]
#: Relative error allowed between float32 logits and the float64 reference.
LOGIT_LIMIT = 1e-5


def reference_model(seed: int = 0) -> Any:
    """The reference MultiLayerPerceptron of SIZES, initialised under ``seed``."""
    mlp = reference_mlp()
    mlp.torch.manual_seed(seed)
    return mlp.MultiLayerPerceptron(*SIZES)


def reference_logits(arrays: list[np.ndarray], X: np.ndarray, relu: bool = True) -> np.ndarray:
    """The network's logits in float64, computed from its arrays (optionally without ReLU)."""
    return mlp_logits(arrays, X, None if relu else "no-relu")


def expected_shapes(input_size: int, hidden: list[int], classes: int) -> list[tuple[int, ...]]:
    """(out, in), (out,) per Linear layer, in layer order."""
    widths = [input_size, *hidden, classes]
    return [s for i, o in zip(widths[:-1], widths[1:], strict=True) for s in ((o, i), (o,))]


def grader_weights(seed: Any, shapes: list[tuple[int, ...]], positive: bool = False) -> list[np.ndarray]:
    """Weights the grader chooses (float32); ``positive`` keeps every pre-activation positive."""
    rng = np.random.default_rng(seed)
    arrays = []
    for shape in shapes:
        scale = 1 / np.sqrt(shape[1]) if len(shape) == 2 else 0.1
        a = rng.uniform(0.05, 1.0, shape) * scale if positive else rng.normal(0, scale, shape)
        arrays.append(a.astype(np.float32))
    return arrays


def model_with(student, check, sizes: tuple, arrays: list[np.ndarray]) -> Any:
    """A student MLP of ``sizes`` holding ``arrays``; shapes are checked on our side first, so a model
    built differently (a Linear without bias, a missing layer) fails with what is wrong, not an error."""
    model = student.new(TORCH_MODULE, "MultiLayerPerceptron", *sizes, seed=0)
    student_mlp_built()
    _, got = model.torch_params()
    shapes = [tuple(a.shape) if type(a) is np.ndarray else None for a in got]
    want = [a.shape for a in arrays]
    if shapes != want:
        if len(shapes) == len(want) // 2 and all(s is not None and len(s) == 2 for s in shapes):
            check.diagnose("Linear layers without bias: nn.Linear(in, out) has a bias (keep bias=True)")
        elif sorted(map(str, shapes)) == sorted(map(str, want)):
            check.diagnose(
                "layers created in a different order than they are applied (parameters() must follow the layers)"
            )
        raise CheckFailed(
            f"MultiLayerPerceptron{sizes}: parameter shapes {shapes}, expected {want} (weight (out, in), then bias)"
        )
    model.torch_load(arrays)
    return model


def logits_error(model, arrays: list[np.ndarray], X: np.ndarray, n_classes: int) -> tuple[float, np.ndarray]:
    logits = as_array(model.forward(X), "forward(x)", (len(X), n_classes))
    expected = mlp_logits(arrays, X)
    return float(np.max(np.abs(logits - expected) / (1 + np.abs(expected)))), logits


def name_forward_mistake(check, arrays: list[np.ndarray], X: np.ndarray, logits: np.ndarray) -> None:
    for key, description in MLP_FORWARD_MISTAKES.items():
        if np.allclose(logits, mlp_logits(arrays, X, key), rtol=1e-4, atol=1e-4):
            check.diagnose(description)
            return


@pytest.mark.points(5)
@pytest.mark.title("MLP layers: Linear, ReLU, ..., Linear")
def test_mlp_layers(student, check, hidden_seed):
    """Structure by behaviour: with weights the grader chooses, on fresh inputs where many hidden units
    are negative, the outputs must be those of Linear, ReLU, ..., Linear however the module is written."""
    shapes = expected_shapes(*SIZES)
    arrays = grader_weights([hidden_seed, 41], shapes)
    model = model_with(student, check, SIZES, arrays)
    X = np.random.default_rng([hidden_seed, 42]).normal(0, 2.0, size=(64, SIZES[0])).astype(np.float32)
    error, logits = logits_error(model, arrays, X, SIZES[2])
    if not error < LOGIT_LIMIT:
        name_forward_mistake(check, arrays, X, logits)
        raise CheckFailed(
            f"forward(x) with inputs that make hidden units negative: max error {error:.1e} against "
            f"Linear, ReLU, Linear, ReLU, Linear (limit {LOGIT_LIMIT:.0e})"
        )


@pytest.mark.points(3)
@pytest.mark.title("MLP parameters in layer order (weight, bias)")
def test_mlp_parameter_order(student, check, hidden_seed):
    """Shapes in order, and weights loaded by that order reach the right layer: checked where every
    pre-activation is positive, so the choice of activation does not matter here."""
    shapes = expected_shapes(*SIZES)
    arrays = grader_weights([hidden_seed, 43], shapes, positive=True)
    model = model_with(student, check, SIZES, arrays)
    X = np.random.default_rng([hidden_seed, 44]).uniform(0, 1, size=(16, SIZES[0])).astype(np.float32)
    error, logits = logits_error(model, arrays, X, SIZES[2])
    if not error < LOGIT_LIMIT:
        name_forward_mistake(check, arrays, X, logits)
        raise CheckFailed(
            f"forward(x) with weights loaded in parameter order: max error {error:.1e} (limit {LOGIT_LIMIT:.0e})"
        )


@pytest.mark.points(6)
@pytest.mark.title("MLP forward pass with reference weights")
def test_mlp_forward(student, check, hidden_seed):
    """Logits for other widths (no hidden layer, three hidden layers) with the reference's own weights
    and with weights the grader draws, on fresh inputs in the positive regime; twice, for determinism."""
    # The reference's own initial weights for a net without hidden layer (any activation is irrelevant
    # there); drawn positive weights for three hidden layers, so every pre-activation is positive.
    cases = [
        ((12, [], 3), reference_mlp().model_to_arrays(_reference_of(12, [], 3, 1))),
        ((10, [9, 7, 6], 4), grader_weights([hidden_seed, 45], expected_shapes(10, [9, 7, 6], 4), positive=True)),
    ]
    for sizes, arrays in cases:
        model = model_with(student, check, sizes, arrays)
        X = np.random.default_rng([hidden_seed, 46]).uniform(0, 1, size=(32, sizes[0])).astype(np.float32)
        error, logits = logits_error(model, arrays, X, sizes[2])
        again = as_array(model.forward(X), "forward(x)", (32, sizes[2]))
        if not np.array_equal(again, logits):
            check.diagnose("forward is random (dropout or noise in the model): the handout's MLP has neither")
            raise CheckFailed("forward(x) gave different outputs for the same input")
        if not error < LOGIT_LIMIT:
            name_forward_mistake(check, arrays, X, logits)
            raise CheckFailed(
                f"forward(x) for MultiLayerPerceptron{sizes}: max error {error:.1e} against the reference logits "
                f"(limit {LOGIT_LIMIT:.0e})"
            )


def _reference_of(input_size: int, hidden: list[int], classes: int, seed: int) -> Any:
    mlp = reference_mlp()
    mlp.torch.manual_seed(seed)
    return mlp.MultiLayerPerceptron(input_size, hidden, classes)


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
    """Well-separated Gaussian blobs."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(0, 2.0, (classes, d))
    y = rng.integers(0, classes, n)
    return (centres[y] + rng.normal(0, 1.0, (n, d))).astype(np.float32), y.astype(np.int64)


#: The optimizer settings the handout allows, each trained for a few steps: (optimizer, lr, weight decay).
TRAIN_MLP_SETTINGS = (("sgd", 0.1, 0.0), ("sgd", 0.1, 0.05), ("adam", 0.01, 0.0), ("adam", 0.01, 0.05))
TRAIN_MLP_SIZES = (20, [16], 4)
TRAIN_MLP_RUN = {"epochs": 2, "batch_size": 32}
#: The setting run with the handout's defaults (weight_decay=0.0, optimizer="adam", seed=0) left out of the call.
DEFAULTS_SETTING = ("adam", 0.01, 0.0)
DEFAULT_ARGS = {"weight_decay": 0.0, "optimizer": "adam", "seed": 0}
#: train_mlp's arguments after the data, in the handout's order.
TRAIN_MLP_ARGS = ("epochs", "batch_size", "learning_rate", "weight_decay", "optimizer", "seed")
#: Max error between the trained float32 weights and the reference's, relative to 1 + |weight|.
TRAINED_LIMIT = 1e-4


def _max_error(got: list[np.ndarray], want: list[np.ndarray]) -> float:
    return max(float(np.max(np.abs(g - w) / (1 + np.abs(w)))) for g, w in zip(got, want, strict=True))


#: Said once when the trained weights match neither the reference nor a catalogue mistake.
TRAIN_MLP_CAUSES = (
    "the trained weights match no common mistake; look at, in turn: the optimizer's construction and "
    "arguments (torch.optim.Adam or plain torch.optim.SGD, with lr=learning_rate and "
    "weight_decay=weight_decay, created once), the batches (the given torch.manual_seed(seed) and one "
    "torch.randperm per epoch, taken in order), the loss (nn.CrossEntropyLoss on the logits) and the model"
)


def _float_entry(value: Any) -> float | None:
    """A history entry as a float: a Python number, or a one-element array (a tensor comes back from the
    worker as a numpy array: a 0-d one for ``loss``, shape (1,) for ``loss.view(1)``); None for anything else."""
    if type(value) is np.ndarray and value.size == 1 and value.ndim <= 1 and value.dtype.kind in "fiu":
        return float(value.item())
    if type(value) in (int, float):
        return float(value)
    return None


def history_problem(stats: dict, steps: int, epochs: int) -> tuple[str, str | None] | None:
    """What breaks the handout's contract for train_mlp's histories, as (feedback line, mistake name or
    None); None when both are right. Only the format is checked, never the values reported."""
    losses, accs = stats["loss_history"], stats["val_acc_history"]
    if type(losses) is np.ndarray and losses.ndim == 1 and losses.dtype.kind == "f":
        losses = losses.tolist()
    if type(losses) is not list:
        return f"loss_history must be a list of floats, got {describe(losses)}", None
    if len(losses) != steps:
        return (
            f"loss_history has {len(losses)} entries for {epochs} epochs of {steps // epochs} steps: "
            f"expected {steps}, the loss of every step",
            None,
        )
    odd = next((i for i, v in enumerate(losses) if type(v) is not float), None)
    if odd is not None:
        value = losses[odd]
        if _float_entry(value) is not None and type(value) is np.ndarray:
            return (
                f"loss_history[{odd}] is {describe(value)} (a tensor arrives as one), not a float: append loss.item()",
                "loss_history holds tensors instead of floats: append loss.item(), not loss",
            )
        return f"loss_history[{odd}] is {describe(value)}, expected a float (loss.item())", None
    if type(accs) is np.ndarray and accs.ndim == 1:
        accs = accs.tolist()
    if type(accs) is not list or len(accs) != epochs:
        got = f"{len(accs)} entries" if type(accs) is list else describe(accs)
        return f"val_acc_history: {got}, expected a list of {epochs}, one accuracy per epoch", None
    values = [_float_entry(v) for v in accs]
    odd = next((i for i, v in enumerate(values) if v is None), None)
    if odd is not None:
        return f"val_acc_history[{odd}] is {describe(accs[odd])}, expected a number (an accuracy)", None
    outside = next((i for i, v in enumerate(values) if not 0 <= v <= 1), None)
    if outside is not None:
        counts = all(v.is_integer() for v in values)
        return (
            f"val_acc_history[{outside}] is {values[outside]:g}, outside [0, 1]: the accuracy is the fraction "
            "of correct predictions",
            "validation accuracy reported as a count of correct predictions: divide by the number of samples"
            if counts
            else None,
        )
    return None


@pytest.mark.points(6)
@pytest.mark.title("train_mlp follows the reference (SGD, Adam, weight decay); its histories in the handout's format")
def test_train_mlp(student, check, hidden_seed):
    """For each optimizer setting: from the same initial weights and seed (so the same batches), the
    trained weights must equal the reference's; the model must then be deterministic in evaluation.
    The histories returned are checked for the handout's format only (one float loss per step, one
    accuracy in [0, 1] per epoch): a wrong format halves the points."""
    X, y = blobs(int(np.random.default_rng([hidden_seed, 47]).integers(2**31)), 96)
    shapes = expected_shapes(*TRAIN_MLP_SIZES)
    start = grader_weights([hidden_seed, 48], shapes)
    epochs, batch_size = TRAIN_MLP_RUN["epochs"], TRAIN_MLP_RUN["batch_size"]
    steps = epochs * -(-len(X) // batch_size)
    passed, failures, history, unexplained = 0, [], None, False
    for optimizer, lr, wd in TRAIN_MLP_SETTINGS:
        defaults = (optimizer, lr, wd) == DEFAULTS_SETTING
        setting = dict(TRAIN_MLP_RUN, learning_rate=lr, weight_decay=wd, optimizer=optimizer, seed=3)
        if defaults:
            setting.update(DEFAULT_ARGS)
        # With the defaults left out, only the arguments before weight_decay are passed.
        positional = [setting[k] for k in TRAIN_MLP_ARGS[: 3 if defaults else None]]
        stats, got, model = _train_student_mlp(student, check, start, shapes, X, y, positional)
        history = history or history_problem(stats, steps, epochs)
        expected = train_mlp_variant(start, X, y, **setting)
        error = _max_error(got, expected)
        label = f"{optimizer}, lr={lr}, weight_decay={wd}"
        if error < TRAINED_LIMIT:
            passed += 1
            continue
        if defaults:
            explicit = _train_student_mlp(student, check, start, shapes, X, y, [setting[k] for k in TRAIN_MLP_ARGS])[1]
            if _max_error(explicit, expected) < TRAINED_LIMIT:
                failures.append(
                    "train_mlp(model, X_train, y_train, X_val, y_val, epochs, batch_size, learning_rate) trains "
                    "otherwise than with weight_decay=0.0, optimizer='adam', seed=0 given: keep the handout's "
                    "defaults"
                )
                if check.diagnosis is None:
                    check.diagnose(
                        "train_mlp's defaults differ from the handout's (weight_decay=0.0, optimizer='adam', seed=0)"
                    )
                continue
        failures.append(
            f"{label}: trained weights differ from the reference's by {error:.1e} (limit {TRAINED_LIMIT:.0e})"
        )
        if check.diagnosis is None:
            for key, description in TRAIN_MLP_MISTAKES.items():
                mutant = train_mlp_variant(start, X, y, mistake=key, **setting)
                if mutant and _max_error(got, mutant) < TRAINED_LIMIT:
                    check.diagnose(description)
                    break
            else:
                if not unexplained:
                    unexplained = True
                    unchanged = _max_error(got, start) == 0
                    check.note(
                        "the weights did not change at all during training"
                        if unchanged
                        else _unexplained_note(student, check, start, X)
                    )
    if not failures:
        X_test = X[:8]
        first, second = model.forward(X_test), model.forward(X_test)
        if not (type(first) is np.ndarray and type(second) is np.ndarray and np.array_equal(first, second)):
            check.diagnose("forward is random after train_mlp: call model.eval() (dropout or noise must be off)")
            raise CheckFailed("after train_mlp, forward(x) gave different outputs for the same input")
    fraction = passed / len(TRAIN_MLP_SETTINGS)
    if history is not None:
        line, mistake = history
        failures.append(line)
        if mistake and check.diagnosis is None:
            check.diagnose(mistake)
        fraction /= 2
    check.partial(fraction)
    if failures:
        raise CheckFailed("; ".join(failures))


def _train_student_mlp(student, check, start, shapes, X, y, positional: list) -> tuple[Any, list[np.ndarray], Any]:
    """The student's train_mlp run from the weights ``start`` with these positional arguments after the
    data (all positional: ``seed`` as a keyword would be taken by student.call as the worker's seed): its
    result, validated as a dict of the two histories, the trained parameters and the model."""
    model = model_with(student, check, TRAIN_MLP_SIZES, start)
    stats, _ = student.call(TORCH_MODULE, "train_mlp", model.ref, X, y, X[:16], y[:16], *positional)
    as_dict(stats, "train_mlp(...) result", ["loss_history", "val_acc_history"])
    _, got = model.torch_params()
    got = [as_array(a, "trained parameter", s) for a, s in zip(got, shapes, strict=False)]
    if len(got) != len(shapes):
        raise CheckFailed("train_mlp changed the model's parameters")
    return stats, got, model


def _unexplained_note(student, check, start: list[np.ndarray], X: np.ndarray) -> str:
    """The causes to look at when no catalogue mistake explains the trained weights; the model first
    when its forward pass already differs from Linear, ReLU, ..., Linear before training."""
    model = model_with(student, check, TRAIN_MLP_SIZES, start)
    logits = model.forward(X[:16])
    expected = mlp_logits(start, X[:16])
    if not (type(logits) is np.ndarray and logits.shape == expected.shape):
        return "before training, forward(x) does not return logits of shape (N, num_classes): see the MLP checks"
    if not float(np.max(np.abs(logits - expected) / (1 + np.abs(expected)))) < LOGIT_LIMIT:
        return (
            "before training, your model's forward already differs from Linear, ReLU, ..., Linear (see the MLP "
            "layers check): train_mlp trains that model, so its weights differ too"
        )
    return TRAIN_MLP_CAUSES
