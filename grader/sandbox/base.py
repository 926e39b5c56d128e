"""The interface every sandbox backend implements.

A backend starts one worker process (``python -I -B shim.py``) with the student's files visible at a
read-only path, and hands back a :class:`WorkerProcess`: three byte streams and a way to kill it.
The RPC client (``grader.boundary.rpc``) speaks the framed protocol over ``stdin``/``stdout``; ``stderr``
carries everything the student prints. Backends differ only in isolation and in how limits are
enforced, never in the protocol.
"""

from __future__ import annotations

import abc
import dataclasses
from pathlib import Path
from typing import BinaryIO

#: Where the worker shim (``grader/worker``) is found on the host.
WORKER_DIR = Path(__file__).resolve().parent.parent / "worker"


class SandboxUnavailable(RuntimeError):
    """The requested backend cannot run here; the message says why and how to fix it, in one line."""


@dataclasses.dataclass(frozen=True)
class Limits:
    """Resource limits for one worker. Defaults follow SECURITY-NOTES section 4.0."""

    cpu_seconds: int = 600
    memory_bytes: int = 2 * 1024**3
    max_processes: int = 64
    max_file_bytes: int = 64 * 1024**2
    max_open_files: int = 256
    tmpfs_bytes: int = 64 * 1024**2
    threads: int = 1


@dataclasses.dataclass(frozen=True)
class LaunchSpec:
    """What to start: the submission folder (read-only inside) and the limits."""

    submission_dir: Path
    limits: Limits = Limits()
    #: Optional folder of large read-only ``.npy`` inputs (e.g. CIFAR-10 training images). Backends
    #: make it visible read-only and pass its inside path as the shim's second argument.
    data_dir: Path | None = None
    #: Index of the parallel slot; backends that drop to a dedicated uid use ``uid_base + slot``.
    slot: int = 0
    #: Libraries the worker imports before it says it is ready (see ``PRELOADABLE``), so the checks
    #: that use them do not wait for the import; no student code runs before then either way.
    preload: tuple[str, ...] = ()


#: What a worker may import ahead: libraries the worker may import anyway, and that take seconds.
PRELOADABLE = frozenset({"torch"})


class WorkerProcess(abc.ABC):
    """A running worker. ``stdin`` takes request frames, ``stdout`` yields reply frames.

    ``stdout`` and ``stderr`` must be real file objects with ``fileno()`` so the client can
    ``select`` on them with a deadline.
    """

    stdin: BinaryIO
    stdout: BinaryIO
    stderr: BinaryIO
    #: True when ``stdin`` is the write end of a pipe that only this process writes to: the client may
    #: then make it non-blocking and write requests itself, with a deadline, without a helper thread.
    stdin_is_own_pipe: bool = False

    @abc.abstractmethod
    def kill(self) -> None:
        """Kill the worker and everything it started. Safe to call twice."""

    @abc.abstractmethod
    def poll(self) -> int | None:
        """Exit status if the worker has ended, else None."""

    def close(self) -> None:
        """Kill the worker and release every resource (pipes, containers, temporary folders)."""
        self.kill()
        for stream in (self.stdin, self.stdout, self.stderr):
            try:
                stream.close()
            except OSError:
                pass


class Sandbox(abc.ABC):
    """A backend: ``available()`` says whether it can run here, ``start()`` launches a worker."""

    #: Short name used on the command line and in results: ``docker``, ``bwrap`` or ``process``.
    name: str = ""
    #: True when the backend isolates the worker from the host (file system, network, signals).
    isolated: bool = True
    #: With ``--sandbox auto``: why each stronger backend was not taken ("docker: ..."), else empty.
    passed_over: list[str] = []  # noqa: RUF012 - replaced per instance, never mutated

    @property
    def limits_note(self) -> str | None:
        """A one-line note when this backend enforces weaker limits here than it can elsewhere."""
        return None

    @classmethod
    @abc.abstractmethod
    def check_available(cls) -> None:
        """Raise :class:`SandboxUnavailable` with a one-line reason when this backend cannot run."""

    @abc.abstractmethod
    def start(self, spec: LaunchSpec) -> WorkerProcess:
        """Start one worker for ``spec``; raise :class:`SandboxUnavailable` if it cannot start."""

    def prepare(self) -> None:  # noqa: B027 - optional hook, deliberately a no-op by default
        """Begin, in the background, what the first worker's start will need (a grading calls this
        once it knows a worker will be started); never raises: :meth:`start` reports failures."""

    def close(self) -> None:  # noqa: B027 - optional hook, deliberately a no-op by default
        """Release anything the backend holds between workers (clients, caches)."""
