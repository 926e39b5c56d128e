"""Batch normalisation: the autograd module's forward (per-feature statistics, biased variance, eps
inside the square root), the hand-written backward with ``torch.autograd.gradcheck`` and against the
reference, and the module around it.

``gradcheck`` runs here, in the trusted process, on a stand-in ``Function`` whose forward and
backward are the submission's, evaluated in the sandbox: torch compares the submission's backward
with centred differences of its forward; nothing the worker says about itself is taken as a verdict.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch.autograd.gradcheck import GradcheckError

from grader.pack import (
    CheckFailed,
    Remote,
    Student,
    StudentException,
    as_array,
    as_dict,
    hidden,
    needs,
    points,
    preload,
    title,
)
from reference.modular_mlp import custom_batchnorm as ref

from . import mutants
from .fixtures import BATCHNORM, FILES, compare, finish, mistake_in

pytestmark = [needs(FILES[BATCHNORM]), preload("torch")]

FUNCTION = "CustomBatchNormManualFunction.apply"
#: Large enough that eps inside or outside the square root differ clearly for the small feature.
EPS = 0.05
#: A module's gamma and beta are float32 parameters, so their gradients carry float32 rounding.
PARAM_GRAD_LIMIT = 1e-6


def bn_problem(seed: int, n: int = 6, d: int = 4) -> dict[str, np.ndarray]:
    """Features with different means and scales (one nearly constant): statistics must be per feature."""
    rng = np.random.default_rng(seed)
    scales = np.array([3.0, 0.5, 0.05, 1.5] + [1.0] * (d - 4))[:d]
    shifts = np.array([2.0, -1.0, 0.5, 10.0] + [0.0] * (d - 4))[:d]
    return {
        "x": rng.normal(0, 1, (n, d)) * scales + shifts,
        # float32-exact, so that a module's float32 parameters hold exactly these values
        "gamma": rng.normal(1, 0.3, d).astype(np.float32).astype(np.float64),
        "beta": rng.normal(0, 0.3, d).astype(np.float32).astype(np.float64),
        "dout": rng.normal(0, 1, (n, d)),
    }


def reference_grads(p: dict[str, np.ndarray], eps: float) -> dict[str, np.ndarray]:
    """Output and gradients of the reference by autograd (float64)."""
    x, gamma, beta = (torch.tensor(p[k], requires_grad=True) for k in ("x", "gamma", "beta"))
    out = ref.CustomBatchNormManualFunction.apply(x, gamma, beta, eps)
    out.backward(torch.tensor(p["dout"]))
    return {"out": out.detach().numpy(), "dx": x.grad.numpy(), "dgamma": gamma.grad.numpy(), "dbeta": beta.grad.numpy()}


def grad_list(reply: dict, key: str, count: int) -> list:
    grads = as_dict(reply, "reply", [key])[key]
    if type(grads) is not list or len(grads) < count:
        raise CheckFailed(f"expected {count} gradients, got {grads!r:.80}")
    return grads


def student_function(student: Student, eps: float) -> type[torch.autograd.Function]:
    """A Function whose forward and backward are the submission's, run in the sandbox."""

    def run(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, dout: torch.Tensor | None) -> dict:
        args = [t.detach().numpy().copy() for t in (x, gamma, beta)]
        if dout is None:
            return student.autograd(BATCHNORM, FUNCTION, *args, eps)
        return student.autograd(BATCHNORM, FUNCTION, *args, eps, grad_output=dout.numpy().copy(), wrt=(0, 1, 2))

    class Submission(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, gamma, beta):  # noqa: ANN001, ANN205
            ctx.save_for_backward(x, gamma, beta)
            value = as_array(as_dict(run(x, gamma, beta, None), "reply", ["value"])["value"], "forward", tuple(x.shape))
            return torch.from_numpy(value)

        @staticmethod
        def backward(ctx, dout):  # noqa: ANN001, ANN205
            x, gamma, beta = ctx.saved_tensors
            grads = grad_list(run(x, gamma, beta, dout.detach().contiguous()), "grads", 3)
            shapes = (tuple(x.shape), tuple(gamma.shape), tuple(beta.shape))
            names = ("grad_input", "grad_gamma", "grad_beta")
            return tuple(torch.from_numpy(as_array(g, n, s)) for g, n, s in zip(grads, names, shapes, strict=True))

    return Submission


def initial_parameters(module: Remote, d: int) -> str | None:
    """The failure when a new module's parameters are not gamma (ones) then beta (zeros), as the handout says."""
    _, arrays = module.torch_params()
    got = [np.asarray(a, dtype=np.float64) if type(a) is np.ndarray else a for a in arrays[:2]]
    if len(got) == 2 and all(type(a) is np.ndarray and a.shape == (d,) for a in got):
        if np.array_equal(got[0], np.ones(d)) and np.array_equal(got[1], np.zeros(d)):
            return None
        gamma, beta = (np.array2string(a, precision=3, separator=", ") for a in got)
        return f"initial parameters: gamma = {gamma}, beta = {beta}; expected gamma ones, then beta zeros"
    shapes = [tuple(a.shape) if type(a) is np.ndarray else type(a).__name__ for a in arrays]
    return (
        f"initial parameters: got {len(arrays)} of shapes {shapes}; expected gamma ({d},) ones, then beta ({d},) zeros"
    )


def shape_not_checked(module: Remote, x: np.ndarray) -> str | None:
    """The failure when forward accepts an input that is not ``(N, n_neurons)`` (it must raise): the
    wrong number of features, or one sample without the batch dimension."""
    # (N, 1) broadcasts against (n_neurons,) parameters and (n_neurons,) passes a check of the last
    # dimension only: only a check of the whole shape stops both.
    for wrong in (x[:, :1], x[0]):
        try:
            module.call("forward", wrong, as_tensor=True)
        except StudentException:
            continue
        return (
            f"forward(input) of shape {wrong.shape} with n_neurons = {x.shape[1]} returned a result; "
            "it must check the shape and raise unless the input is (N, n_neurons)"
        )
    return None


#: The default ``eps`` of the modules and of the Function (the handout's signatures).
DEFAULT_EPS = 1e-5


def default_eps_failure(run: Callable[[], object], p: dict[str, np.ndarray], what: str) -> str | None:
    """The failure when ``run()`` (the output without an ``eps`` argument, gamma ones and beta zeros
    unless ``p`` holds them) is not the output with the handout's default eps = 1e-5."""
    try:
        value = run()
    except StudentException as exc:
        return f"{what} without eps: {exc} (the default must be eps=1e-5, the handout's signature)"
    d = p["x"].shape[1]
    q = {"x": p["x"], "gamma": p.get("gamma", np.ones(d)), "beta": p.get("beta", np.zeros(d)), "dout": p["x"]}
    expected = reference_grads(q, DEFAULT_EPS)["out"]
    failure = compare(f"{what} without eps", value, expected, 1e-6)
    return failure and f"{failure}: the default must be eps=1e-5 (the handout's signature)"


@points(5)
@title("CustomBatchNormAutograd: gamma/beta init, shape check, per-feature mean, biased variance, eps inside the sqrt")
def test_autograd_module(student, check, settings):
    tol = settings.gradient_tolerance
    p = bn_problem(31)
    expected = reference_grads(p, EPS)
    module = student.new(BATCHNORM, "CustomBatchNormAutograd", 4, EPS, seed=0)
    initial = initial_parameters(module, 4)
    module.torch_load([p["gamma"].astype(np.float32), p["beta"].astype(np.float32)])
    reply = module.autograd(p["x"], grad_output=p["dout"], wrt=(0,))
    value = as_dict(reply, "reply", ["value"])["value"]
    failures = []
    failure = compare("forward(x)", value, expected["out"], tol)
    if failure:
        failures.append(failure)
        mistake_in(check, value, mutants.BN_FORWARD, p["x"], p["gamma"], p["beta"], EPS)
    else:
        wrong = [
            shape_not_checked(module, p["x"]),
            default_eps_failure(
                lambda: student.new(BATCHNORM, "CustomBatchNormAutograd", 4, seed=0).forward(p["x"]),
                {"x": p["x"]},
                "CustomBatchNormAutograd(4)",
            ),
        ]
        wrong = [f for f in wrong if f]
        failures += ["; ".join(wrong)] if wrong else []
    failure = compare("dx by autograd through your forward", grad_list(reply, "grads", 1)[0], expected["dx"], tol)
    failures += [failure] if failure else []
    params = grad_list(reply, "param_grads", 2)
    wrong = [
        f
        for f in (
            compare(f"{n} by autograd", params[i], expected[n], PARAM_GRAD_LIMIT)
            for i, n in enumerate(("dgamma", "dbeta"))
        )
        if f
    ]
    # One part for gamma and beta: their initial values and their gradients.
    wrong = ([initial] if initial else []) + wrong[:1]
    failures += ["; ".join(wrong)] if wrong else []
    finish(check, failures, 3)


@points(8)
@title("CustomBatchNormManualFunction: hand-written backward (gradcheck, reference)")
def test_manual_function(student, check, settings):
    tol = settings.gradient_tolerance
    p = bn_problem(32)
    expected = reference_grads(p, EPS)
    reply = student.autograd(
        BATCHNORM, FUNCTION, p["x"], p["gamma"], p["beta"], EPS, grad_output=p["dout"], wrt=(0, 1, 2)
    )
    grads = grad_list(reply, "grads", 3)
    failures = []
    failure = compare("grad_input", grads[0], expected["dx"], tol)
    if failure:
        failures.append(failure)
        mistake_in(check, grads[0], mutants.BN_BACKWARD, p["x"], p["gamma"], EPS, p["dout"])
        if check.diagnosis is None:
            mistake_in(
                check,
                as_dict(reply, "reply", ["value"])["value"],
                mutants.BN_FORWARD,
                p["x"],
                p["gamma"],
                p["beta"],
                EPS,
            )
    else:
        # apply(input, gamma, beta) without eps uses the default of the handout's forward signature.
        def without_eps() -> object:
            reply = student.autograd(BATCHNORM, FUNCTION, p["x"], p["gamma"], p["beta"])
            return as_dict(reply, "reply", ["value"])["value"]

        failure = default_eps_failure(without_eps, p, f"{FUNCTION}(input, gamma, beta)")
        failures += [failure] if failure else []
    wrong = [f for f in (compare(n, grads[i + 1], expected[n], tol) for i, n in enumerate(("dgamma", "dbeta"))) if f]
    failures += wrong[:1]
    small = bn_problem(33, n=4, d=3)
    inputs = tuple(torch.tensor(small[k], requires_grad=True) for k in ("x", "gamma", "beta"))
    try:
        torch.autograd.gradcheck(student_function(student, EPS).apply, inputs, eps=1e-6, atol=1e-8, rtol=1e-6)
    except GradcheckError as exc:
        failures.append("gradcheck: " + str(exc).strip().splitlines()[0])
    else:
        check.note("torch.autograd.gradcheck passed (float64)")
    finish(check, failures, 3)


@points(4)
@title("CustomBatchNormManualModule: gamma/beta init, shape check, forward and gradients through the Function")
def test_manual_module(student, check, settings):
    tol = settings.gradient_tolerance
    p = bn_problem(34)
    expected = reference_grads(p, EPS)
    module = student.new(BATCHNORM, "CustomBatchNormManualModule", 4, EPS, seed=0)
    initial = initial_parameters(module, 4)
    module.torch_load([p["gamma"].astype(np.float32), p["beta"].astype(np.float32)])
    reply = module.autograd(p["x"], grad_output=p["dout"], wrt=(0,))
    failure = compare("forward(x)", as_dict(reply, "reply", ["value"])["value"], expected["out"], tol)
    if not failure:
        wrong = [
            shape_not_checked(module, p["x"]),
            default_eps_failure(
                lambda: student.new(BATCHNORM, "CustomBatchNormManualModule", 4, seed=0).forward(p["x"]),
                {"x": p["x"]},
                "CustomBatchNormManualModule(4)",
            ),
        ]
        failure = "; ".join(f for f in wrong if f) or None
    failures = [failure] if failure else []
    grads = grad_list(reply, "grads", 1) + grad_list(reply, "param_grads", 2)
    wrong = [
        f
        for f in (compare(n, grads[i], expected[n], PARAM_GRAD_LIMIT) for i, n in enumerate(("dx", "dgamma", "dbeta")))
        if f
    ]
    # One part for the gradients and the parameters they belong to (gamma ones and beta zeros at first).
    wrong = ([initial] if initial else []) + wrong[:1]
    failures += ["; ".join(wrong)] if wrong else []
    finish(check, failures, 2)


@hidden
@points(4)
@title("Batch normalisation on hidden inputs")
def test_batchnorm_hidden(student, check, settings, hidden_seed):
    tol = settings.gradient_tolerance
    rng = np.random.default_rng(hidden_seed)
    p = bn_problem(int(rng.integers(1 << 30)), n=int(rng.integers(5, 33)), d=int(rng.integers(4, 17)))
    eps = float(rng.choice([1e-5, 1e-3, 0.1]))
    expected = reference_grads(p, eps)
    reply = student.autograd(
        BATCHNORM, FUNCTION, p["x"], p["gamma"], p["beta"], eps, grad_output=p["dout"], wrt=(0, 1, 2)
    )
    grads = grad_list(reply, "grads", 3)
    failures = [f for f in [compare("forward", as_dict(reply, "reply", ["value"])["value"], expected["out"], tol)] if f]
    failures += [
        f for f in (compare(n, grads[i], expected[n], tol) for i, n in enumerate(("dx", "dgamma", "dbeta"))) if f
    ]
    finish(check, failures, 4)
