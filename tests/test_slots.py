"""Sandbox slots: two gradings on one host never hold the same slot, a killed holder frees its slot."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from grader.batch.slots import FIRST_SLOT, LOCK_DIR_ENV, NoFreeSlot, lease_slot


@pytest.fixture
def slot_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "slots"
    monkeypatch.setenv(LOCK_DIR_ENV, str(folder))
    return folder


def test_nested_leases_in_one_process_get_different_slots(slot_dir: Path) -> None:
    with lease_slot() as first, lease_slot() as second:
        assert first == FIRST_SLOT
        assert second == FIRST_SLOT + 1
    with lease_slot() as again:
        assert again == FIRST_SLOT  # released at the end of the block


def test_threads_holding_slots_at_once_never_share_one(slot_dir: Path) -> None:
    held: list[int] = []
    barrier = threading.Barrier(4)

    def work() -> None:
        with lease_slot() as slot:
            held.append(slot)
            barrier.wait(timeout=10)  # all four hold their slot at the same moment

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert sorted(held) == [FIRST_SLOT + i for i in range(4)]


def test_a_slot_held_by_another_process_is_skipped_and_freed_when_it_is_killed(slot_dir: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import time
                from grader.batch.slots import lease_slot
                with lease_slot() as slot:
                    print(slot, flush=True)
                    time.sleep(120)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, LOCK_DIR_ENV: str(slot_dir)},
    )
    try:
        assert holder.stdout is not None
        assert int(holder.stdout.readline()) == FIRST_SLOT
        with lease_slot() as slot:
            assert slot == FIRST_SLOT + 1
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        deadline = time.monotonic() + 10
        while True:
            with lease_slot() as slot:
                if slot == FIRST_SLOT or time.monotonic() > deadline:
                    break
        assert slot == FIRST_SLOT
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_folder_others_can_write_is_refused(slot_dir: Path) -> None:
    slot_dir.mkdir(mode=0o700)
    slot_dir.chmod(0o777)
    with pytest.raises(NoFreeSlot, match="not a private folder"):
        with lease_slot():
            pass
