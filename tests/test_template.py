"""The student handout: imports cleanly, every TODO raises, the GIVEN code matches the reference."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from reference.hlcv_ex2 import two_layernet as ref

TEMPLATE = Path(__file__).resolve().parents[1] / "student_template" / "hlcv-ex2"


@pytest.fixture
def template(monkeypatch, capsys):
    """two_layernet.py imported by path, without writing bytecode into the handout folder."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    spec = importlib.util.spec_from_file_location("template_two_layernet", TEMPLATE / "two_layernet.py")
    module = importlib.util.module_from_spec(spec)
    np.random.seed(123)
    state = np.random.get_state()
    spec.loader.exec_module(module)
    after = np.random.get_state()
    # Importing must not draw random numbers (no training, no data at import).
    assert state[0] == after[0] and np.array_equal(state[1], after[1]) and state[2:] == after[2:]
    assert capsys.readouterr().out == "", "importing must print nothing"
    return module


def todo_messages(path: Path) -> list[str]:
    """Messages of every ``raise NotImplementedError("...")`` in a file, in source order."""
    messages = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            func = node.exc.func
            if isinstance(func, ast.Name) and func.id == "NotImplementedError":
                messages.append(node.exc.args[0].value)
    return messages


def run_python(code: str) -> subprocess.CompletedProcess:
    """A fresh interpreter, so torch and numpy state start clean."""
    return subprocess.run(
        [sys.executable, "-B", "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=TEMPLATE.parent,
    )


# --- two_layernet.py ------------------------------------------------------------------------------


def test_two_layernet_has_the_expected_todos():
    messages = todo_messages(TEMPLATE / "two_layernet.py")
    assert all(m.startswith("TODO: ") for m in messages)
    for needle in ("sgd_momentum_step", "forward pass", "loss in", "backward pass", "predict"):
        assert any(needle in m for m in messages), needle


def test_two_layernet_init_is_given_and_matches_reference(template):
    np.random.seed(4)
    net = template.TwoLayerNet(6, 5, 3, std=0.3)
    np.random.seed(4)
    want = ref.init_params(6, 5, 3, std=0.3)
    assert list(net.params) == ["W1", "b1", "W2", "b2"]
    for k in want:
        assert np.array_equal(net.params[k], want[k])


def test_two_layernet_todos_raise(template):
    net = template.TwoLayerNet(4, 3, 2)
    X, y = np.ones((2, 4)), np.array([0, 1])
    with pytest.raises(NotImplementedError, match="TODO: forward pass"):
        net.loss(X)
    with pytest.raises(NotImplementedError, match="TODO: forward pass"):
        net.loss(X, y, reg=0.1)
    with pytest.raises(NotImplementedError, match="TODO: predict"):
        net.predict(X)
    with pytest.raises(NotImplementedError, match="TODO: sgd_momentum_step"):
        template.sgd_momentum_step(net.params, net.params, net.params, 0.1, 0.9)
    with pytest.raises(NotImplementedError, match="TODO"):
        net.train(X, y, X, y, num_iters=1)


def test_two_layernet_signatures_match_reference(template):
    pairs = [
        (template.TwoLayerNet.__init__, ref.TwoLayerNet.__init__),
        (template.TwoLayerNet.loss, ref.TwoLayerNet.loss),
        (template.TwoLayerNet.train, ref.TwoLayerNet.train),
        (template.TwoLayerNet.predict, ref.TwoLayerNet.predict),
        (template.sgd_momentum_step, ref.sgd_momentum_step),
    ]
    for got, want in pairs:
        got_params = [(p.name, p.default) for p in inspect.signature(got).parameters.values()]
        want_params = [(p.name, p.default) for p in inspect.signature(want).parameters.values()]
        assert got_params == want_params, got.__qualname__


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_given_training_loop_replays_the_reference_exactly(template, monkeypatch, momentum):
    """With the TODOs filled by the reference, the GIVEN loop gives the reference's histories."""
    monkeypatch.setattr(template, "sgd_momentum_step", ref.sgd_momentum_step)
    monkeypatch.setattr(template.TwoLayerNet, "loss", ref.TwoLayerNet.loss)
    monkeypatch.setattr(template.TwoLayerNet, "predict", ref.TwoLayerNet.predict)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 5)), rng.integers(0, 3, size=60)
    X_val, y_val = rng.normal(size=(15, 5)), rng.integers(0, 3, size=15)
    kwargs = dict(learning_rate=0.1, learning_rate_decay=0.9, reg=1e-3, num_iters=25, batch_size=20)

    np.random.seed(8)
    student = template.TwoLayerNet(5, 7, 3, std=0.1)
    got = student.train(X, y, X_val, y_val, momentum=momentum, **kwargs)
    np.random.seed(8)
    reference = ref.TwoLayerNet(5, 7, 3, std=0.1)
    want = reference.train(X, y, X_val, y_val, momentum=momentum, **kwargs)

    assert got["loss_history"] == want["loss_history"]
    assert np.array_equal(got["train_acc_history"], want["train_acc_history"])
    assert np.array_equal(got["val_acc_history"], want["val_acc_history"])
    for k in reference.params:
        assert np.array_equal(student.params[k], reference.params[k])


# --- ex2_pytorch.py -------------------------------------------------------------------------------


def test_ex2_pytorch_has_the_expected_todos():
    messages = todo_messages(TEMPLATE / "ex2_pytorch.py")
    assert all(m.startswith("TODO: ") for m in messages)
    for needle in ("MultiLayerPerceptron.__init__", "MultiLayerPerceptron.forward", "train_mlp"):
        assert any(needle in m for m in messages), needle


def test_ex2_pytorch_imports_cleanly_and_its_todos_raise():
    result = run_python(
        f"""
        import importlib.util, json, inspect, sys
        import numpy as np
        import torch
        from torch import nn

        torch.manual_seed(5)
        np.random.seed(5)
        torch_state, np_state = torch.get_rng_state(), np.random.get_state()[1].copy()
        opened = []
        sys.addaudithook(lambda event, args: opened.append(str(args[0])) if event == "open" else None)
        spec = importlib.util.spec_from_file_location("ex2_pytorch", {str(TEMPLATE / "ex2_pytorch.py")!r})
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        opened = list(opened)  # what the import itself opened; later opens are not its doing
        report = {{
            "torch_rng_untouched": bool(torch.equal(torch_state, torch.get_rng_state())),
            "numpy_rng_untouched": bool(np.array_equal(np_state, np.random.get_state()[1])),
            "opened": [p for p in opened if not p.endswith((".py", ".pyc")) and "__pycache__" not in p],
            "is_module": issubclass(module.MultiLayerPerceptron, nn.Module),
        }}
        raised = {{}}
        try:
            module.MultiLayerPerceptron(4, [8], 3)
        except NotImplementedError as exc:
            raised["init"] = str(exc)
        model = nn.Linear(4, 3)
        try:
            module.MultiLayerPerceptron.forward(model, torch.zeros(2, 4))
        except NotImplementedError as exc:
            raised["forward"] = str(exc)
        try:
            module.train_mlp(model, np.zeros((4, 4)), np.zeros(4), np.zeros((2, 4)), np.zeros(2), 1, 2, 1e-3)
        except NotImplementedError as exc:
            raised["train_mlp"] = str(exc)
        report["raised"] = raised
        report["signatures"] = {{
            name: [[p.name, repr(p.default)] for p in inspect.signature(fn).parameters.values()]
            for name, fn in (("init", module.MultiLayerPerceptron.__init__), ("train_mlp", module.train_mlp))
        }}
        print(json.dumps(report))
        """
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(result.stdout.strip().splitlines()) == 1, "importing must print nothing"
    assert report["torch_rng_untouched"] and report["numpy_rng_untouched"]
    assert report["opened"] == [], "importing must not read data"
    assert report["is_module"]
    assert report["raised"]["init"].startswith("TODO")
    assert report["raised"]["forward"].startswith("TODO")
    assert report["raised"]["train_mlp"].startswith("TODO")

    from reference.hlcv_ex2 import mlp as ref_mlp  # torch is imported here only, after the subprocess

    for name, fn in (("init", ref_mlp.MultiLayerPerceptron.__init__), ("train_mlp", ref_mlp.train_mlp)):
        want = [[p.name, repr(p.default)] for p in inspect.signature(fn).parameters.values()]
        assert report["signatures"][name] == want, name


# --- hyperparams.json and README.md ---------------------------------------------------------------


def test_hyperparams_have_the_provided_defaults():
    params = json.loads((TEMPLATE / "hyperparams.json").read_text())
    assert params == {
        "two_layer": {
            "hidden_size": 50,
            "learning_rate": 1e-4,
            "learning_rate_decay": 0.95,
            "reg": 0.25,
            "num_iters": 1000,
            "batch_size": 200,
            "momentum": 0.0,
        },
        "mlp": {
            "hidden_layers": [50],
            "epochs": 1,
            "batch_size": 200,
            "learning_rate": 1e-3,
            "weight_decay": 0.0,
            "optimizer": "adam",
        },
    }
    # Every hyperparameter is an argument of the function it configures.
    train_args = set(inspect.signature(ref.TwoLayerNet.train).parameters)
    assert set(params["two_layer"]) - {"hidden_size"} <= train_args


def test_readme_names_the_files_numbers_and_checking_section():
    text = (TEMPLATE / "README.md").read_text()
    for needle in (
        "two_layernet.py",
        "ex2_pytorch.py",
        "hyperparams.json",
        "1.30378789133",
        "0.36446210, 0.22911264, 0.40642526",
        "zip submission.zip two_layernet.py ex2_pytorch.py hyperparams.json",
        "best_net.npz",
        "mlp.pt",
        "## Checking your work",
        "Run `grade check` in your working folder",
    ):
        assert needle in text, needle
