"""Sandbox uids: one per grading, leased host-wide, and the uid's kernel state purged around it.

A root grader runs student code as ``UID_BASE + slot``. Whatever the kernel keeps per uid rather than
per namespace (keyrings, the ``RLIMIT_NPROC`` count, inotify instances, POSIX message queue bytes,
files in shared temporary folders) would carry over from one grading to the next, or couple two
gradings that run at once, if they shared a uid. So every grading leases a slot of its own from the
host-wide allocator (:mod:`grader.batch.slots`, lock files held with ``flock``), and the uid's state is
purged before the grading starts (a killed predecessor may have left some) and after it ends.
``docs/security.md`` lists what a uid shares and how each channel is closed.

A grader that is not root runs workers as itself inside a user namespace: there is no uid to lease
and nothing to purge (keyrings of a user namespace die with it), and the seccomp filter refuses the
calls that reach per-uid objects.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from grader.sandbox.runtime import UID_BASE

#: Host folders shared by every uid where a worker of the process backend may leave files behind.
SHARED_TMP_DIRS = ("/dev/shm", "/dev/mqueue", "/tmp", "/var/tmp")
#: How long the purge waits for the uid's processes to disappear after SIGKILL.
KILL_WAIT_S = 5.0

# Run as the sandbox uid in a child: clear and invalidate every key the uid can see. keyctl is a raw
# system call so nothing beyond ctypes is needed; ctypes is imported before the uid switch because
# the interpreter's files may be private to root.
_KEY_PURGE = r"""
import ctypes, os, sys
uid = int(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
os.setgroups([]); os.setgid(uid); os.setuid(uid)
NR_KEYCTL = {"x86_64": 250, "aarch64": 219}.get(os.uname().machine)
if NR_KEYCTL is None:
    sys.exit(0)
KEYCTL_INVALIDATE, KEYCTL_CLEAR = 21, 7
try:
    with open("/proc/keys") as f:
        ids = [int(line.split()[0], 16) for line in f if line.strip()]
except OSError:
    ids = []
for key in ids:
    libc.syscall(NR_KEYCTL, KEYCTL_INVALIDATE, key)
for ring in (-4, -5):  # KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING
    libc.syscall(NR_KEYCTL, KEYCTL_CLEAR, ring)
"""


def uid_for_slot(slot: int) -> int:
    """The sandbox uid of a slot."""
    return UID_BASE + slot


def uid_processes(uid: int) -> list[int]:
    """Pids of every live process whose real uid is ``uid``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as handle:
                for line in handle:
                    if line.startswith("Uid:"):
                        if int(line.split()[1]) == uid:
                            found.append(int(entry))
                        break
        except (OSError, ValueError, IndexError):
            continue
    return found


def kill_uid(uid: int) -> None:
    """SIGKILL every process of ``uid`` until none is left (a fork loop can race one pass)."""
    deadline = time.monotonic() + KILL_WAIT_S
    while True:
        pids = uid_processes(uid)
        if not pids or time.monotonic() >= deadline:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)


def purge_keys(uid: int) -> None:
    """Invalidate every kernel key the uid can see and clear its user keyrings."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            [sys.executable, "-I", "-S", "-c", _KEY_PURGE, str(uid)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=30,
            check=False,
        )


def purge_files(uid: int, folders: tuple[str, ...] = SHARED_TMP_DIRS) -> None:
    """Remove what ``uid`` owns at the top of the host's shared temporary folders (never follows links)."""
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.stat(follow_symlinks=False).st_uid != uid:
                    continue
                path = Path(entry.path)
                if entry.is_dir(follow_symlinks=False):
                    import shutil  # noqa: PLC0415 - rarely needed

                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink()
            except OSError:
                continue


def purge_uid(uid: int) -> None:
    """Remove every trace a sandbox uid can leave in the host kernel: processes, keys, shared files."""
    if os.geteuid() != 0:
        return
    kill_uid(uid)
    purge_keys(uid)
    purge_files(uid)


def uid_lock_dir() -> Path:
    """Lock files of the uids themselves: one fixed folder per host and grader user.

    Slot folders can be chosen per grading (``BACKPROP_GRADER_SLOT_DIR``); the uid locks cannot, so two
    graders that use different slot folders still never hold (and purge) the same uid.
    """
    folder = Path(tempfile.gettempdir()) / f"backprop-grader-uids-{os.geteuid()}"
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700)
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise RuntimeError(f"{folder} is not a private folder of this user; remove it")
    return folder


def try_lock_uid(slot: int) -> int | None:
    """Lock the uid of ``slot`` for this process: the lock file's descriptor (closing it releases the
    lock), or None when another process holds it."""
    flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(uid_lock_dir() / f"uid-{uid_for_slot(slot)}.lock", flags, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


@contextlib.contextmanager
def _hold_uid(preferred: int) -> Iterator[int]:
    """Lock the uid of slot ``preferred``, or when another grader holds it, of a spare slot."""
    from grader.batch.slots import MAX_SLOTS  # noqa: PLC0415 - batch imports the engine

    for slot in (preferred, *range(MAX_SLOTS + 1, 2 * MAX_SLOTS + 1)):
        fd = try_lock_uid(slot)
        if fd is None:
            continue
        try:
            yield slot
        finally:
            os.close(fd)
        return
    raise RuntimeError("every sandbox uid on this host is in use")


@contextlib.contextmanager
def lease_uid_slot() -> Iterator[int]:
    """Hold a slot (and so a uid) no other grading on this host uses, purged before and after.

    Yields the slot; :func:`uid_for_slot` gives its uid. For a grader that is not root the slot only
    names the grading's lock: its workers run in user namespaces of their own.
    """
    from grader.batch.slots import lease_slot  # noqa: PLC0415 - batch imports the engine

    with lease_slot() as leased, _hold_uid(leased) as slot:
        purge_uid(uid_for_slot(slot))
        try:
            yield slot
        finally:
            purge_uid(uid_for_slot(slot))
