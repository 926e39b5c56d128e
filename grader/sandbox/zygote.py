"""Workers forked from a warm zygote: the bwrap backend without an interpreter start and imports per worker.

The zygote (``grader/worker/zygote.py``) runs in a bubblewrap sandbox built like a worker's, minus the
submission, with the capabilities to create namespaces and change uid. It imports numpy once, and
torch once too in a process that grades many submissions (``keep_warm``). For each worker the grader
sends it the worker's limits, uid and seccomp program, and descriptors: the worker's three pipes, a
*life* pipe, a *status* pipe and a read-only detached mount of the submission (``open_tree``). The
zygote never learns a path, and every worker gets new mount, PID, network, IPC and UTS namespaces,
its own ``/tmp``, ``/dev/shm`` and ``/dev/pts``, and the sandbox uid of its grading.

The grader holds the write end of the life pipe: closing it (or dying) makes the worker's init kill
every process of the worker, and the init writes the worker's wait status to the status pipe.

Used by the bwrap backend when the grader is root and workers get no cgroup of their own; set
``BACKPROP_GRADER_ZYGOTE=0`` to start every worker from scratch instead.
"""

from __future__ import annotations

import array
import atexit
import contextlib
import ctypes
import json
import os
import select
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from grader.sandbox.base import SandboxUnavailable, WorkerProcess

#: Set to ``0`` to start every bwrap worker from a fresh interpreter.
ZYGOTE_ENV = "BACKPROP_GRADER_ZYGOTE"
#: How long the zygote may take to start (interpreter, numpy, torch) and to answer one request.
START_TIMEOUT_S = 90.0
FORK_TIMEOUT_S = 30.0
#: How long ``kill`` waits for the init to report that the worker is gone.
KILL_WAIT_S = 10.0
STDERR_TAIL_BYTES = 4096

_SYS_OPEN_TREE = 428
_SYS_MOUNT_SETATTR = 442
_OPEN_TREE_CLONE = 0x1
_O_CLOEXEC = 0o2000000
_AT_FDCWD = -100
_AT_EMPTY_PATH = 0x1000
_AT_RECURSIVE = 0x8000
_MOUNT_ATTR_RDONLY = 0x1
_MOUNT_ATTR_NOSUID = 0x2
_MOUNT_ATTR_NODEV = 0x4

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def enabled() -> bool:
    """Whether the zygote is wanted at all (``BACKPROP_GRADER_ZYGOTE`` is not ``0``)."""
    return os.environ.get(ZYGOTE_ENV, "1") != "0"


def read_only_mount(path: Path) -> int:
    """A detached, read-only, nosuid, nodev copy of the mount at ``path``, as a descriptor to hand on.

    The descriptor, not the path, crosses into the sandbox: the zygote attaches what it is given and
    cannot name any other folder of the host.
    """
    fd = _libc.syscall(_SYS_OPEN_TREE, _AT_FDCWD, os.fsencode(path), _OPEN_TREE_CLONE | _O_CLOEXEC | _AT_RECURSIVE)
    if fd < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"open_tree {path}: {os.strerror(errno)}")
    attr = _MountAttr(_MOUNT_ATTR_RDONLY | _MOUNT_ATTR_NOSUID | _MOUNT_ATTR_NODEV, 0, 0, 0)
    result = _libc.syscall(
        _SYS_MOUNT_SETATTR, fd, b"", _AT_EMPTY_PATH | _AT_RECURSIVE, ctypes.byref(attr), ctypes.sizeof(attr)
    )
    if result < 0:
        errno = ctypes.get_errno()
        os.close(fd)
        raise OSError(errno, f"mount_setattr {path}: {os.strerror(errno)}")
    return fd


class ZygoteWorker(WorkerProcess):
    """A worker forked by the zygote: its pipes, the life pipe that kills it and the status pipe."""

    stdin_is_own_pipe = True

    def __init__(self, stdin: int, stdout: int, stderr: int, life: int, status: int) -> None:
        self.stdin = os.fdopen(stdin, "wb")
        self.stdout = os.fdopen(stdout, "rb", buffering=0)
        self.stderr = os.fdopen(stderr, "rb", buffering=0)
        self._life: int | None = life
        self._status_fd: int | None = status
        os.set_blocking(status, False)
        self._returncode: int | None = None

    def poll(self) -> int | None:
        if self._returncode is None and self._status_fd is not None:
            try:
                data = os.read(self._status_fd, 4)
            except BlockingIOError:
                return None
            except OSError:
                data = b""
            # No status at all: the init itself was killed (the zygote's sandbox ended), so was the worker.
            status = int.from_bytes(data, "little", signed=True) if len(data) == 4 else signal.SIGKILL
            self._returncode = os.waitstatus_to_exitcode(status)
        return self._returncode

    def kill(self) -> None:
        if self._life is not None:
            life, self._life = self._life, None
            os.close(life)
        deadline = time.monotonic() + KILL_WAIT_S
        while self.poll() is None and time.monotonic() < deadline:
            select.select([self._status_fd], [], [], max(0.0, deadline - time.monotonic()))

    def close(self) -> None:
        super().close()
        # Closed once only: a descriptor number closed twice may by then be another worker's life pipe.
        status_fd, self._status_fd = self._status_fd, None
        if status_fd is not None:
            if self._returncode is None:
                self._returncode = -signal.SIGKILL
            os.close(status_fd)


_warm_wanted = False


def keep_warm() -> None:
    """This process will grade many submissions: its zygote imports torch once for all their workers.

    Called by batch jobs and the test suite. A single ``grade`` leaves it cold: importing torch (and
    ``torch._dynamo``) in the zygote takes about 4 s of CPU, more than its two workers would spend.
    """
    global _warm_wanted
    _warm_wanted = True


class Zygote:
    """One zygote process and the socket to it; requests are served one at a time."""

    def __init__(self, command: Callable[[int], list[str]]) -> None:
        #: Builds the zygote's command line for the descriptor number of its end of the socket.
        self._command = command
        self._warm = False
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr_tail = bytearray()

    def _start(self) -> socket.socket:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        started = threading.Event()
        failure: list[BaseException] = []

        def keep() -> None:
            # This thread lives as long as the zygote: bwrap's --die-with-parent follows the thread that
            # started it, and it drains the zygote's stderr (kept for error messages).
            try:
                process = subprocess.Popen(
                    self._command(theirs.fileno()),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    pass_fds=(theirs.fileno(),),
                    env={"PATH": "/usr/bin:/bin"},
                    cwd="/",
                    start_new_session=True,
                )
            except OSError as exc:
                failure.append(exc)
                started.set()
                return
            self._process = process
            started.set()
            assert process.stderr is not None
            for chunk in iter(lambda: process.stderr.read1(1 << 12), b""):  # type: ignore[union-attr]
                self._stderr_tail = (self._stderr_tail + chunk)[-STDERR_TAIL_BYTES:]
            process.wait()
            # A request waiting for the dead zygote's answer (a warm-up holding the lock) ends now, not
            # at its timeout. Once the socket is closed (a newer zygote's start) this does nothing.
            with contextlib.suppress(OSError):
                ours.shutdown(socket.SHUT_RDWR)

        threading.Thread(target=keep, name="zygote", daemon=True).start()
        started.wait()
        theirs.close()
        if failure:
            ours.close()
            raise SandboxUnavailable(f"the zygote could not start: {failure[0]}")
        self._socket = ours
        ours.settimeout(START_TIMEOUT_S)
        hello = self._reply(ours)
        if not hello.get("ready"):
            self._stop()
            raise SandboxUnavailable("the zygote did not start properly")
        self._warm = False
        return ours

    def _running(self) -> socket.socket:
        """The socket to a live zygote: the one running, else a new one (call with the lock held)."""
        if self._socket is not None and _open(self._socket):
            return self._socket
        self._stop()
        return self._start()

    def _warm_up(self, sock: socket.socket) -> None:
        """Have the zygote import torch, once, if this process asked for it (``keep_warm``).

        Runs after a fork, in the background: a fork asked for meanwhile waits for it (about 4 s of CPU),
        then every later worker has torch and ``torch._dynamo``.
        """
        if self._warm or not _warm_wanted:
            return
        reply = self._ask(sock, {"warm": True}, START_TIMEOUT_S)
        if not reply.get("ok"):
            raise SandboxUnavailable(f"the zygote could not import torch: {reply.get('error')}")
        self._warm = True

    def _ask(self, sock: socket.socket, request: dict, timeout: float, fds: list[int] | None = None) -> dict:
        """Send one request (with descriptors to hand over) and return the zygote's reply."""
        sock.settimeout(timeout)
        ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
        try:
            sock.sendmsg([json.dumps(request).encode()], ancillary)
        except OSError as exc:
            self._stop()
            raise SandboxUnavailable(f"the zygote is gone ({exc})") from None
        return self._reply(sock)

    @property
    def printed(self) -> str:
        """The last few KiB the zygote wrote to its stderr, with its builders and inits (never a worker,
        whose stderr is its own pipe); empty while all is well."""
        return self._stderr_tail.decode(errors="replace")

    def _reply(self, sock: socket.socket) -> dict:
        try:
            data = sock.recv(1 << 16)
        except OSError as exc:
            data = b""
            reason = f"it did not answer ({exc})"
        else:
            reason = "it ended"
        if not data:
            tail = self._stderr_tail.decode(errors="replace").strip().splitlines()
            self._stop()
            raise SandboxUnavailable(f"the zygote failed: {reason}" + (f": {tail[-1]}" if tail else ""))
        return json.loads(data)

    def _stop(self) -> None:
        sock, self._socket = self._socket, None
        if sock is not None:
            sock.close()
        process, self._process = self._process, None
        if process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)

    def start_soon(self) -> None:
        """Start the zygote in the background if it is not running; a fork asked for meanwhile waits
        for it, and a start that fails here is tried again, and reported, by that fork."""

        sock = self._socket
        if sock is not None and _open(sock):
            return  # the usual case in a batch: no thread, no wait for the lock

        def start() -> None:
            with self._lock, contextlib.suppress(SandboxUnavailable):
                self._running()

        threading.Thread(target=start, name="zygote-start", daemon=True).start()

    def fork(self, spec: dict, mounts: list[int]) -> ZygoteWorker:
        """Ask for one worker; ``mounts`` are the submission's (and data set's) read-only mounts."""
        stdin_r, stdin_w = os.pipe()
        stdout_r, stdout_w = os.pipe()
        stderr_r, stderr_w = os.pipe()
        life_r, life_w = os.pipe()
        status_r, status_w = os.pipe()
        given = [stdin_r, stdout_w, stderr_w, life_r, status_w, *mounts]
        kept = [stdin_w, stdout_r, stderr_r, life_w, status_r]
        try:
            with self._lock:
                reply = self._ask(self._running(), spec, FORK_TIMEOUT_S, given)
        except BaseException:
            for fd in kept:
                os.close(fd)
            raise
        finally:
            for fd in given:
                os.close(fd)
        if not reply.get("ok"):
            for fd in kept:
                os.close(fd)
            raise SandboxUnavailable(f"the zygote could not start a worker: {reply.get('error')}")
        if _warm_wanted and not self._warm:
            # While this worker runs its checks: a warm-up held up no worker's start.
            threading.Thread(target=self._warm_up_now, name="zygote-warm-up", daemon=True).start()
        return ZygoteWorker(stdin_w, stdout_r, stderr_r, life_w, status_r)

    def _warm_up_now(self) -> None:
        with self._lock:
            if self._socket is not None:
                with contextlib.suppress(SandboxUnavailable):
                    self._warm_up(self._socket)

    def close(self) -> None:
        """End the zygote (workers it started end with it)."""
        with self._lock:
            self._stop()


def _open(sock: socket.socket) -> bool:
    """Whether the zygote's end of ``sock`` is still open (it closes when the zygote and bwrap end).

    Between requests the zygote sends nothing, so a socket with something to read has reached its
    end (or holds a message out of turn: a zygote to replace either way).
    """
    poller = select.poll()  # not select(): a grader with over 1024 descriptors open is no reason to restart
    try:
        poller.register(sock, select.POLLIN)
        return not poller.poll(0)
    except (OSError, ValueError):
        return False


_shared: Zygote | None = None
_shared_lock = threading.Lock()


def shared_zygote(command: Callable[[int], list[str]]) -> Zygote:
    """The process's zygote, created on first use and ended at exit."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Zygote(command)
            atexit.register(_shared.close)
        return _shared
