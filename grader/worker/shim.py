"""The worker: the only grader code that runs inside the sandbox, next to the student's files.

Started as ``python -I -B shim.py SUBMISSION_DIR``. It answers one request at a time over the
framed protocol on its original stdin/stdout, which it moves to private descriptors first: from then
on fd 0 is ``/dev/null`` and fd 1 is a copy of fd 2, so anything the student prints (from Python or
from C) lands on stderr and can never corrupt the channel by accident.

It holds no expected values and decides nothing: it imports student modules, builds student
objects (kept here, referred to by integer handles), calls them with the inputs it is given, and
sends back plain data. Dependencies: the standard library, numpy, and torch when a request needs it.
"""

from __future__ import annotations

import os
import sys

# ``-I`` leaves the script's folder off sys.path; add it just long enough to import our protocol.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import protocol  # noqa: E402

del sys.path[0]

import importlib  # noqa: E402
import io  # noqa: E402
import random  # noqa: E402
import traceback  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

MAX_TRACEBACK_CHARS = 4000
#: Characters of student output passed on per request; the grader keeps at most 1 MiB per check
#: anyway, and dropping the rest here keeps a print-in-a-loop from eating the check's time limit.
OUTPUT_BUDGET_CHARS = 1 << 20


class _OutputBudget:
    """How much more a request may print, shared by ``sys.stdout`` and ``sys.stderr``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.remaining = limit
        self.dropped = 0

    def reset(self) -> None:
        self.remaining, self.dropped = self.limit, 0


class _CappedText(io.TextIOBase):
    """A text stream that forwards writes until the budget is spent, then only counts them."""

    def __init__(self, target: Any, budget: _OutputBudget) -> None:
        super().__init__()
        self._target = target
        self._budget = budget

    @property
    def encoding(self) -> str:
        return getattr(self._target, "encoding", "utf-8")

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._target.fileno()

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        budget = self._budget
        shown = text[: budget.remaining]
        if shown:
            self._target.write(shown)
            budget.remaining -= len(shown)
        budget.dropped += len(text) - len(shown)
        return len(text)

    def flush(self) -> None:
        self._target.flush()


_BUDGET = _OutputBudget(OUTPUT_BUDGET_CHARS)


def _private_channel() -> tuple[Any, Any]:
    """Move the RPC channel off fds 0/1 and point them at /dev/null and stderr."""
    rpc_in = os.fdopen(os.dup(0), "rb", buffering=0)
    rpc_out = os.fdopen(os.dup(1), "wb", buffering=1 << 16)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    sys.stdin = open(os.devnull)  # noqa: SIM115 - lives as long as the process
    stdout = os.fdopen(1, "w", buffering=1, encoding="utf-8", errors="replace")
    sys.stdout = _CappedText(stdout, _BUDGET)
    sys.stderr = _CappedText(sys.stderr, _BUDGET)
    return rpc_in, rpc_out


def call_counting_lines(func: Any, prefix: str, args: list, kwargs: dict) -> tuple[Any, int]:
    """Call ``func`` counting the Python lines executed in files whose path starts with ``prefix``.

    A vectorised implementation runs the same number of lines whatever the batch size; a loop
    over samples runs more lines for more samples. The count is the student's to fake, which can
    only win the check that reads it, and only together with a correct result.
    """
    count = 0

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        nonlocal count
        if not frame.f_code.co_filename.startswith(prefix):
            return None
        if event == "line":
            count += 1
        return tracer

    sys.settrace(tracer)
    try:
        value = func(*args, **kwargs)
    finally:
        sys.settrace(None)
    return value, count


class Worker:
    """Dispatches requests to handlers; every handler returns plain data or raises."""

    def __init__(self, submission_dir: str, data_dir: str | None = None) -> None:
        self.submission_dir = os.path.realpath(submission_dir)
        self.data_dir = data_dir
        self.objects: dict[int, Any] = {}
        self.next_handle = 1
        sys.path.insert(0, self.submission_dir)

    # -- helpers -----------------------------------------------------------------

    def _module(self, name: str) -> Any:
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"invalid module name {name!r}")
        module = importlib.import_module(name)
        origin = os.path.realpath(getattr(module, "__file__", "") or "")
        if os.path.dirname(origin) != self.submission_dir:
            raise ImportError(f"module {name!r} was not found in the submission")
        self._single_threaded()
        return module

    @staticmethod
    def _single_threaded() -> None:
        torch = sys.modules.get("torch")
        if torch is not None:
            torch.set_num_threads(1)

    @staticmethod
    def _seed(seed: Any) -> None:
        if seed is None:
            return
        random.seed(seed)
        np.random.seed(seed)
        torch = sys.modules.get("torch")
        if torch is not None:
            torch.manual_seed(seed)

    def _target(self, request: dict[str, Any]) -> Any:
        if "handle" in request:
            obj = self.objects[request["handle"]]
        else:
            obj = self._module(request["module"])
        for name in request.get("path", []):
            # An int step indexes a list or tuple (``model.layers[0]``, ``train(...)[0]``).
            obj = obj[name] if isinstance(obj, dict) or type(name) is int else getattr(obj, name)
        return obj

    @staticmethod
    def _to_plain(value: Any) -> Any:
        """Convert tensors to arrays (recursively) so they can be encoded."""
        torch = sys.modules.get("torch")
        if torch is not None and isinstance(value, torch.Tensor):
            return value.detach().cpu().numpy()
        if isinstance(value, (list, tuple)):
            return [Worker._to_plain(v) for v in value]
        if isinstance(value, dict):
            return {k: Worker._to_plain(v) for k, v in value.items()}
        return value

    @staticmethod
    def _tensors(value: Any) -> Any:
        import torch

        if isinstance(value, np.ndarray):
            return torch.from_numpy(value.copy())
        return value

    def _object(self, handle: int) -> Any:
        return self.objects[handle]

    def _data_file(self, name: str) -> np.ndarray:
        """A data array the grader placed in the read-only data folder (memory-mapped, never copied)."""
        if self.data_dir is None or not name.isidentifier():
            raise ValueError(f"no data file {name!r}")
        return np.load(os.path.join(self.data_dir, name + ".npy"), mmap_mode="r", allow_pickle=False)

    def _data_folder(self, _: Any) -> str:
        """The data folder's path as this worker sees it (for code that reads the files itself)."""
        if self.data_dir is None:
            raise ValueError("no data folder is mounted for this call")
        return self.data_dir

    # -- operations ----------------------------------------------------------------

    def op_ping(self, request: dict[str, Any]) -> Any:
        return {"python": sys.version.split()[0], "numpy": np.__version__}

    def op_import(self, request: dict[str, Any]) -> Any:
        module = self._module(request["module"])
        names = request.get("names", [])
        return {name: hasattr(module, name) for name in names}

    def _keep(self, obj: Any) -> int:
        handle = self.next_handle
        self.next_handle += 1
        self.objects[handle] = obj
        return handle

    def op_new(self, request: dict[str, Any]) -> Any:
        cls = self._target(request)
        self._seed(request.get("seed"))
        return self._keep(cls(*request.get("args", []), **request.get("kwargs", {})))

    def op_call(self, request: dict[str, Any]) -> Any:
        func = self._target(request)
        args = request.get("args", [])
        kwargs = request.get("kwargs", {})
        if request.get("as_tensor"):
            args = [self._tensors(a) for a in args]
            kwargs = {k: self._tensors(v) for k, v in kwargs.items()}
        self._seed(request.get("seed"))
        lines = None
        if request.get("count_lines"):
            value, lines = call_counting_lines(func, self.submission_dir + os.sep, args, kwargs)
        else:
            value = func(*args, **kwargs)
        if request.get("keep"):
            # The result stays here (a trained model, say); the grader gets a handle to it.
            value = self._keep(value)
        reply: dict[str, Any] = {"value": self._to_plain(value)}
        if request.get("return_args"):
            reply["args"] = self._to_plain(args)
        if lines is not None:
            reply["lines"] = lines
        return reply

    def op_autograd(self, request: dict[str, Any]) -> Any:
        """Call the target on tensors and back-propagate ``grad_output`` through its result.

        Arrays among ``args`` become tensors of their own dtype; those at the positions in ``wrt``
        require gradients. Returns the output, the gradients of those arguments and, when the
        target is a torch module or one of its methods, of the module's parameters (in
        ``parameters()`` order; None where unused). Without ``grad_output`` nothing is back-propagated.
        """
        import torch

        func = self._target(request)
        args = [self._tensors(a) for a in request.get("args", [])]
        wrt = request.get("wrt", [])
        for i in wrt:
            args[i].requires_grad_(True)
        owner = func if isinstance(func, torch.nn.Module) else getattr(func, "__self__", None)
        params = list(owner.parameters()) if isinstance(owner, torch.nn.Module) else []
        for param in params:
            param.grad = None
        self._seed(request.get("seed"))
        out = func(*args)
        grad_output = request.get("grad_output")
        if grad_output is not None:
            out.backward(self._tensors(grad_output))
        grads = [args[i].grad for i in wrt]
        return self._to_plain({"value": out, "grads": grads, "param_grads": [p.grad for p in params]})

    def op_get(self, request: dict[str, Any]) -> Any:
        return self._to_plain(self._target(request))

    def op_set(self, request: dict[str, Any]) -> Any:
        *parents, last = request["path"]
        obj = self._target(dict(request, path=parents))
        if isinstance(obj, dict) or type(last) is int:
            obj[last] = request["value"]
        else:
            setattr(obj, last, request["value"])
        return None

    def op_torch_params(self, request: dict[str, Any]) -> Any:
        module = self._target(request)
        named = list(module.named_parameters())
        return {"names": [n for n, _ in named], "arrays": [p.detach().cpu().numpy() for _, p in named]}

    def op_torch_layers(self, request: dict[str, Any]) -> Any:
        module = self._target(request)
        return [type(m).__name__ for m in module.modules() if not list(m.children())]

    def op_torch_load(self, request: dict[str, Any]) -> Any:
        import torch

        module = self._target(request)
        params = list(module.parameters())
        arrays = request["arrays"]
        if len(arrays) != len(params):
            raise ValueError(f"the model has {len(params)} parameter tensors, expected {len(arrays)}")
        with torch.no_grad():
            for param, array in zip(params, arrays, strict=True):
                if tuple(param.shape) != array.shape:
                    raise ValueError(f"parameter of shape {tuple(param.shape)} cannot take {array.shape}")
                param.copy_(torch.from_numpy(array).to(param.dtype))
        return None

    def op_read_npz(self, request: dict[str, Any]) -> Any:
        """Read a weight file the student shipped, safely and inside the sandbox."""
        path = os.path.join(self.submission_dir, request["file"])
        with np.load(path, allow_pickle=False) as data:
            return {name: np.asarray(data[name]) for name in data.files}

    def op_read_state_dict(self, request: dict[str, Any]) -> Any:
        import torch

        path = os.path.join(self.submission_dir, request["file"])
        state = torch.load(path, weights_only=True, map_location="cpu")
        if not isinstance(state, dict):
            raise TypeError("the file does not hold a state dict")
        return {"names": list(state), "arrays": [t.detach().cpu().numpy() for t in state.values()]}

    # -- loop ------------------------------------------------------------------------

    def handle(self, header: dict[str, Any], blobs: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
        request_id = header.get("id")
        try:
            request = protocol.decode_value(
                header.get("body"),
                blobs,
                resolvers={"$file": self._data_file, "$h": self._object, "$dir": self._data_folder},
            )
            handler = getattr(self, "op_" + str(request.get("op")), None)
            if handler is None:
                raise ValueError(f"unknown operation {request.get('op')!r}")
            result = handler(request)
            if request.get("op") != "call":
                result = {"value": result}
        except BaseException as exc:  # noqa: BLE001 - student code may raise anything, even SystemExit
            return {"id": request_id, "ok": False, "error": self._describe(exc)}, []
        finally:
            sys.settrace(None)
            _flush_student_output()
        out_blobs: list[bytes] = []
        try:
            body = protocol.encode_value(result, out_blobs)
        except (TypeError, RecursionError) as exc:
            return {"id": request_id, "ok": False, "error": {"type": "ReplyError", "message": str(exc)}}, []
        return {"id": request_id, "ok": True, "body": body}, out_blobs

    def _describe(self, exc: BaseException) -> dict[str, Any]:
        try:
            message = str(exc)
        except BaseException:  # noqa: BLE001 - a hostile __str__
            message = "<unprintable exception>"
        frames = traceback.extract_tb(exc.__traceback__)
        own = [f for f in frames if f.filename.startswith(self.submission_dir + os.sep)]
        where = [{"file": os.path.basename(f.filename), "line": f.lineno, "function": f.name} for f in own]
        if isinstance(exc, SyntaxError) and exc.filename:
            where.append({"file": os.path.basename(exc.filename), "line": exc.lineno or 0, "function": ""})
        text = "".join(traceback.format_list(own)) if own else ""
        return {
            "type": type(exc).__name__,
            "message": message[:MAX_TRACEBACK_CHARS],
            "where": where[-5:],
            "traceback": text[-MAX_TRACEBACK_CHARS:],
        }


def _flush_student_output() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001,S110 - a closed or replaced stream must not stop the worker
            pass


def _report_dropped_output() -> None:
    if _BUDGET.dropped:
        _flush_student_output()
        os.write(2, f"\n... ({_BUDGET.dropped} more characters of output not shown)\n".encode())


def _preload(names: str) -> None:
    """Import the libraries the grader asked for, before any student code exists.

    Only torch is taken (anything else is ignored). Not ``torch._dynamo``, which the first
    ``optimizer.step()`` imports (over a second): most checks never step an optimizer, and a
    submission that fails before it would pay for nothing.
    """
    if "torch" in names.split(","):
        import torch  # noqa: F401 - imported for its cost, see above

        Worker._single_threaded()


def main() -> None:
    rpc_in, rpc_out = _private_channel()
    _preload(os.environ.pop("BACKPROP_GRADER_PRELOAD", ""))  # grader.sandbox.runtime.PRELOAD_ENV
    worker = Worker(sys.argv[1] if len(sys.argv) > 1 else os.getcwd(), sys.argv[2] if len(sys.argv) > 2 else None)
    protocol.write_message(rpc_out, {"id": 0, "ok": True, "body": {"$d": {"ready": True}}}, [])
    while True:
        try:
            header, blobs = protocol.read_message_blocking(rpc_in)
        except (EOFError, protocol.ProtocolError):
            return
        _BUDGET.reset()
        reply, out_blobs = worker.handle(header, blobs)
        _report_dropped_output()
        try:
            protocol.write_message(rpc_out, reply, out_blobs)
        except protocol.ProtocolError as exc:
            # Nothing was written: answer with the reason instead, and keep the worker.
            error = {"type": "ReplyError", "message": f"the result cannot be sent back: {exc}"}
            protocol.write_message(rpc_out, {"id": reply.get("id"), "ok": False, "error": error}, [])


if __name__ == "__main__":
    main()
