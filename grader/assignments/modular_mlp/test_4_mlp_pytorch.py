"""The PyTorch MLP, checked by behaviour: parameter shapes in layer order, and outputs with the
reference's weights (batch norm off, on in training mode, and on in evaluation mode)."""

from __future__ import annotations

import numpy as np
import torch

from grader.pack import CheckFailed, as_array, close_relative, needs, points, preload, title
from reference.modular_mlp.mlp_pytorch import MLP

from .fixtures import FILES, MLP_TORCH, finish

pytestmark = [needs(FILES[MLP_TORCH]), preload("torch")]

N_INPUTS, HIDDEN, N_CLASSES = 10, [8, 6], 4
#: float32 outputs: relative error allowed against the reference's float32 forward.
FLOAT32_LIMIT = 1e-4


def expected_shapes(use_batch_norm: bool) -> list[tuple[int, ...]]:
    return [tuple(p.shape) for p in MLP(N_INPUTS, HIDDEN, N_CLASSES, use_batch_norm).parameters()]


def shape_failure(names: list, arrays: list, use_batch_norm: bool) -> str | None:
    shapes = [tuple(a.shape) if isinstance(a, np.ndarray) else None for a in arrays]
    wanted = expected_shapes(use_batch_norm)
    if shapes == wanted:
        return None
    label = "with" if use_batch_norm else "without"
    return f"{label} batch norm: parameter shapes {shapes}, expected {wanted} (Linear, [BatchNorm1d], ELU per layer)"


@points(5)
@title("PyTorch MLP: parameters in layer order, with and without batch norm")
def test_torch_mlp_structure(student, check):
    failures = []
    for use_batch_norm in (False, True):
        model = student.new(MLP_TORCH, "MLP", N_INPUTS, HIDDEN, N_CLASSES, use_batch_norm=use_batch_norm, seed=0)
        names, arrays = model.torch_params()
        failure = shape_failure(names, arrays, use_batch_norm)
        failures += [failure] if failure else []
    finish(check, failures, 2)


def _reference_with(arrays: list[np.ndarray], use_batch_norm: bool) -> MLP:
    model = MLP(N_INPUTS, HIDDEN, N_CLASSES, use_batch_norm)
    with torch.no_grad():
        for param, array in zip(model.parameters(), arrays, strict=True):
            param.copy_(torch.from_numpy(array))
    return model


def _compare_logits(name: str, value: object, expected: torch.Tensor) -> str | None:
    try:
        logits = as_array(value, name, tuple(expected.shape))
    except CheckFailed as exc:
        return exc.message
    ok, error, where = close_relative(logits, expected.detach().numpy().astype(np.float64), FLOAT32_LIMIT)
    return None if ok else f"{name}: max relative error {error:.1e} at {where} (limit {FLOAT32_LIMIT:.0e})"


@points(5)
@title("PyTorch MLP: outputs (logits) with given weights; batch norm in training and evaluation mode")
def test_torch_mlp_forward(student, check):
    rng = np.random.default_rng(41)
    x = rng.normal(0, 1, (7, N_INPUTS)).astype(np.float32)
    x_eval = rng.normal(0.5, 2, (5, N_INPUTS)).astype(np.float32)
    failures = []
    for use_batch_norm in (False, True):
        arrays = [rng.normal(0.1, 0.5, s).astype(np.float32) for s in expected_shapes(use_batch_norm)]
        model = student.new(MLP_TORCH, "MLP", N_INPUTS, HIDDEN, N_CLASSES, use_batch_norm=use_batch_norm, seed=0)
        names, params = model.torch_params()
        if shape_failure(names, params, use_batch_norm):
            failures.append(
                f"{'with' if use_batch_norm else 'without'} batch norm: the layers do not match (see above)"
            )
            continue
        model.torch_load(arrays)
        reference = _reference_with(arrays, use_batch_norm).train()
        label = "with batch norm, training mode" if use_batch_norm else "without batch norm"
        failure = _compare_logits(f"forward(x) {label}", model.forward(x), reference(torch.from_numpy(x)))
        failures += [failure] if failure else []
        if use_batch_norm:
            # One training-mode batch moved the running statistics; evaluation mode must use them.
            evaluating = model.call_object("eval")
            expected = reference.eval()(torch.from_numpy(x_eval))
            failure = _compare_logits(
                "forward(x) with batch norm, evaluation mode", evaluating.forward(x_eval), expected
            )
            failures += [failure] if failure else []
    finish(check, failures, 3)
