"""The modular numpy MLP: layers and initialisation, the composed gradients, one SGD step, accuracy."""

from __future__ import annotations

import numpy as np

from grader.pack import CheckFailed, StudentException, as_array, as_float, needs, points, title
from reference.modular_mlp import mlp_numpy as ref
from reference.modular_mlp.modules import CrossEntropyModule

from . import mutants
from .fixtures import (
    FILES,
    MLP_NUMPY,
    MODULES,
    NUMERIC,
    compare,
    finish,
    labels,
    mistake_in,
    mlp_params,
    numeric_gradient_of,
    student_mlp,
)

pytestmark = needs(FILES[MODULES], FILES[MLP_NUMPY])

#: The MLP of these checks: 6 inputs, hidden layers of 5 and 4, 3 classes.
SIZES = (6, 5, 4, 3)
BATCH = 5


def reference_model(params: list[dict[str, np.ndarray]]) -> ref.MLP:
    model = ref.MLP(SIZES[0], list(SIZES[1:-1]), SIZES[-1])
    for layer, p in zip(model.linear_layers(), params, strict=True):
        layer.params = {k: v.copy() for k, v in p.items()}
    return model


def problem(seed: int) -> tuple[list[dict[str, np.ndarray]], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return mlp_params(seed + 1, SIZES), rng.normal(0, 1, (BATCH, SIZES[0])), labels(rng, BATCH, SIZES[-1])


def read_params(model, count: int = len(SIZES) - 1) -> list[dict[str, object]]:
    return [{k: model.get("layers", 2 * i, "params", k) for k in ("weight", "bias")} for i in range(count)]


@points(5)
@title("MLP: layers in order, initialised from numpy's seed (also with no hidden layer), forward gives probabilities")
def test_mlp_init_and_forward(student, check, settings):
    state = np.random.get_state()
    try:
        np.random.seed(5)
        expected = ref.MLP(SIZES[0], list(SIZES[1:-1]), SIZES[-1])
    finally:
        np.random.set_state(state)
    model = student.new(MLP_NUMPY, "MLP", SIZES[0], list(SIZES[1:-1]), SIZES[-1], seed=5)
    wrong = []
    for i, (got, layer) in enumerate(zip(read_params(model), expected.linear_layers(), strict=True)):
        for key in ("weight", "bias"):
            failure = compare(f"layers[{2 * i}].params['{key}'] after MLP(...)", got[key], layer.params[key], 1e-12)
            wrong += [failure] if failure else []
    # With no hidden layer the only Linear is the input layer (std sqrt(1/in), the handout).
    state = np.random.get_state()
    try:
        np.random.seed(6)
        alone = ref.MLP(SIZES[0], [], SIZES[-1]).linear_layers()[0]
    finally:
        np.random.set_state(state)
    try:
        model = student.new(MLP_NUMPY, "MLP", SIZES[0], [], SIZES[-1], seed=6)
        weight = model.get("layers", 0, "params", "weight")
    except StudentException as exc:
        weight, failure = None, f"MLP(6, [], 3) (no hidden layer): {exc}"
    else:
        failure = compare("MLP(6, [], 3): layers[0].params['weight']", weight, alone.params["weight"], 1e-12)
        if failure and type(weight) is np.ndarray and weight.shape == alone.params["weight"].shape:
            got, wanted = float(np.asarray(weight, dtype=np.float64).std()), float(alone.params["weight"].std())
            if not abs(got - wanted) < 0.05 * wanted:  # the scale, not only the values, is off
                failure = (
                    f"MLP(6, [], 3): layers[0] weight std {got:.3f}, expected about {wanted:.3f} (with no hidden "
                    "layer the only Linear is the input layer: std sqrt(1/in))"
                )
    wrong += [failure] if failure else []
    failures = wrong[:1]
    params, x, _ = problem(21)
    model = student_mlp(student, params)
    out, _ = model.call("forward", x)
    expected_out = reference_model(params).forward(x)
    failure = compare("forward(x) with given weights", out, expected_out, settings.gradient_tolerance)
    failures += [failure] if failure else []
    finish(check, failures, 2)


@points(8)
@title("MLP: backward gives every layer's gradients (reference and centred differences)")
def test_mlp_gradients(student, check, settings):
    tol = settings.gradient_tolerance
    params, x, y = problem(22)
    expected = reference_model(params)
    probs = expected.forward(x)
    dout = CrossEntropyModule().backward(probs, y)
    expected.backward(dout)
    model = student_mlp(student, params)
    model.call("forward", x)
    model.call("backward", dout)
    failures = []
    grads = []
    for i, layer in enumerate(expected.linear_layers()):
        for key in ("weight", "bias"):
            got = model.get("layers", 2 * i, "grads", key)
            grads.append((i, key, got))
            failure = compare(f"layers[{2 * i}].grads['{key}']", got, layer.grads[key], tol)
            failures += [failure] if failure else []
    if not failures:
        # The loss as a function of one parameter, through the submission's own forward pass.
        def loss_of(i: int, key: str):
            def f(v: np.ndarray) -> float:
                model.set("layers", 2 * i, "params", key, value=v.copy())
                out = as_array(model.call("forward", x)[0], "forward(x)", probs.shape)
                return CrossEntropyModule().forward(out, y)

            return f

        for i, key, got in grads:
            numeric = numeric_gradient_of(loss_of(i, key), params[i][key])
            model.set("layers", 2 * i, "params", key, value=params[i][key].copy())
            failure = compare(f"layers[{2 * i}].grads['{key}'] {NUMERIC}", got, numeric, tol)
            failures += [failure] if failure else []
    finish(check, failures, 2 * len(expected.linear_layers()))


@points(5)
@title("train_step: one SGD step (loss, then every Linear's weight and bias updated)")
def test_train_step(student, check, settings):
    params, x, y = problem(23)
    lr = 0.3
    expected = reference_model(params)
    expected_loss = ref.train_step(expected, x, y, lr)
    model = student_mlp(student, params)
    loss_value, _ = student.call(MLP_NUMPY, "train_step", model.ref, x, y, lr)
    failures = []
    try:
        loss = as_float(loss_value, "train_step(...)")
        if not abs(loss - expected_loss) < 1e-10 * max(1.0, abs(expected_loss)):
            failures.append(f"returned loss {loss:.11f}, expected {expected_loss:.11f} (the loss before the update)")
    except CheckFailed as exc:
        failures.append(exc.message)
    after = read_params(model)
    wrong = []
    for i, layer in enumerate(expected.linear_layers()):
        for key in ("weight", "bias"):
            failure = compare(
                f"layers[{2 * i}].params['{key}'] after the step", after[i][key], layer.params[key], 1e-10
            )
            wrong += [failure] if failure else []
    if wrong:
        failures.append(wrong[0] + (f" (and {len(wrong) - 1} more)" if len(wrong) > 1 else ""))
        first_layers = [
            (name, lambda v=variant: v(params, x, y, lr)[0]["weight"]) for name, variant in mutants.TRAIN_STEP
        ]
        mistake_in(check, after[0]["weight"], first_layers)
    finish(check, failures, 2)


@points(1)
@title("accuracy(predictions, targets)")
def test_accuracy_function(student, check):
    rng = np.random.default_rng(24)
    predictions, targets = rng.normal(0, 1, (50, 10)), rng.integers(0, 10, 50)
    value, _ = student.call(MLP_NUMPY, "accuracy", predictions, targets)
    got, expected = as_float(value, "accuracy(...)"), ref.accuracy(predictions, targets)
    if not abs(got - expected) < 1e-12:
        raise CheckFailed(
            f"accuracy(...) gave {got}, expected {expected} (fraction of rows whose argmax is the target)"
        )
