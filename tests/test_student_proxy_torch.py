"""The ``Student`` / ``Remote`` proxy with torch objects, in a real bubblewrap worker.

Tensors as arguments of module-level functions (``as_tensor``), objects built from an attribute
path of a module (``"nn.Linear"``), results kept in the worker (``Remote.call_object``) and dict entries read
by integer key: what the torch-backprop checks use to drive a student's network, loss, loader and
optimizer.
"""

from __future__ import annotations

import shutil
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from held_slots import held_slot
from sandbox_backends import require_backend

from grader.boundary.rpc import WorkerSession
from grader.boundary.student import Student
from grader.sandbox.base import LaunchSpec, Limits

pytestmark = pytest.mark.sandbox

MiB = 1024 * 1024
SLOT = held_slot()
LIMITS = Limits(cpu_seconds=120, memory_bytes=2048 * MiB, max_processes=24)
TIMEOUT_S = 60.0

MODULE = textwrap.dedent(
    """
    import torch
    from torch import nn

    def describe(*tensors):
        return [[type(t).__name__, str(t.dtype).replace("torch.", ""), list(t.shape)] for t in tensors]

    def step(model, optimizer, x):
        optimizer.zero_grad()
        model(x).sum().backward()
        optimizer.step()

    class Keeper:
        def __init__(self):
            self.grads = {1: torch.tensor([1.0, 2.0], dtype=torch.float64), 2: torch.zeros(3)}
    """
)


@pytest.fixture(scope="module")
def student() -> Iterator[Student]:
    folder = Path(tempfile.mkdtemp(prefix="backprop-grader-proxy-"))
    folder.chmod(0o755)
    (folder / "probe.py").write_text(MODULE)
    backend = require_backend("bwrap")
    with WorkerSession(backend, LaunchSpec(folder, LIMITS, slot=SLOT)) as session:
        yield Student(session, TIMEOUT_S)
    shutil.rmtree(folder, ignore_errors=True)


def test_arrays_reach_a_function_as_tensors_of_their_dtype(student: Student) -> None:
    x64, x32 = np.zeros((2, 3)), np.ones(4, dtype=np.float32)
    value, _ = student.call("probe", "describe", x64, x32, as_tensor=True)
    assert value == [["Tensor", "float64", [2, 3]], ["Tensor", "float32", [4]]]


def test_dotted_classes_kept_results_and_integer_keys(student: Student) -> None:
    layer = student.new("probe", "nn.Linear", 3, 2, seed=0)
    optimizer = student.new("probe", "torch.optim.SGD", layer.call_object("parameters").ref, lr=0.5)
    before = layer.get("weight")
    assert before.shape == (2, 3)
    student.call("probe", "step", layer.ref, optimizer.ref, np.ones((1, 3), dtype=np.float32), as_tensor=True)
    # d sum(W x + b) / dW[i, j] = x[j] = 1, so one SGD step with lr 0.5 moves every weight by -0.5.
    assert np.allclose(layer.get("weight"), before - 0.5, atol=1e-6)
    keeper = student.new("probe", "Keeper")
    assert keeper.get("grads", 1).tolist() == [1.0, 2.0]
    assert keeper.get("grads", 2).shape == (3,)
