"""Worker operations for object-valued results and autograd, against a real bubblewrap worker.

``call_object`` keeps a result (a tuple holding a model, say) in the worker and int path steps
index into it; ``autograd`` runs a student function or torch module on tensors and returns the
gradients of the inputs (and of a module's parameters); ``Ref("$dir", "")`` is the data folder
as the worker sees it. Expected values are computed here with torch's own autograd.
"""

from __future__ import annotations

import shutil
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from held_slots import held_slot
from sandbox_backends import require_backend

from grader.boundary.rpc import StudentException, WorkerSession
from grader.boundary.student import Student
from grader.sandbox.base import LaunchSpec, Limits
from grader.worker.protocol import Ref

pytestmark = pytest.mark.sandbox

MiB = 1024 * 1024
LIMITS = Limits(cpu_seconds=120, memory_bytes=2048 * MiB, max_processes=24)

STUDENT_MODULE = textwrap.dedent(
    """
    import os

    import torch


    class Box:
        def __init__(self):
            self.layers = [{"w": 1.5}, {"w": 2.5}]


    def make(n):
        return Box(), [n, n + 1], "done"


    def files(folder):
        return sorted(os.listdir(folder))


    class Square(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            ctx.save_for_backward(x, k)
            return k * x * x

        @staticmethod
        def backward(ctx, g):
            x, k = ctx.saved_tensors
            return 2 * k * x * g, (g * x * x).sum(dim=0)


    class Scale(torch.nn.Module):
        def __init__(self, n):
            super().__init__()
            self.w = torch.nn.Parameter(torch.arange(1.0, n + 1, dtype=torch.float64))
            self.unused = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return self.w * x
    """
)


@pytest.fixture(scope="module")
def student() -> Iterator[Student]:
    backend = require_backend("bwrap")
    folder = Path(tempfile.mkdtemp(prefix="backprop-grader-test-"))
    data = Path(tempfile.mkdtemp(prefix="backprop-grader-data-"))
    for path in (folder, data):
        path.chmod(0o755)
    (folder / "objects.py").write_text(STUDENT_MODULE)
    (folder / "imports.py").write_text("count = 0\n\ndef seen():\n    return count\n")
    (folder / "broken.py").write_text("import imports\nimports.count += 1\nraise ValueError('broken at import')\n")
    np.save(data / "X_train.npy", np.zeros(3))
    with WorkerSession(backend, LaunchSpec(folder, LIMITS, data_dir=data, slot=held_slot())) as session:
        yield Student(session, 60.0)
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(data, ignore_errors=True)


def test_a_kept_result_is_reached_by_handle_and_index(student: Student) -> None:
    result = student.call_object("objects", "make", 4)
    assert result.get(1) == [4, 5] and result.get(2) == "done"
    box = result.call_object("__getitem__", 0)
    assert box.get("layers", 1, "w") == 2.5
    box.set("layers", 0, "w", value=7.0)
    assert result.get(0, "layers", 0, "w") == 7.0


def test_the_data_folder_is_passed_as_a_path(student: Student) -> None:
    value, _ = student.call("objects", "files", Ref("$dir", ""))
    assert value == ["X_train.npy"]


def test_autograd_returns_the_gradients_of_a_function(student: Student) -> None:
    rng = np.random.default_rng(3)
    x, k, g = rng.standard_normal((4, 3)), rng.standard_normal(3), rng.standard_normal((4, 3))
    reply = student.autograd("objects", "Square.apply", x, k, grad_output=g, wrt=(0, 1))
    xt, kt = torch.tensor(x, requires_grad=True), torch.tensor(k, requires_grad=True)
    (kt * xt * xt).backward(torch.tensor(g))
    np.testing.assert_allclose(reply["value"], k * x * x, rtol=1e-14)
    np.testing.assert_allclose(reply["grads"][0], xt.grad.numpy(), rtol=1e-14)
    np.testing.assert_allclose(reply["grads"][1], kt.grad.numpy(), rtol=1e-14)
    assert reply["value"].dtype == np.float64 and reply["param_grads"] == []
    forward_only = student.autograd("objects", "Square.apply", x, k)
    assert forward_only["grads"] == [] and forward_only["value"].shape == (4, 3)


def test_autograd_of_a_module_returns_its_parameter_gradients(student: Student) -> None:
    module = student.new("objects", "Scale", 3)
    x, g = np.arange(6.0).reshape(2, 3), np.ones((2, 3))
    reply = module.autograd(x, grad_output=g, wrt=(0,))
    np.testing.assert_array_equal(reply["grads"][0], np.tile([1.0, 2.0, 3.0], (2, 1)))
    np.testing.assert_array_equal(reply["param_grads"][0], x.sum(axis=0))
    assert reply["param_grads"][1] is None
    # Gradients do not pile up from one call to the next.
    again = module.autograd(x, grad_output=g, wrt=(0,))
    np.testing.assert_array_equal(again["param_grads"][0], x.sum(axis=0))


def test_autograd_of_a_non_tensor_result_is_the_students_error(student: Student) -> None:
    with pytest.raises(StudentException):
        student.autograd("objects", "make", 2, grad_output=np.ones(1))


def test_a_module_that_raises_when_imported_is_imported_once_per_grading(student: Student) -> None:
    # Every check that uses it fails with the same message, without running the import again (an
    # import that fills memory or computes for seconds before raising would cost that in each check).
    messages = []
    for _ in range(3):
        with pytest.raises(StudentException) as raised:
            student.call("broken", "anything")
        messages.append(str(raised.value))
    assert messages == ["ValueError: broken at import (broken.py, line 3, in <module>)"] * 3
    assert student.call("imports", "seen") == (1, {})
