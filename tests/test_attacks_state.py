"""Attacks on state that outlives a submission: kernel keyrings, namespaces, message queues, inotify,
shared memory, abstract sockets, leftover processes and files of the sandbox uid.

Probe functions run as a real submission module in real bwrap and Docker workers and report what the
kernel let them do. The uid tests create the state a worker could have left (as the sandbox uid, with
no filter in the way) and check that leasing and releasing the uid removes it.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from held_slots import held_slot
from sandbox_backends import require_backend

from grader.batch.slots import lease_slot
from grader.boundary.rpc import WorkerSession
from grader.sandbox import Sandbox
from grader.sandbox.base import LaunchSpec, Limits
from grader.sandbox.seccomp import BLOCKED, build_program
from grader.sandbox.uids import lease_uid_slot, purge_uid, uid_for_slot, uid_processes

pytestmark = pytest.mark.sandbox

SLOT, SPARE_SLOT = held_slot(), held_slot()
TOKEN = secrets.token_hex(6)
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="sandbox uids exist only for a root grader")

PROBES = r'''
"""What a submission can reach of the kernel's per-uid state; every probe reports an errno name."""
import ctypes, errno, os, socket, subprocess

libc = ctypes.CDLL(None, use_errno=True)
NR = {"keyctl": 250, "add_key": 248, "request_key": 249, "unshare": 272, "clone3": 435, "mq_open": 240,
      "inotify_init1": 294, "io_uring_setup": 425, "ptrace": 101, "bpf": 321, "perf_event_open": 298,
      "userfaultfd": 323, "mount": 165, "personality": 135}
_keep = []

def _errno(result):
    return "ok" if result >= 0 else errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))

def syscalls():
    buf = ctypes.create_string_buffer(256)
    return {
        "add_key": _errno(libc.syscall(NR["add_key"], b"user", b"stash", b"source code", 11, -4)),
        "keyctl": _errno(libc.syscall(NR["keyctl"], 0, -4, 0)),  # KEYCTL_GET_KEYRING_ID of @u
        "request_key": _errno(libc.syscall(NR["request_key"], b"user", b"stash", None, 0)),
        "unshare_user": _errno(libc.syscall(NR["unshare"], 0x10000000)),
        "unshare_net": _errno(libc.syscall(NR["unshare"], 0x40000000)),
        "clone3": _errno(libc.syscall(NR["clone3"], buf, 88)),
        "mq_open": _errno(libc.syscall(NR["mq_open"], b"stash", 0o102, 0o600, None)),
        "inotify_init1": _errno(libc.syscall(NR["inotify_init1"], 0)),
        "io_uring_setup": _errno(libc.syscall(NR["io_uring_setup"], 1, buf)),
        "ptrace": _errno(libc.syscall(NR["ptrace"], 0, 0, 0, 0)),
        "bpf": _errno(libc.syscall(NR["bpf"], 0, buf, 48)),
        "perf_event_open": _errno(libc.syscall(NR["perf_event_open"], buf, 0, -1, -1, 0)),
        "userfaultfd": _errno(libc.syscall(NR["userfaultfd"], 0)),
        "mount": _errno(libc.syscall(NR["mount"], b"none", b"/tmp", b"tmpfs", 0, None)),
        "personality": _errno(libc.syscall(NR["personality"], 0x0040000)),
    }

def still_works():
    """What numerical code needs: threads, processes (fork, exec), pipes, sockets pairs."""
    import threading
    t = threading.Thread(target=lambda: None); t.start(); t.join()
    child = subprocess.run(["/usr/bin/true"]).returncode
    a, b = socket.socketpair(); a.send(b"x"); got = b.recv(1); a.close(); b.close()
    return [child, got.decode(), os.getuid()]

def stash(token):
    """Leave state behind: a file in /dev/shm and in /tmp, an abstract socket, a sleeping child."""
    for folder in ("/dev/shm", "/tmp"):
        with open(f"{folder}/stash-{token}", "w") as f:
            f.write("source code")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind("\0stash-" + token)
    sock.listen(1)
    _keep.append(sock)
    _keep.append(subprocess.Popen(["/usr/bin/sleep", "600"], start_new_session=True))
    return "stashed"

def find(token):
    seen = {}
    for folder in ("/dev/shm", "/tmp"):
        seen[folder] = os.path.exists(f"{folder}/stash-{token}")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect("\0stash-" + token)
        seen["socket"] = "connected"
    except OSError as exc:
        seen["socket"] = errno.errorcode.get(exc.errno, str(exc.errno))
    return seen

def spawn(n):
    """Hold n sleeping processes (a grading at its process limit)."""
    started = 0
    try:
        for _ in range(n):
            _keep.append(subprocess.Popen(["/usr/bin/sleep", "600"]))
            started += 1
    except OSError as exc:
        return [started, errno.errorcode.get(exc.errno, str(exc.errno))]
    return [started, "ok"]
'''


@pytest.fixture(scope="module")
def submission(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile-state")
    folder.chmod(0o755)
    (folder / "probes.py").write_text(PROBES)
    (folder / "probes.py").chmod(0o644)
    return folder


def call(session: WorkerSession, func: str, *args: Any) -> Any:
    body = {"op": "call", "module": "probes", "path": [func], "args": list(args), "kwargs": {}}
    return session.request(body, 60, what=f"{func}(...)")[0]


@pytest.fixture(params=["bwrap", "docker"])
def backend(request: pytest.FixtureRequest) -> Sandbox:
    return require_backend(request.param)


@pytest.fixture
def worker(backend: Sandbox, submission: Path) -> Iterator[WorkerSession]:
    with WorkerSession(backend, LaunchSpec(submission, slot=SLOT)) as session:
        session.request({"op": "import", "module": "probes", "names": []}, 120)
        yield session


# -- the filter --------------------------------------------------------------------------------------


def test_per_uid_and_kernel_object_calls_are_refused(worker: WorkerSession, backend: Sandbox) -> None:
    seen = call(worker, "syscalls")
    # Keyrings are the channel of the reported leak: refused in every isolated backend.
    assert {name: seen[name] for name in ("add_key", "keyctl", "request_key")} == dict.fromkeys(
        ("add_key", "keyctl", "request_key"), "EPERM"
    )
    assert seen["unshare_user"] == seen["unshare_net"] == "EPERM"
    assert seen["mount"] == "EPERM"
    if backend.name == "bwrap":  # Docker's default profile differs in details (it allows inotify)
        refused = {"mq_open", "inotify_init1", "io_uring_setup", "ptrace", "bpf", "perf_event_open", "userfaultfd"}
        assert {name: seen[name] for name in refused} == dict.fromkeys(refused, "EPERM")
        assert seen["clone3"] == "ENOSYS"  # so the C library falls back to clone, whose flags are checked
        assert seen["personality"] == "EPERM"


def test_the_filter_leaves_what_numerical_code_needs(worker: WorkerSession) -> None:
    child, got, uid = call(worker, "still_works")
    assert (child, got) == (0, "x")
    if os.geteuid() == 0:
        assert uid == uid_for_slot(SLOT)


def test_the_program_refuses_other_architectures() -> None:
    program = build_program("x86_64")
    assert len(program) % 8 == 0 and len(program) // 8 < 256  # BPF jumps are 8 bits
    assert {"keyctl", "add_key", "request_key", "mq_open", "inotify_init1"} <= set(BLOCKED)
    with pytest.raises(RuntimeError, match="no seccomp"):
        build_program("sparc")


# -- one grading cannot reach what another left ------------------------------------------------------


def test_state_left_in_one_worker_is_invisible_to_a_concurrent_one(backend: Sandbox, submission: Path) -> None:
    with (
        WorkerSession(backend, LaunchSpec(submission, slot=SLOT)) as first,
        WorkerSession(backend, LaunchSpec(submission, slot=SPARE_SLOT)) as second,
    ):
        for session in (first, second):
            session.request({"op": "import", "module": "probes", "names": []}, 120)
        assert call(first, "stash", TOKEN) == "stashed"
        assert call(first, "find", TOKEN) == {"/dev/shm": True, "/tmp": True, "socket": "connected"}
        assert call(second, "find", TOKEN) == {"/dev/shm": False, "/tmp": False, "socket": "ECONNREFUSED"}
    assert not Path(f"/dev/shm/stash-{TOKEN}").exists() and not Path(f"/tmp/stash-{TOKEN}").exists()


@needs_root
def test_concurrent_gradings_do_not_share_a_process_limit(submission: Path) -> None:
    """One grading holding most of its process limit leaves another grading's limit untouched."""
    backend = require_backend("bwrap")
    limits = Limits(max_processes=16)
    with lease_uid_slot() as one, lease_uid_slot() as two:
        assert one != two
        with (
            WorkerSession(backend, LaunchSpec(submission, limits, slot=one)) as first,
            WorkerSession(backend, LaunchSpec(submission, limits, slot=two)) as second,
        ):
            for session in (first, second):
                session.request({"op": "import", "module": "probes", "names": []}, 120)
            started, why = call(first, "spawn", 40)
            assert why == "EAGAIN" and started < 16
            assert call(second, "spawn", 8) == [8, "ok"]


# -- leasing and releasing a uid purges what it owns -------------------------------------------------

# Runs as the sandbox uid with no seccomp filter: what a worker of any backend could have left.
_LEAVE_STATE = r"""
import ctypes, os, subprocess, sys
uid, token = int(sys.argv[1]), sys.argv[2]
libc = ctypes.CDLL(None, use_errno=True)
os.setgroups([]); os.setgid(uid); os.setuid(uid)
key = libc.syscall(248, b"user", ("stash-" + token).encode(), b"source code", 11, -4)  # add_key to @u
open(f"/dev/shm/stash-{token}", "w").write("x")
open(f"/tmp/stash-{token}", "w").write("x")
quiet = subprocess.DEVNULL
subprocess.Popen(["/usr/bin/sleep", "600"], start_new_session=True, stdout=quiet, stderr=quiet)
print(key)
"""

_LIST_KEYS = r"""
import os, sys
uid = int(sys.argv[1])
os.setgroups([]); os.setgid(uid); os.setuid(uid)
print(open("/proc/keys").read())
"""


def _key_gone(uid: int, token: str, wait_s: float = 10.0) -> bool:
    """Whether the stashed key has left the uid's view of ``/proc/keys``. The kernel unlinks and
    invalidates at once but collects the key asynchronously, later under load: wait for it."""
    deadline = time.monotonic() + wait_s
    while f"stash-{token}" in _as_uid(_LIST_KEYS, str(uid)):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _as_uid(code: str, *args: str) -> str:
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, *args], capture_output=True, text=True, check=True
    ).stdout


@needs_root
def test_releasing_a_uid_removes_its_keys_processes_and_files() -> None:
    with lease_uid_slot() as slot:
        uid = uid_for_slot(slot)
        assert int(_as_uid(_LEAVE_STATE, str(uid), TOKEN)) > 0  # the key was created
        assert f"stash-{TOKEN}" in _as_uid(_LIST_KEYS, str(uid))
        assert uid_processes(uid)
    assert _key_gone(uid, TOKEN)
    assert uid_processes(uid) == []
    assert not Path(f"/dev/shm/stash-{TOKEN}").exists() and not Path(f"/tmp/stash-{TOKEN}").exists()


@needs_root
def test_a_uid_left_dirty_by_a_killed_grader_is_purged_when_leased() -> None:
    with lease_slot() as slot:  # the bare lock: a grader killed before it could purge
        uid = uid_for_slot(slot)
        _as_uid(_LEAVE_STATE, str(uid), TOKEN)
        assert uid_processes(uid)
    with lease_uid_slot() as again:
        if again != slot:  # another grading on this host took the slot in between
            purge_uid(uid)
            pytest.skip("another grading leased the slot first")
        assert uid_processes(uid) == []
        assert _key_gone(uid, TOKEN)
        assert not Path(f"/dev/shm/stash-{TOKEN}").exists()


@needs_root
def test_gradings_at_the_same_time_lease_distinct_uids() -> None:
    held: list[int] = []
    barrier = threading.Barrier(4)

    def hold() -> None:
        with lease_uid_slot() as slot:
            held.append(slot)
            barrier.wait(timeout=60)

    threads = [threading.Thread(target=hold) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(set(held)) == 4
