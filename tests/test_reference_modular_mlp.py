"""The modular-mlp reference: every number the handout publishes, recomputed independently (plain
numpy draws, torch autograd, closed forms), and the reference's backward passes against autograd and
centred differences. The mistake catalogue must differ from the reference on the checks' inputs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_cifar10 import write_python_release

from grader.assignments.modular_mlp import PUBLISHED, check_reference, mutants
from reference.gradcheck import numerical_gradient, relative_error
from reference.modular_mlp import custom_batchnorm, data, mlp_pytorch, modules, toy
from reference.modular_mlp.mlp_numpy import MLP, train_step

HANDOUT = Path(__file__).resolve().parents[1] / "student_template" / "modular-mlp"


def test_check_reference_passes() -> None:
    check_reference()


def test_published_initial_weights_are_scaled_normal_draws() -> None:
    for key, scale in (("input_layer_weight_0", 1.0), ("hidden_layer_weight_0", 2.0)):
        np.random.seed(42)
        first_row = np.random.randn(128, 3072)[0, :3] * np.sqrt(scale / 3072)
        np.testing.assert_allclose(first_row, PUBLISHED[key], atol=1e-10)


def _torch_toy() -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
    """The toy network's weights drawn as the handout says, as float64 tensors that need gradients."""
    np.random.seed(0)
    w0 = np.random.normal(0, np.sqrt(1 / 4), (5, 4))
    w1 = np.random.normal(0, np.sqrt(2 / 5), (3, 5))
    params = [torch.tensor(a, requires_grad=True) for a in (w0, np.zeros((1, 5)), w1, np.zeros((1, 3)))]
    np.random.seed(1)
    return params, torch.tensor(np.random.randn(6, 4)), torch.tensor([0, 1, 2, 0, 1, 2])


def _torch_loss(params: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    hidden = F.elu(x @ params[0].T + params[1], alpha=1.0)
    return F.cross_entropy(hidden @ params[2].T + params[3], y)


def test_published_toy_losses_by_torch_autograd() -> None:
    params, x, y = _torch_toy()
    loss = _torch_loss(params, x, y)
    assert abs(loss.item() - PUBLISHED["toy_loss"]) < 1e-10
    loss.backward()
    with torch.no_grad():
        stepped = [p - 0.1 * p.grad for p in params]
    assert abs(_torch_loss(stepped, x, y).item() - PUBLISHED["toy_loss_after_step"]) < 1e-10


def test_the_reference_step_matches_torch_autograd() -> None:
    params, x, y = _torch_toy()
    _torch_loss(params, x, y).backward()
    net = toy.toy_mlp()
    train_step(net, x.numpy(), y.numpy(), 0.1)
    for layer, (w, b) in zip(net.linear_layers(), (params[:2], params[2:]), strict=True):
        np.testing.assert_allclose(layer.params["weight"], (w - 0.1 * w.grad).detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(layer.params["bias"], (b - 0.1 * b.grad).detach().numpy(), atol=1e-14)


def test_published_batch_norm_column_in_closed_form_and_by_torch() -> None:
    column = np.array([1.0, 2.0, 3.0, 4.0])
    closed = (column - 2.5) / np.sqrt(1.25 + 1e-5)
    np.testing.assert_allclose(closed, PUBLISHED["bn_toy_column_0"], atol=1e-8)
    by_torch = F.batch_norm(toy.bn_toy_tensor(), None, None, training=True, eps=1e-5)
    np.testing.assert_allclose(by_torch[:, 0].numpy(), PUBLISHED["bn_toy_column_0"], atol=1e-8)


@pytest.mark.parametrize("name", ["linear", "elu", "relu", "softmax", "cross_entropy"])
def test_module_backward_matches_centred_differences_and_autograd(name: str) -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(0, 1, (4, 5))
    x = np.sign(x) * (0.05 + np.abs(x))
    dout = rng.normal(0, 1, (4, 5))
    xt = torch.tensor(x, requires_grad=True)
    if name == "cross_entropy":
        probs = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
        y = np.array([0, 1, 2, 4])
        analytic = modules.CrossEntropyModule().backward(probs, y)
        numeric = numerical_gradient(lambda p: modules.CrossEntropyModule().forward(p, y), probs.copy())
        pt = torch.tensor(probs, requires_grad=True)
        F.nll_loss(torch.log(pt), torch.tensor(y)).backward()
        assert relative_error(analytic, pt.grad.numpy()) < 1e-12
        assert relative_error(analytic, numeric) < 1e-8
        return
    if name == "linear":
        module, torch_fn = modules.LinearModule(5, 5), None
        module.params = {"weight": rng.normal(0, 1, (5, 5)), "bias": rng.normal(0, 1, (1, 5))}
        torch_fn = lambda t: t @ torch.tensor(module.params["weight"]).T + torch.tensor(module.params["bias"])  # noqa: E731
    else:
        module, torch_fn = {
            "elu": (modules.ELUModule(0.7), lambda t: F.elu(t, alpha=0.7)),
            "relu": (modules.ReLUModule(), F.relu),
            "softmax": (modules.SoftMaxModule(), lambda t: torch.softmax(t, dim=1)),
        }[name]
    module.forward(x)
    analytic = module.backward(dout)
    (torch_fn(xt) * torch.tensor(dout)).sum().backward()
    numeric = numerical_gradient(lambda v: float(np.sum(module.forward(v) * dout)), x.copy())
    assert relative_error(analytic, xt.grad.numpy()) < 1e-12
    assert relative_error(analytic, numeric) < 1e-8


def test_batch_norm_backward_passes_gradcheck_and_matches_torch() -> None:
    rng = np.random.default_rng(6)
    x, gamma, beta = (
        torch.tensor(a, requires_grad=True)
        for a in (rng.normal(2, 3, (6, 4)), rng.normal(1, 0.3, 4), rng.normal(0, 0.3, 4))
    )
    assert torch.autograd.gradcheck(custom_batchnorm.CustomBatchNormManualFunction.apply, (x, gamma, beta, 0.05))
    dout = torch.tensor(rng.normal(0, 1, (6, 4)))
    custom_batchnorm.CustomBatchNormManualFunction.apply(x, gamma, beta, 0.05).backward(dout)
    ours = [t.grad.clone() for t in (x, gamma, beta)]
    for t in (x, gamma, beta):
        t.grad = None
    F.batch_norm(x, None, None, gamma, beta, training=True, eps=0.05).backward(dout)
    for mine, theirs in zip(ours, (x.grad, gamma.grad, beta.grad), strict=True):
        assert relative_error(mine.numpy(), theirs.numpy()) < 1e-10


def test_every_mutant_differs_from_the_reference() -> None:
    rng = np.random.default_rng(7)
    x, dout = rng.normal(0, 1, (6, 4)) * [3.0, 0.5, 0.05, 1.5] + [2, -1, 0.5, 10], rng.normal(0, 1, (6, 4))
    gamma, beta = rng.normal(1, 0.3, 4), rng.normal(0, 0.3, 4)
    xt = torch.tensor(x, requires_grad=True)
    out = custom_batchnorm.CustomBatchNormManualFunction.apply(xt, torch.tensor(gamma), torch.tensor(beta), 0.05)
    out.backward(torch.tensor(dout))
    for _, wrong in mutants.BN_FORWARD:
        assert relative_error(wrong(x, gamma, beta, 0.05), out.detach().numpy()) > 1e-3
    for _, wrong in mutants.BN_BACKWARD:
        assert relative_error(wrong(x, gamma, 0.05, dout), xt.grad.numpy()) > 1e-3
    softmax = modules.SoftMaxModule()
    softmax.forward(x)
    assert relative_error(mutants.SOFTMAX_BACKWARD[0][1](x, dout), softmax.backward(dout)) > 1e-3
    elu = modules.ELUModule(0.7)
    elu.forward(x)
    assert relative_error(mutants.ELU_BACKWARD[0][1](x, dout, 0.7), elu.backward(dout)) > 1e-3
    np.random.seed(0)
    net = MLP(4, [5, 4], 3)
    params = [dict(layer.params) for layer in net.linear_layers()]
    y = np.array([0, 1, 2, 0, 1, 2])
    wrong = mutants.TRAIN_STEP[0][1](params, x[:, :4][:6], y, 0.3)
    train_step(net, x[:, :4][:6], y, 0.3)
    assert relative_error(wrong[0]["weight"], net.linear_layers()[0].params["weight"]) > 1e-3


def test_a_state_dict_round_trip_rebuilds_the_same_model() -> None:
    torch.manual_seed(0)
    model = mlp_pytorch.MLP(12, [7, 5], 3, use_batch_norm=True)
    model(torch.randn(16, 12))  # moves the running statistics
    arrays = [t.detach().numpy() for t in model.state_dict().values()]
    rebuilt = mlp_pytorch.from_state(arrays, use_batch_norm=True)
    x = torch.randn(9, 12)
    torch.testing.assert_close(rebuilt(x), model.eval()(x))
    with pytest.raises(ValueError, match="entries"):
        mlp_pytorch.from_state(arrays, use_batch_norm=False)


def test_the_handouts_data_helper_writes_what_the_grader_prepares(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    batches = [
        (rng.integers(0, 256, (50, 3072)).astype(np.uint8), [int(v) for v in rng.integers(0, 10, 50)]) for _ in range(6)
    ]
    release = write_python_release(tmp_path, batches)
    split = data.standardised_split(tmp_path)
    assert split.X_train.shape == (225, 3072) and split.X_val.shape == (25, 3072) and split.X_test.shape == (50, 3072)
    assert abs(float(split.X_train.mean())) < 1e-5 and abs(float(split.X_train.std()) - 1) < 1e-4
    spec = importlib.util.spec_from_file_location("prepare_data", HANDOUT / "prepare_data.py")
    helper = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helper)
    helper.main(str(release), str(tmp_path / "folder"))
    for name in data.FILES:
        np.testing.assert_allclose(np.load(tmp_path / "folder" / f"{name}.npy"), getattr(split, name), atol=1e-5)
