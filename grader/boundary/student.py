"""What the rubric holds of a submission: a proxy that turns calls into worker requests.

Checks never touch student objects, only integer handles wrapped in :class:`Remote`. Every value that
comes back is plain data decoded by the protocol; checks validate it with :mod:`grader.engine.compare`
before any comparison.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grader.boundary.rpc import StudentException, WorkerFailure, WorkerSession
from grader.worker.protocol import Ref


class StaleHandle(WorkerFailure):
    """The object lived in a worker that has since been restarted."""

    def __init__(self) -> None:
        super().__init__("stale", "the object was lost when the worker restarted after an earlier failure")


class Student:
    """Calls into the sandboxed submission with a per-call time limit."""

    def __init__(
        self, session: WorkerSession, timeout: float, import_failures: dict[str, WorkerFailure] | None = None
    ) -> None:
        self.session = session
        self.timeout = timeout
        #: Modules whose import raised, hung or killed a worker, shared by every check of one grading:
        #: an import that loops forever (or fills memory, then raises) would otherwise cost its full
        #: time in every check.
        self.import_failures = {} if import_failures is None else import_failures

    def _import(self, module: str) -> None:
        """Import ``module`` in the worker first, so a failing, hanging or crashing import is seen once."""
        failure = self.import_failures.get(module)
        if isinstance(failure, StudentException):
            raise StudentException(failure.details)  # the same message in every check it fails
        if failure is not None:
            raise WorkerFailure(failure.kind, f"{failure} (earlier in this grading; not tried again)")
        try:
            self.session.request(
                {"op": "import", "module": module, "names": []}, self.timeout, what=f"importing {module}.py"
            )
        except StudentException as exc:
            self.import_failures[module] = exc
            raise
        except WorkerFailure as exc:
            if exc.kind == "timeout":
                exc = WorkerFailure(exc.kind, f"{exc}: does the file run something when imported (a loop, training)?")
            if exc.kind in ("timeout", "crash"):
                self.import_failures[module] = exc
            raise exc from None

    def has(self, module: str, *names: str) -> dict[str, bool]:
        """Import ``module`` from the submission and report which of ``names`` it defines."""
        self._import(module)
        value, _ = self.session.request(
            {"op": "import", "module": module, "names": list(names)}, self.timeout, what=f"import {module}"
        )
        return value

    def new(self, module: str, cls: str, *args: Any, seed: int | None = None, **kwargs: Any) -> Remote:
        """Construct ``module.cls(*args, **kwargs)`` after seeding ``random``, numpy and torch.

        ``cls`` may be a dotted attribute path inside the module (``"nn.MSELoss"``).
        """
        self._import(module)
        body = {
            "op": "new",
            "module": module,
            "path": cls.split("."),
            "args": list(args),
            "kwargs": kwargs,
            "seed": seed,
        }
        handle, _ = self.session.request(body, self.timeout, what=f"{cls}(...)")
        return _remote(self, handle, cls)

    def call(
        self,
        module: str,
        func: str,
        *args: Any,
        seed: int | None = None,
        return_args: bool = False,
        timeout: float | None = None,
        as_tensor: bool = False,
        **kwargs: Any,
    ) -> tuple[Any, dict[str, Any]]:
        """Call the module-level function; returns ``(value, extras)`` (extras: ``args`` after the call).

        With ``as_tensor`` every array argument reaches the function as a torch tensor of its dtype.
        """
        self._import(module)
        body = {"op": "call", "module": module, "path": [func], "args": list(args), "kwargs": kwargs}
        body.update(seed=seed, return_args=return_args, as_tensor=as_tensor)
        return self.session.request(body, timeout or self.timeout, what=f"{func}(...)")

    def read_weights(self, file: str) -> Any:
        """A weights file the submission ships, read in the worker without running student code.

        ``.npz``: a dict of arrays (read with ``allow_pickle=False``); ``.pt``: a state dict read with
        ``torch.load(weights_only=True)``, as ``{"names": [...], "arrays": [...]}``.
        """
        ops = {".npz": "read_npz", ".pt": "read_state_dict"}
        op = ops.get(Path(file).suffix)
        if op is None:
            raise ValueError(f"read_weights reads {' or '.join(ops)} files, not {file!r}")
        value, _ = self.session.request({"op": op, "file": file}, self.timeout, what=f"reading {file}")
        return value

    def call_object(
        self, module: str, func: str, *args: Any, seed: int | None = None, timeout: float | None = None, **kwargs: Any
    ) -> Remote:
        """Call the module-level function and keep its result in the worker (e.g. a trained model)."""
        self._import(module)
        body = {"op": "call", "module": module, "path": [func], "args": list(args), "kwargs": kwargs}
        body.update(seed=seed, keep=True)
        handle, _ = self.session.request(body, timeout or self.timeout, what=f"{func}(...)")
        return _remote(self, handle, f"{func}(...)")

    def autograd(
        self,
        module: str,
        func: str,
        *args: Any,
        grad_output: Any = None,
        wrt: tuple[int, ...] = (),
        seed: int | None = None,
    ) -> dict[str, Any]:
        """Call ``module.func`` (dotted: ``"Function.apply"``) on tensors made from ``args`` and
        back-propagate ``grad_output``; returns ``{"value", "grads" (of args[wrt]), "param_grads"}``."""
        self._import(module)
        body = {"op": "autograd", "module": module, "path": func.split("."), "args": list(args)}
        body.update(grad_output=grad_output, wrt=list(wrt), seed=seed)
        value, _ = self.session.request(body, self.timeout, what=f"{func}(...)")
        return value


def _remote(student: Student, handle: Any, label: str) -> Remote:
    if type(handle) is not int:
        raise WorkerFailure("protocol", "the worker returned an invalid object handle")
    return Remote(student, handle, student.session.generation, label)


class Remote:
    """A student object living in the worker."""

    def __init__(self, student: Student, handle: int, generation: int, label: str) -> None:
        self._student = student
        self._handle = handle
        self._generation = generation
        self.label = label

    def _request(self, body: dict[str, Any], what: str, timeout: float | None = None) -> tuple[Any, dict]:
        session = self._student.session
        if session.generation != self._generation:
            raise StaleHandle()
        return session.request(dict(body, handle=self._handle), timeout or self._student.timeout, what=what)

    def call(
        self,
        method: str,
        *args: Any,
        seed: int | None = None,
        count_lines: bool = False,
        as_tensor: bool = False,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> tuple[Any, dict[str, Any]]:
        """Call ``obj.method(*args, **kwargs)``; returns ``(value, extras)`` (extras may hold ``lines``)."""
        body = {"op": "call", "path": [method], "args": list(args), "kwargs": kwargs, "seed": seed}
        body.update(count_lines=count_lines, as_tensor=as_tensor)
        return self._request(body, f"{self.label}.{method}(...)", timeout)

    def call_object(
        self, method: str, *args: Any, seed: int | None = None, timeout: float | None = None, **kwargs: Any
    ) -> Remote:
        """Call ``obj.method(...)`` and keep the result in the worker; ``"__getitem__", 0`` picks an item."""
        body = {"op": "call", "path": [method], "args": list(args), "kwargs": kwargs, "seed": seed, "keep": True}
        handle, _ = self._request(body, f"{self.label}.{method}(...)", timeout)
        return _remote(self._student, handle, f"{self.label}.{method}(...)")

    def autograd(
        self, *args: Any, method: str = "forward", grad_output: Any = None, wrt: tuple[int, ...] = ()
    ) -> dict[str, Any]:
        """Like :meth:`Student.autograd` for a method of this object; a torch module's parameter
        gradients come back too (``param_grads``)."""
        body = {"op": "autograd", "path": [method], "args": list(args)}
        body.update(grad_output=grad_output, wrt=list(wrt))
        value, _ = self._request(body, f"{self.label}.{method}(...)")
        return value

    @property
    def ref(self) -> Ref:
        """Pass the object itself as an argument of another call (it never leaves the worker)."""
        if self._student.session.generation != self._generation:
            raise StaleHandle()
        return Ref("$h", self._handle)

    def forward(self, x: Any) -> Any:
        """Call a torch module on ``x`` (sent as a float32 tensor); returns the output as an array."""
        value, _ = self._request({"op": "call", "path": ["forward"], "args": [x], "as_tensor": True}, "forward")
        return value

    def get(self, *path: str | int) -> Any:
        """Read ``obj.a.b`` (attributes, or keys of dicts: ``model.get("dL_dw", 1)`` is ``model.dL_dw[1]``)."""
        value, _ = self._request({"op": "get", "path": list(path)}, f"{self.label}.{'.'.join(map(str, path))}")
        return value

    def set(self, *path: str | int, value: Any) -> None:
        self._request({"op": "set", "path": list(path), "value": value}, f"setting {'.'.join(map(str, path))}")

    def torch_layers(self) -> list[str]:
        value, _ = self._request({"op": "torch_layers"}, "listing layers")
        return value

    def torch_params(self) -> tuple[list[str], list[Any]]:
        value, _ = self._request({"op": "torch_params"}, "reading parameters")
        return value["names"], value["arrays"]

    def torch_load(self, arrays: list[Any]) -> None:
        self._request({"op": "torch_load", "arrays": arrays}, "loading parameters")
