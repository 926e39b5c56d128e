"""The numpy modules: each backward against the reference and against centred differences of the
submission's own forward (float64, relative error below the tolerance), initialisation, clear_cache."""

from __future__ import annotations

import numpy as np

from grader.pack import (
    CheckFailed,
    StudentException,
    as_array,
    as_dict,
    as_float,
    close_relative,
    hidden,
    needs,
    points,
    title,
)
from reference.modular_mlp import mlp_numpy as ref_mlp
from reference.modular_mlp import modules as ref

from . import mutants
from .fixtures import (
    ELU_ALPHA,
    FILES,
    MLP_NUMPY,
    MODULES,
    NUMERIC,
    away_from_zero,
    compare,
    finish,
    labels,
    linear_problem,
    mistake_in,
    mlp_params,
    numeric_gradient_of,
    probabilities,
    student_linear,
    student_mlp,
)

pytestmark = needs(FILES[MODULES])


def reference_linear(seed: int, d_in: int, d_out: int, input_layer: bool) -> ref.LinearModule:
    """The reference layer drawn from numpy's global generator seeded with ``seed`` (state restored)."""
    state = np.random.get_state()
    try:
        np.random.seed(seed)
        return ref.LinearModule(d_in, d_out, input_layer=input_layer)
    finally:
        np.random.set_state(state)


@points(5)
@title("LinearModule: initialisation (scaled normal weights from numpy's seed, zero biases)")
def test_linear_init(student, check):
    failures = []
    for seed, input_layer in ((3, True), (4, False)):
        expected = reference_linear(seed, 20, 7, input_layer)
        layer = student.new(MODULES, "LinearModule", 20, 7, input_layer=input_layer, seed=seed)
        params = as_dict(layer.get("params"), "params", ["weight", "bias"])
        which = "input layer" if input_layer else "hidden layer"
        failure = compare(f"{which} weight", params["weight"], expected.params["weight"], 1e-12)
        if failure and type(params["weight"]) is np.ndarray and params["weight"].shape == (7, 20):
            got, wanted = params["weight"].std(), expected.params["weight"].std()
            check.note(f"{which}: weight std {got:.4f}, expected about {wanted:.4f}")
        failures += [failure] if failure else []
    bias_failure = compare("bias", params["bias"], np.zeros((1, 7)), 1e-12)
    failures += [bias_failure] if bias_failure else []
    finish(check, failures, 3)


def second_batch_grads(layer, p: dict[str, np.ndarray], first: dict, tol: float) -> str | None:
    """Forward and backward on a second batch: ``grads`` must hold that batch's gradients only."""
    rng = np.random.default_rng(111)
    x2, dout2 = rng.normal(0, 1, p["x"].shape), rng.normal(0, 1, p["dout"].shape)
    expected = ref.LinearModule(*p["weight"].shape[::-1])
    expected.params = {"weight": p["weight"].copy(), "bias": p["bias"].copy()}
    expected.forward(x2)
    expected.backward(dout2)
    layer.call("forward", x2)
    layer.call("backward", dout2)
    grads = as_dict(layer.get("grads"), "grads", ["weight", "bias"])
    name = "grads['{}'] after a second forward and backward"
    wrong = [f for f in (compare(name.format(k), grads[k], expected.grads[k], tol) for k in ("weight", "bias")) if f]
    if not wrong:
        return None
    summed = all(
        type(grads[k]) is np.ndarray
        and grads[k].dtype.kind == "f"
        and grads[k].shape == first[k].shape
        and close_relative(np.asarray(grads[k], dtype=np.float64), first[k] + expected.grads[k], tol)[0]
        for k in ("weight", "bias")
    )
    if summed:
        return (
            "after a second forward and backward, grads hold the sum of both batches' gradients: "
            "backward must store this call's gradients (grads[k] = ...), not add them (+=)"
        )
    return wrong[0]


@points(8)
@title("LinearModule: forward and backward (dx, weight and bias gradients, a second batch)")
def test_linear_backward(student, check, settings):
    tol = settings.gradient_tolerance
    p = linear_problem(11)
    x, dout = p["x"], p["dout"]
    layer = student_linear(student, p["weight"], p["bias"])
    expected = ref.LinearModule(5, 3)
    expected.params = {"weight": p["weight"].copy(), "bias": p["bias"].copy()}
    out_expected = expected.forward(x)
    dx_expected = expected.backward(dout)
    out, _ = layer.call("forward", x)
    dx, _ = layer.call("backward", dout)
    grads = as_dict(layer.get("grads"), "grads", ["weight", "bias"])
    failures = [f for f in [compare("forward(x)", out, out_expected, tol)] if f]
    for name, actual, wanted in (
        ("dx", dx, dx_expected),
        ("grads['weight']", grads["weight"], expected.grads["weight"]),
        ("grads['bias']", grads["bias"], expected.grads["bias"]),
    ):
        failure = compare(name, actual, wanted, tol)
        if failure:
            failures.append(failure)
            key = name[7:-2] if name.startswith("grads") else None
            if key:
                mistake_in(check, actual, mutants.LINEAR_GRADS, x, dout, key=key)
    if not failures:
        # backward stores the gradients of its own call: a second batch must not add to the first's.
        first = {k: np.array(grads[k], dtype=np.float64) for k in ("weight", "bias")}
        failure = second_batch_grads(layer, p, first, tol)
        failures += [failure] if failure else []
    if not failures:
        # Consistency with centred differences of the submission's own forward pass.
        def loss_of_x(v):
            return float(np.sum(as_array(layer.call("forward", v)[0], "forward(x)", out_expected.shape) * dout))

        def loss_of(key):
            def f(v):
                layer.set("params", key, value=v.copy())
                return float(np.sum(as_array(layer.call("forward", x)[0], "forward(x)", out_expected.shape) * dout))

            return f

        for name, actual, numeric in (
            ("dx", dx, numeric_gradient_of(loss_of_x, x)),
            ("grads['weight']", grads["weight"], numeric_gradient_of(loss_of("weight"), p["weight"])),
            ("grads['bias']", grads["bias"], numeric_gradient_of(loss_of("bias"), p["bias"])),
        ):
            failure = compare(f"{name} {NUMERIC}", actual, numeric, tol)
            failures += [failure] if failure else []
    finish(check, failures, 4)


#: Where the activation checks put exact zeros (one per row): the derivative there is fixed by the handout.
ZEROS = ((0, 1), (1, 3), (2, 0), (3, 4))
#: The derivative at x = 0 the handout fixes, and why, for each activation.
AT_ZERO = {
    "ELUModule": "the derivative is alpha * exp(0) = alpha at 0; 1 only where x > 0",
    "ReLUModule": "the derivative is 0 at 0; 1 only where x > 0",
}


def at_zero_failure(cls: str, dx, dx_expected: np.ndarray, dout: np.ndarray, zeros: np.ndarray, tol: float):
    """The one-line failure when ``dx`` is right everywhere except at the exact zeros of the input."""
    try:
        value = as_array(dx, f"{cls}.backward", dx_expected.shape)
    except CheckFailed:
        return None
    if not close_relative(value[~zeros], dx_expected[~zeros], tol)[0]:
        return None
    got, wanted = value[zeros] / dout[zeros], dx_expected[zeros] / dout[zeros]
    i = int(np.argmax(np.abs(got - wanted)))
    return f"{cls} backward at x = 0: got derivative {got[i]:.4g}, expected {wanted[i]:.4g} ({AT_ZERO[cls]})"


@points(6)
@title("ELUModule and ReLUModule: forward and backward (exact zeros included)")
def test_activations(student, check, settings):
    tol = settings.gradient_tolerance
    rng = np.random.default_rng(12)
    x, dout = away_from_zero(rng, (4, 5)), rng.normal(0, 1, (4, 5))
    zeros = np.zeros(x.shape, dtype=bool)
    zeros[tuple(np.array(ZEROS).T)] = True
    x[zeros] = 0.0  # the kink: the handout fixes the derivative there (centred differences skip it)
    failures = []
    for cls, args, reference in (
        ("ELUModule", (ELU_ALPHA,), ref.ELUModule(ELU_ALPHA)),
        ("ReLUModule", (), ref.ReLUModule()),
    ):
        module = student.new(MODULES, cls, *args, seed=0)
        out_expected = reference.forward(x)
        dx_expected = reference.backward(dout)
        out, _ = module.call("forward", x)
        dx, _ = module.call("backward", dout)
        failure = compare(f"{cls}.forward", out, out_expected, tol)
        failures += [failure] if failure else []
        failure = compare(f"{cls}.backward", dx, dx_expected, tol)
        if failure:
            failures.append(at_zero_failure(cls, dx, dx_expected, dout, zeros, tol) or failure)
            if cls == "ELUModule":
                mistake_in(check, dx, mutants.ELU_BACKWARD, x, dout, ELU_ALPHA)
        elif cls == "ELUModule":

            def f(v, module=module):
                return float(np.sum(as_array(module.call("forward", v)[0], "forward(x)", x.shape) * dout))

            numeric = numeric_gradient_of(f, x)
            failure = compare(f"ELU backward {NUMERIC}", as_array(dx, "dx", x.shape)[~zeros], numeric[~zeros], tol)
            failures += [failure] if failure else []
    finish(check, failures, 4)


@points(6)
@title("SoftMaxModule: stable forward and backward through the full Jacobian")
def test_softmax(student, check, settings):
    tol = settings.gradient_tolerance
    rng = np.random.default_rng(13)
    x, dout = rng.normal(0, 2, (4, 5)), rng.normal(0, 1, (4, 5))
    x[0] += 800.0  # a row that overflows without the max shift
    reference = ref.SoftMaxModule()
    module = student.new(MODULES, "SoftMaxModule", seed=0)
    out, _ = module.call("forward", x)
    dx, _ = module.call("backward", dout)
    failures = [f for f in [compare("forward(x)", out, reference.forward(x), tol)] if f]
    failure = compare("backward(dout)", dx, reference.backward(dout), tol)
    if failure:
        failures.append(failure)
        mistake_in(check, dx, mutants.SOFTMAX_BACKWARD, x, dout)
    elif not failures:
        small = x[1:]

        def f(v):
            return float(np.sum(as_array(module.call("forward", v)[0], "forward(x)", small.shape) * dout[1:]))

        module.call("forward", small)
        dx_small, _ = module.call("backward", dout[1:])
        failure = compare(f"backward {NUMERIC}", dx_small, numeric_gradient_of(f, small), tol)
        failures += [failure] if failure else []
    finish(check, failures, 2)


@points(6)
@title("CrossEntropyModule: mean loss over the batch and its gradient")
def test_cross_entropy(student, check, settings):
    tol = settings.gradient_tolerance
    rng = np.random.default_rng(14)
    x, y = probabilities(rng, 6, 4), labels(rng, 6, 4)
    reference = ref.CrossEntropyModule()
    module = student.new(MODULES, "CrossEntropyModule", seed=0)
    loss_value, _ = module.call("forward", x, y)
    dx, _ = module.call("backward", x, y)
    failures = []
    try:
        loss = as_float(loss_value, "forward(x, y)")
        expected = reference.forward(x, y)
        if not abs(loss - expected) < tol * max(1.0, abs(expected)):
            failures.append(f"forward(x, y): got {loss:.11f}, expected {expected:.11f}")
            for name, variant in mutants.CE_FORWARD:
                if abs(loss - variant(x, y)) < 1e-6 * max(1.0, abs(loss)):
                    check.diagnose(name)
                    break
    except CheckFailed as exc:
        failures.append(exc.message)
    failure = compare("backward(x, y)", dx, reference.backward(x, y), tol)
    if failure:
        failures.append(failure)
        mistake_in(check, dx, mutants.CE_BACKWARD, x, y)
    elif not failures:

        def f(v):
            return as_float(module.call("forward", v, y)[0], "forward(x, y)")

        failure = compare(f"backward {NUMERIC}", dx, numeric_gradient_of(f, x), tol)
        failures += [failure] if failure else []
    finish(check, failures, 2)


def _cached_arrays(value, batch: int, where: str = "") -> list[str]:
    """Attributes (outside params and grads) still holding an array with one row per sample."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if where == "" and key in ("params", "grads"):
                continue
            found += _cached_arrays(item, batch, f"{where}.{key}" if where else key)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _cached_arrays(item, batch, f"{where}[{i}]")
    elif isinstance(value, np.ndarray) and value.ndim >= 1 and value.shape[0] == batch:
        found.append(f"{where} (shape {value.shape})")
    return found


#: The MLP of the clear_cache check: 5 inputs (the modules' batch), a hidden layer of 4, 3 classes.
CACHE_MLP = (5, 4, 3)


@needs(FILES[MODULES], FILES[MLP_NUMPY])
@points(3)
@title("clear_cache() drops what forward saved, in every module and in every layer of the MLP")
def test_clear_cache(student, check, settings):
    rng = np.random.default_rng(15)
    x, dout = away_from_zero(rng, (9, 5)), rng.normal(0, 1, (9, 5))
    weight, bias = rng.normal(0, 0.5, (5, 5)), rng.normal(0, 0.1, (1, 5))
    linear = ref.LinearModule(5, 5)
    linear.params = {"weight": weight, "bias": bias}
    params = mlp_params(16, CACHE_MLP)
    mlp = ref_mlp.MLP(CACHE_MLP[0], list(CACHE_MLP[1:-1]), CACHE_MLP[-1])
    for layer, p in zip(mlp.linear_layers(), params, strict=True):
        layer.params = {k: v.copy() for k, v in p.items()}
    cases = (
        ("LinearModule", lambda: student_linear(student, weight, bias), linear, dout),
        ("ELUModule", lambda: student.new(MODULES, "ELUModule", ELU_ALPHA, seed=0), ref.ELUModule(ELU_ALPHA), dout),
        ("ReLUModule", lambda: student.new(MODULES, "ReLUModule", seed=0), ref.ReLUModule(), dout),
        ("SoftMaxModule", lambda: student.new(MODULES, "SoftMaxModule", seed=0), ref.SoftMaxModule(), dout),
        ("MLP", lambda: student_mlp(student, params), mlp, None),
    )
    failures, failed = [], set()
    for cls, make, reference, grad in cases:
        try:
            failure = _cache_kept(cls, make(), reference, x, grad, settings.gradient_tolerance, failed)
        except StudentException as exc:
            if cls != "MLP":
                raise
            failure = f"MLP: {exc}"
        if failure:
            failures.append(failure)
            failed.add(cls)
    finish(check, failures, len(cases))


def _cache_kept(
    cls: str, module, reference, x: np.ndarray, dout: np.ndarray | None, tol: float, failed: set[str]
) -> str | None:
    """forward, backward (unless ``dout`` is None), clear_cache(), then the failure naming whatever still
    holds batch data (for the MLP: in a layer whose class passed its own part, named in ``failed``)."""
    # Only a module that computes something has a cache to clear: its forward must be right.
    out, _ = module.call("forward", x)
    failure = compare(f"{cls}.forward", out, reference.forward(x), tol)
    if failure:
        return failure
    if dout is not None:
        module.call("backward", dout)
    module.call("clear_cache")
    if cls != "MLP":
        kept = _cached_arrays(module.get("__dict__"), len(x))
        return f"{cls}: after clear_cache() still holds batch data in " + ", ".join(kept) if kept else None
    # MLP.clear_cache() clears every layer (the handout). Only forward runs before it, which fills every
    # layer's cache: a wrong backward, or a layer's own incomplete clear_cache, costs its own part only.
    kept = [
        f"layers[{i}].{where}"
        for i, layer in enumerate(reference.layers)
        if type(layer).__name__ not in failed
        for where in _cached_arrays(module.get("layers", i, "__dict__"), len(x))
    ]
    return "MLP: after clear_cache() its layers still hold batch data in " + ", ".join(kept) if kept else None


@hidden
@points(6)
@title("All modules on hidden inputs")
def test_modules_hidden(student, check, settings, hidden_seed):
    tol = settings.gradient_tolerance
    rng = np.random.default_rng(hidden_seed)
    n, d_in, d_out = int(rng.integers(8, 17)), int(rng.integers(6, 13)), int(rng.integers(3, 8))
    p = linear_problem(int(rng.integers(1 << 30)), n, d_in, d_out)
    failures = []
    layer = student_linear(student, p["weight"], p["bias"])
    expected = ref.LinearModule(d_in, d_out)
    expected.params = {"weight": p["weight"].copy(), "bias": p["bias"].copy()}
    expected.forward(p["x"])
    dx_expected = expected.backward(p["dout"])
    layer.call("forward", p["x"])
    dx, _ = layer.call("backward", p["dout"])
    grads = as_dict(layer.get("grads"), "grads", ["weight", "bias"])
    for name, actual, wanted in (
        ("Linear dx", dx, dx_expected),
        ("Linear grads['weight']", grads["weight"], expected.grads["weight"]),
        ("Linear grads['bias']", grads["bias"], expected.grads["bias"]),
    ):
        failure = compare(name, actual, wanted, tol)
        failures += [failure] if failure else []
    x, dout = away_from_zero(rng, (n, d_out)), rng.normal(0, 1, (n, d_out))
    for cls, args, reference in (
        ("ELUModule", (1.3,), ref.ELUModule(1.3)),
        ("ReLUModule", (), ref.ReLUModule()),
        ("SoftMaxModule", (), ref.SoftMaxModule()),
    ):
        module = student.new(MODULES, cls, *args, seed=0)
        reference.forward(x)
        module.call("forward", x)
        dx, _ = module.call("backward", dout)
        failure = compare(f"{cls} dx", dx, reference.backward(dout), tol)
        failures += [failure] if failure else []
    probs, y = probabilities(rng, n, d_out), labels(rng, n, d_out)
    module = student.new(MODULES, "CrossEntropyModule", seed=0)
    dx, _ = module.call("backward", probs, y)
    failure = compare("CrossEntropy dx", dx, ref.CrossEntropyModule().backward(probs, y), tol)
    failures += [failure] if failure else []
    finish(check, failures, 7)
