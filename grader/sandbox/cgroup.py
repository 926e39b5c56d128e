"""A cgroup (v2) per bwrap worker: memory (shared memory included), processes and CPU, killed as a whole.

rlimits are per process (``RLIMIT_DATA`` does not count ``MAP_SHARED`` memory) or per uid
(``RLIMIT_NPROC``), and a child that calls ``setsid`` leaves the worker's process group. A cgroup
counts every page and process of the worker tree, whatever it does, and ``cgroup.kill`` ends all of
it at once. Docker puts each container in a cgroup of its own; this gives ``bwrap`` the same:

- ``memory.max`` = the worker's memory limit (anonymous, shared and tmpfs pages all count), with
  ``memory.swap.max`` = 0;
- ``pids.max`` = the worker's process limit;
- ``cpu.max`` = one CPU per worker thread, so a spinning worker cannot starve a parallel grading;
- ``cgroup.kill`` when the worker ends, then the folder is removed.

The grader needs a cgroup v2 folder it may write, with the ``memory``, ``pids`` and ``cpu``
controllers enabled for its children (``cgroup.subtree_control``): ``BACKPROP_GRADER_CGROUP``, or the
grader's own cgroup when it already delegates those controllers (systemd ``Delegate=yes``). Without
one, :func:`probe` says why in one line and bwrap workers run with rlimits only;
``BACKPROP_GRADER_REQUIRE_CGROUP=1`` makes that an error instead.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from functools import cache
from pathlib import Path

from grader.sandbox.base import Limits

CGROUP_ENV = "BACKPROP_GRADER_CGROUP"
REQUIRE_ENV = "BACKPROP_GRADER_REQUIRE_CGROUP"
CONTROLLERS = ("memory", "pids", "cpu")
#: cpu.max period in microseconds.
CPU_PERIOD_US = 100_000
#: How long removing a killed cgroup may wait for its last process to be reaped.
REMOVE_WAIT_S = 5.0


class CgroupUnavailable(RuntimeError):
    """No delegated cgroup v2 folder with the needed controllers; the message says how to set one up."""


def _cgroup2_mount() -> Path | None:
    with open("/proc/self/mounts") as mounts:
        for line in mounts:
            fields = line.split()
            if len(fields) > 2 and fields[2] == "cgroup2":
                return Path(fields[1])
    return None


def _own_cgroup(mount: Path) -> Path | None:
    with open("/proc/self/cgroup") as groups:
        for line in groups:
            if line.startswith("0::"):
                return mount / line[3:].strip().lstrip("/")
    return None


def check_parent(parent: Path, controllers: tuple[str, ...] = CONTROLLERS) -> None:
    """Raise :class:`CgroupUnavailable` unless worker cgroups can be created below ``parent``."""
    try:
        enabled = (parent / "cgroup.subtree_control").read_text().split()
    except OSError as exc:
        raise CgroupUnavailable(f"{parent} is not a cgroup v2 folder ({exc.strerror})") from None
    missing = [name for name in controllers if name not in enabled]
    if missing:
        raise CgroupUnavailable(
            f"the cgroup {parent} does not delegate the {', '.join(missing)} controller(s) to its children"
        )
    if not os.access(parent, os.W_OK):
        raise CgroupUnavailable(f"the grader may not create cgroups in {parent}")


@cache
def _probe() -> tuple[Path | None, str | None]:
    configured = os.environ.get(CGROUP_ENV)
    try:
        if configured:
            parent = Path(configured)
        else:
            mount = _cgroup2_mount()
            if mount is None:
                raise CgroupUnavailable("this host has no cgroup v2 hierarchy mounted")
            own = _own_cgroup(mount)
            if own is None:
                raise CgroupUnavailable("the grader's cgroup v2 is unknown")
            parent = own
        check_parent(parent)
    except CgroupUnavailable as exc:
        hint = (
            f"cgroups v2 are not delegated to the grader: {exc}. bwrap workers are limited by rlimits only "
            "(shared memory is not counted and child processes share the CPU unbounded; see README, Sandboxes). "
            f"Fix: create a cgroup v2 folder with {'+'.join(CONTROLLERS)} in its cgroup.subtree_control "
            f"and set {CGROUP_ENV}"
        )
        return None, hint
    except OSError as exc:
        return None, f"cgroups v2 cannot be inspected here ({exc.strerror}); bwrap workers are limited by rlimits only"
    return parent, None


def probe() -> str | None:
    """None when bwrap workers get cgroups; otherwise the one-line reason and fix."""
    return _probe()[1]


def delegated_parent() -> Path | None:
    """The folder worker cgroups are created in, or None (see :func:`probe`)."""
    return _probe()[0]


def required() -> bool:
    """True when a missing cgroup must stop the grading (``BACKPROP_GRADER_REQUIRE_CGROUP=1``)."""
    return os.environ.get(REQUIRE_ENV) == "1"


class WorkerCgroup:
    """One worker's cgroup: created with its limits, killed and removed by :meth:`destroy`."""

    def __init__(self, parent: Path, limits: Limits, controllers: tuple[str, ...] = CONTROLLERS) -> None:
        self.path = parent / f"backprop-grader-worker-{uuid.uuid4().hex[:12]}"
        self.path.mkdir(mode=0o755)
        try:
            settings = {
                "memory": {"memory.max": str(limits.memory_bytes), "memory.swap.max": "0"},
                "pids": {"pids.max": str(limits.max_processes)},
                "cpu": {"cpu.max": f"{max(1, limits.threads) * CPU_PERIOD_US} {CPU_PERIOD_US}"},
            }
            for controller in controllers:
                for name, value in settings[controller].items():
                    (self.path / name).write_text(value)
        except OSError:
            self.destroy()
            raise

    def wrap(self, argv: list[str]) -> list[str]:
        """``argv`` started inside this cgroup: the shell moves itself in, then execs (no race with forks)."""
        script = 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"'
        return ["/bin/sh", "-c", script, "sh", str(self.path), *argv]

    def pids(self) -> list[int]:
        """Processes in the cgroup now."""
        try:
            return [int(pid) for pid in (self.path / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def destroy(self) -> None:
        """Kill every process in the cgroup (``cgroup.kill``) and remove it. Safe to call twice."""
        self.destroy_path(self.path)

    @staticmethod
    def destroy_path(path: Path) -> None:
        """Kill everything in the cgroup at ``path`` and remove it."""
        if not path.exists():
            return
        with contextlib.suppress(OSError):
            (path / "cgroup.kill").write_text("1")
        deadline = time.monotonic() + REMOVE_WAIT_S
        while True:
            try:
                path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                if time.monotonic() >= deadline:
                    return
                time.sleep(0.02)
