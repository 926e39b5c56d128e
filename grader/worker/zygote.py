"""The zygote: imports numpy (and, when warm, torch) once, then forks one fresh worker per request.

Started by the grader inside a bubblewrap sandbox (``grader.sandbox.zygote``) as
``python -I -B zygote.py CONTROL_FD``, as root of that sandbox with the capabilities it needs to build
namespaces (``CAP_SYS_ADMIN``, ``CAP_SETUID``, ``CAP_SETGID``, ``CAP_KILL``). It never runs student
code and never learns which submission a worker is for: a request carries limits, a uid, the seccomp
program and file descriptors (the worker's pipes and the submission's read-only mount, made by the
grader with ``open_tree``), never a path or a name.

It says it is ready once numpy is imported. A grader that will grade many submissions (a batch
worker, a test process) asks it to *warm* up: it then imports torch and ``torch._dynamo`` once, and
every later worker has them. A single ``grade`` does not: most of what it needs runs in its first
two workers, and a worker imports torch itself when its checks ask for it (``@preload``).

Per worker request, three processes, each forked from the one before:

- the *builder* leaves the zygote's namespaces for new mount, PID, network, IPC, UTS and cgroup
  namespaces, mounts a fresh ``/tmp``, ``/dev/shm`` and ``/dev/pts``, attaches the submission (and the
  data set) read-only, then forks the init and exits;
- the *init* (PID 1 of the new PID namespace) mounts that namespace's ``/proc``, forks the worker,
  reports the worker's wait status on the status pipe and, as soon as the grader closes the life pipe
  (or dies), kills everything in the namespace;
- the *worker* sets the limits, drops to the sandbox uid for good, sets ``no_new_privs`` and the seccomp
  filter, closes every descriptor but its three pipes and runs the shim, as ``shim.py`` would.

So no process, writable file system, IPC object or network stack is shared between two workers, and
each starts from the zygote's memory as it was before any request. Standard library, numpy and torch
only.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import resource
import select
import signal
import socket
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import launch  # noqa: E402 - rlimits and the uid switch, as for a fresh worker
import shim  # noqa: E402 - numpy and the protocol come with it

del sys.path[0]

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
NAMESPACES = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET

MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REC = 0x4000
MS_PRIVATE = 1 << 18

SYS_OPEN_TREE = 428  # these two have the same number on every architecture (Linux 5.2+)
SYS_MOVE_MOUNT = 429
OPEN_TREE_CLONE = 0x1
AT_RECURSIVE = 0x8000
MOVE_MOUNT_F_EMPTY_PATH = 0x4
AT_FDCWD = -100

PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1

#: Descriptors that come with a request, in this order (the data set's mount is optional, last).
FDS = ("stdin", "stdout", "stderr", "life", "status", "submission", "data")
MAX_REQUEST_BYTES = 1 << 16

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _check(result: int, what: str) -> None:
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _bytes(text: str | None) -> bytes | None:
    return None if text is None else text.encode()


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    result = _libc.mount(_bytes(source), _bytes(target), _bytes(fstype), ctypes.c_ulong(flags), _bytes(data))
    _check(result, f"mount {target}")


def _move_mount(fd: int, target: str) -> None:
    result = _libc.syscall(SYS_MOVE_MOUNT, fd, b"", AT_FDCWD, target.encode(), MOVE_MOUNT_F_EMPTY_PATH)
    _check(result, f"move_mount {target}")


def _loopback_up() -> None:
    """Bring ``lo`` up in the new network namespace, as bubblewrap does (it stays the only interface)."""
    import fcntl
    import struct

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def _mounts_under(folder: str) -> list[str]:
    """The outermost mount points below ``folder`` (a runtime that lives in ``/tmp``, as in a CI checkout)."""
    points = []
    with open("/proc/self/mountinfo", "rb") as table:
        for line in table:
            # Field 5 is the mount point, with space, tab, newline and backslash as octal escapes.
            point = line.split()[4].decode("unicode_escape").encode("latin-1").decode()
            if point.startswith(folder + "/"):
                points.append(point)
    points.sort()
    return [p for i, p in enumerate(points) if not any(p.startswith(q + "/") for q in points[:i])]


def _open_tree(path: str) -> int:
    fd = _libc.syscall(SYS_OPEN_TREE, AT_FDCWD, path.encode(), OPEN_TREE_CLONE | AT_RECURSIVE)
    _check(fd, f"open_tree {path}")
    return fd


def _build(spec: dict, fds: dict[str, int]) -> None:
    """In the builder: new namespaces and the worker's own writable file systems and mounts."""
    _check(_libc.unshare(NAMESPACES), "unshare")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    # The fresh /tmp would hide what the sandbox binds below /tmp (the runtime of a CI checkout, as
    # bubblewrap binds it on top of its own /tmp): take those mounts along onto the new one.
    kept = [(point, _open_tree(point)) for point in _mounts_under("/tmp")]
    _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={spec['tmpfs_bytes']},mode=1777")
    for point, fd in kept:
        os.makedirs(point, mode=0o755, exist_ok=True)
        _move_mount(fd, point)
        os.close(fd)
    _mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, f"size={spec['shm_bytes']},mode=1777")
    _mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620")
    _move_mount(fds["submission"], spec["submission_at"])
    if "data" in fds:
        _move_mount(fds["data"], spec["data_at"])
    socket.sethostname("sandbox")
    _loopback_up()


def _drop(spec: dict) -> None:
    """In the worker: limits, the sandbox uid for good, no new privileges (as the launcher does for a
    fresh worker), then the system-call filter. The parent-death signal points at the init."""
    launch.limit_and_drop(spec)
    program = bytes.fromhex(spec["seccomp"])
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.addressof(buffer))
    launch.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog))


def _only_stdio(fds: dict[str, int]) -> None:
    """Put the worker's pipes on 0, 1 and 2 and close every other descriptor."""
    for target, name in enumerate(("stdin", "stdout", "stderr")):
        os.dup2(fds[name], target)
    os.closerange(3, resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def _run_worker(spec: dict, fds: dict[str, int]) -> None:
    """In the worker: become the shim of a fresh interpreter, then never return."""
    try:
        _only_stdio(fds)
        os.chdir("/tmp")
        _drop(spec)
        # What a fresh worker would import before it says it is ready (nothing new if the zygote is warm).
        shim._preload(",".join(spec.get("preload", [])))
        # A fresh interpreter seeds numpy's global generator from the OS; so does every forked worker.
        shim.np.random.seed()
        sys.argv = [shim.__file__, spec["submission_at"], *([spec["data_at"]] if spec.get("data_at") else [])]
    except BaseException as exc:  # noqa: BLE001 - no student code has run: the grader reports it as its own
        os.write(2, f"the worker could not be set up: {type(exc).__name__}: {exc}\n".encode())
        os._exit(3)
    code = 1
    try:
        shim.main()
        code = 0
    except BaseException:  # noqa: BLE001 - as a fresh interpreter would: the traceback, then status 1
        traceback.print_exc()
    finally:
        shim._flush_student_output()
        os._exit(code)


def _init(spec: dict, fds: dict[str, int]) -> None:
    """PID 1 of the worker's namespace: start the worker, report how it ended, never outlive the grader."""
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    worker = os.fork()
    if worker == 0:
        _run_worker(spec, fds)
    for name in ("stdin", "stdout", "stderr", "submission", "data"):
        if name in fds:
            os.close(fds[name])
    life, status_pipe = fds["life"], fds["status"]
    watch = os.pidfd_open(worker)
    status = None
    while status is None:
        ready, _, _ = select.select([life, watch], [], [])
        if life in ready and not os.read(life, 64):
            os.kill(worker, signal.SIGKILL)
        # PID 1 reaps every orphan of the namespace; the worker's own status is the one reported.
        while True:
            try:
                pid, code = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if pid == worker:
                status = code
    os.write(status_pipe, status.to_bytes(4, "little", signed=True))
    # Whatever the worker started dies with this process (PID 1): nothing outlives the worker. Usually
    # nothing is left, and kill(-1) then fails with ESRCH.
    with contextlib.suppress(ProcessLookupError):
        os.kill(-1, signal.SIGKILL)
    os._exit(0)


def _serve_one(spec: dict, fds: dict[str, int]) -> int:
    """Fork the builder; it forks the init and exits. Returns the builder's exit status."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    builder = os.fork()
    if builder == 0:
        # The builder and the init end here, whatever happens. Returning would run the zygote's loop,
        # with its control socket, in a second process; and an interpreter's normal exit, with torch
        # imported, cost over 0.1 s of CPU per worker (that happened while kill(-1) raised ESRCH).
        code = 1
        try:
            _build(spec, fds)
            if os.fork() == 0:
                code = 2
                _init(spec, fds)
            code = 0
        except BaseException as exc:  # noqa: BLE001 - reported to the grader as the start's failure
            with contextlib.suppress(OSError):
                os.write(fds["stderr"], f"the worker could not be set up: {exc}\n".encode())
        finally:
            os._exit(code)
    _, status = os.waitpid(builder, 0)
    return os.waitstatus_to_exitcode(status)


def _receive(control: socket.socket) -> tuple[dict, dict[str, int]] | None:
    message, ancillary, _, _ = control.recvmsg(MAX_REQUEST_BYTES, socket.CMSG_SPACE(len(FDS) * 4))
    if not message:
        return None
    received: list[int] = []
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            received += [int.from_bytes(data[i : i + 4], sys.byteorder) for i in range(0, len(data) - len(data) % 4, 4)]
    return json.loads(message), dict(zip(FDS, received, strict=False))


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def _freeze_heap() -> None:
    """Keep the garbage collector of every forked worker off the objects the zygote imported.

    A forked worker shares the zygote's memory until it writes to it, and a collection writes to
    every object it visits: with torch imported, each worker's first collections copied most of the
    heap, and ending the worker freed it again. Frozen objects are never visited. Measured on 2 cores,
    a warm hlcv-ex2 grading took 1.05 s before and 0.51 s after.
    """
    gc.collect()
    gc.freeze()


def _warm() -> None:
    """Import torch, and what the first optimizer step imports (over a second), once for every worker."""
    import torch
    import torch.nn
    import torch.optim  # noqa: F401

    shim.Worker._single_threaded()
    import torch._dynamo  # noqa: F401

    _freeze_heap()


def main(argv: list[str]) -> None:
    control = socket.socket(fileno=int(argv[1]))
    _freeze_heap()
    control.sendall(json.dumps({"ready": True}).encode())
    while True:
        request = _receive(control)
        if request is None:
            return
        spec, fds = request
        try:
            if spec.get("warm"):
                _warm()
                reply = {"ok": True}
            elif _threads() != 1:
                raise RuntimeError(f"the zygote runs {_threads()} threads and cannot fork safely")
            else:
                code = _serve_one(spec, fds)
                reply = {"ok": code == 0, "error": "" if code == 0 else f"setting up the worker failed (status {code})"}
        except Exception as exc:  # noqa: BLE001 - one failed request must not end the zygote
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        finally:
            for fd in fds.values():
                os.close(fd)
        control.sendall(json.dumps(reply).encode())


if __name__ == "__main__":
    main(sys.argv)
