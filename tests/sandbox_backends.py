"""Real sandbox backends for tests, and a view of the processes a sandbox leaves on the host.

A backend that cannot run here makes its tests skip with the backend's own one-line reason, except
where CI asks for it (``BACKPROP_GRADER_REQUIRE_BWRAP=1`` / ``BACKPROP_GRADER_REQUIRE_DOCKER=1``):
then the missing backend is a failure, so a broken CI machine cannot pass by skipping everything.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable
from pathlib import Path

import pytest

from grader.sandbox import Sandbox, SandboxUnavailable, backend_class
from grader.sandbox.runtime import sandbox_uid

REQUIRED_BY = {"bwrap": "BACKPROP_GRADER_REQUIRE_BWRAP", "docker": "BACKPROP_GRADER_REQUIRE_DOCKER"}

#: How long a killed sandbox may take to disappear from /proc: the kernel tears a PID namespace
#: down asynchronously after its init dies.
TEARDOWN_GRACE_S = 10.0


def require_backend(name: str) -> Sandbox:
    """An instance of backend ``name``; skip (or fail where CI requires it) when it cannot run here."""
    cls = backend_class(name)
    try:
        cls.check_available()
    except SandboxUnavailable as exc:
        variable = REQUIRED_BY.get(name)
        if variable and os.environ.get(variable) == "1":
            pytest.fail(f"{variable}=1 but the {name} sandbox cannot run: {exc}")
        pytest.skip(f"the {name} sandbox cannot run here: {exc}")
    return cls()


def separated_from_grader(sandbox: Sandbox, slot: int) -> bool:
    """True when the worker cannot signal or count against the grader: a PID namespace or another uid."""
    return sandbox.isolated or sandbox_uid(slot) is not None


def host_pid_namespace() -> str:
    """The PID namespace of the test process itself (a worker outside any namespace shares it)."""
    return os.readlink("/proc/self/ns/pid")


def sandbox_pids(slot: int, namespaces: Iterable[str] = ()) -> list[int]:
    """Live host processes of the sandbox: the slot's uid (root grader) or a worker's PID namespace.

    ``namespaces`` are ``pid:[inode]`` names the workers reported for themselves; the host's own
    namespace is ignored, so the process backend is matched by uid only. Zombies are not counted:
    they run nothing, and when the grader kills bwrap, the namespace's init is orphaned and left for
    the host's init to reap, which some container inits do only every few seconds.
    """
    uid = sandbox_uid(slot)
    watched = set(namespaces) - {host_pid_namespace()}
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            if re.search(r"^State:\s+Z", status, re.M):
                continue
            if uid is not None:
                match = re.search(r"^Uid:\s+(\d+)", status, re.M)
                if match and int(match.group(1)) == uid:
                    found.append(int(entry.name))
                    continue
            if watched and os.readlink(entry / "ns" / "pid") in watched:
                found.append(int(entry.name))
        except OSError:
            continue  # the process ended while we looked
    return sorted(found)


def wait_until_gone(slot: int, namespaces: Iterable[str] = (), timeout: float = TEARDOWN_GRACE_S) -> list[int]:
    """Wait for every sandbox process to end; return those still there after ``timeout`` seconds."""
    namespaces = list(namespaces)
    deadline = time.monotonic() + timeout
    while True:
        left = sandbox_pids(slot, namespaces)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.05)
