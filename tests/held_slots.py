"""Sandbox slots for tests that start workers with an explicit slot.

A test that counts a uid's processes, or kills them, must own that uid: no other test process (a
second pytest-xdist worker, another test session on the same host) and no grading may use it at the
same time. Slots are picked from a range the engine's own leasing uses only when all its regular
slots are taken, and locked with the engine's uid lock files (``grader.sandbox.uids``) for as long as
the test process lives; the kernel drops the locks when it exits.
"""

from __future__ import annotations

from grader.sandbox.uids import try_lock_uid

#: Test slots: well above the engine's leased slots (1-512), at the top of its spare range.
FIRST_TEST_SLOT = 700
LAST_TEST_SLOT = 1000

_held: dict[int, int] = {}  # slot -> fd of its lock file, kept open for the process's lifetime


def held_slot() -> int:
    """A sandbox slot that this test process alone uses, locked until the process exits."""
    for slot in range(FIRST_TEST_SLOT, LAST_TEST_SLOT):
        if slot in _held:
            continue
        fd = try_lock_uid(slot)
        if fd is not None:
            _held[slot] = fd
            return slot
    raise RuntimeError(f"every test slot from {FIRST_TEST_SLOT} to {LAST_TEST_SLOT - 1} is held by another process")
