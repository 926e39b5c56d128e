"""Worker cgroups under bwrap: the whole worker tree is in the cgroup and ``cgroup.kill`` ends it.

This host may not delegate the memory, pids and cpu controllers (then the grader falls back to rlimits
and says so); the mechanism itself (moving the worker in before it forks, killing and removing the
cgroup) is tested in a plain cgroup v2 folder, which needs only a writable cgroup2 mount.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from held_slots import held_slot
from sandbox_backends import require_backend

from grader.boundary.rpc import WorkerSession
from grader.sandbox import cgroup
from grader.sandbox.base import LaunchSpec, Limits

pytestmark = pytest.mark.sandbox

SPINNER = r'''
import os, subprocess

def detach_and_spin():
    """A child that leaves the worker's session and spins; returns its pid as the worker sees it."""
    child = subprocess.Popen(["/bin/sh", "-c", "while :; do :; done"], start_new_session=True)
    return child.pid
'''


@pytest.fixture
def parent() -> Iterator[Path]:
    mount = cgroup._cgroup2_mount()
    if mount is None or not os.access(mount, os.W_OK):
        pytest.skip("no writable cgroup v2 hierarchy here")
    folder = mount / f"backprop-grader-test-{os.getpid()}"
    try:
        folder.mkdir()
    except OSError as exc:
        pytest.skip(f"cannot create a cgroup here: {exc.strerror}")
    yield folder
    for child in folder.iterdir() if folder.exists() else []:
        if child.is_dir():
            cgroup.WorkerCgroup.destroy_path(child)
    folder.rmdir()


def test_a_detached_spinning_child_is_in_the_cgroup_and_killed_with_it(parent: Path, tmp_path: Path) -> None:
    backend = require_backend("bwrap")
    backend.cgroup_parent = parent
    backend.cgroup_controllers = ()  # the mechanism only: this host may not delegate the controllers
    tmp_path.chmod(0o755)
    (tmp_path / "spin.py").write_text(SPINNER)
    (tmp_path / "spin.py").chmod(0o644)
    with WorkerSession(backend, LaunchSpec(tmp_path, Limits(), slot=held_slot())) as session:
        session.request({"op": "import", "module": "spin", "names": []}, 60)
        session.request({"op": "call", "module": "spin", "path": ["detach_and_spin"], "args": [], "kwargs": {}}, 60)
        groups = [p for p in parent.iterdir() if p.is_dir()]
        assert len(groups) == 1
        # Popen returns once the child is forked; on a busy host it may not have run /bin/sh yet.
        deadline = time.monotonic() + 10
        while True:
            pids = [int(p) for p in (groups[0] / "cgroup.procs").read_text().split()]
            commands = {_command(pid) for pid in pids}
            if b"/bin/sh" in commands or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert b"/bin/sh" in commands and len(pids) >= 4  # sh->bwrap, bwrap, launcher->shim, the spinner
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() and "Z" not in _state(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [pid for pid in pids if Path(f"/proc/{pid}").exists() and "Z" not in _state(pid)] == []
    assert [p for p in parent.iterdir() if p.is_dir()] == []  # removed


def _command(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
    except OSError:
        return b""


def _state(pid: int) -> str:
    try:
        return next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("State:"))
    except (OSError, StopIteration):
        return "Z"


def test_limits_are_written_for_each_delegated_controller(parent: Path) -> None:
    group = cgroup.WorkerCgroup(parent, Limits(), controllers=())
    try:
        assert group.path.parent == parent and group.pids() == []
        assert group.wrap(["true"])[-1] == "true"
    finally:
        group.destroy()
    assert not group.path.exists()


def test_a_parent_without_the_controllers_is_refused_with_the_reason(parent: Path) -> None:
    with pytest.raises(cgroup.CgroupUnavailable, match="memory, pids, cpu"):
        cgroup.check_parent(parent)
    assert cgroup.check_parent(parent, controllers=()) is None


def test_the_fallback_is_said_in_one_line() -> None:
    note = cgroup.probe()
    if note is None:
        pytest.skip("this host delegates cgroups v2: workers get cgroups, no fallback")
    assert "\n" not in note and cgroup.CGROUP_ENV in note and "rlimits only" in note
