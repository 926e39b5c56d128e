"""Sandbox slots shared by every grading on one host.

A root grader runs student code as uid ``60000 + slot`` and ``RLIMIT_NPROC`` counts every process of
that uid on the host (SECURITY-NOTES M1), so two gradings that run at the same time must never share a
slot. Batch gradings may run in several processes at once (a local cluster, several Dask workers on one
machine, two batches of different courses), none of which knows about the others; a lock file per slot,
held with ``flock`` for as long as the grading runs, coordinates them without any shared service. The
kernel drops the lock when its holder exits, so a killed grading never keeps a slot.

Slot 0 is left to the single-submission ``grade`` command, which does not take part in leasing.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

FIRST_SLOT = 1
MAX_SLOTS = 512
LOCK_DIR_ENV = "BACKPROP_GRADER_SLOT_DIR"


class NoFreeSlot(RuntimeError):
    """Every slot on this host is taken."""


def lock_dir() -> Path:
    """The folder holding the slot lock files: private to the grader's uid, created on first use."""
    folder = Path(os.environ.get(LOCK_DIR_ENV) or Path(tempfile.gettempdir()) / f"backprop-grader-slots-{os.geteuid()}")
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        pass
    info = os.lstat(folder)
    # A folder planted by another user (or a link to one) could let it hold every slot or swap lock files.
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise NoFreeSlot(f"{folder} is not a private folder of this user; remove it or set {LOCK_DIR_ENV}")
    return folder


@contextlib.contextmanager
def lease_slot() -> Iterator[int]:
    """Hold the lowest free slot for the duration of the ``with`` block."""
    folder = lock_dir()
    flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    for slot in range(FIRST_SLOT, FIRST_SLOT + MAX_SLOTS):
        fd = os.open(folder / f"slot-{slot}.lock", flags, 0o600)
        try:
            # Each open() is its own open file description, so this also excludes other threads.
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                continue
            raise
        try:
            yield slot
        finally:
            os.close(fd)  # releases the lock
        return
    raise NoFreeSlot(f"all {MAX_SLOTS} sandbox slots on this host are in use")
