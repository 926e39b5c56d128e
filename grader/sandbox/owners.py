"""Who left something behind: one grader process named for good, and whether it still runs.

A grader killed outright (``kill -9``, a CI job's time-out) cannot clean up: its worker containers and
its shared data folder stay. Each is labelled with its owner (host, pid and the pid's start time, so a
recycled pid is another owner), and the next grader removes what belongs to owners that are gone.
"""

from __future__ import annotations

import os
import socket
from functools import cache
from pathlib import Path


def start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (clock ticks since boot), or None if it is gone.

    Together with the pid it names one process for good: a recycled pid has another start time.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    return stat.rsplit(")", 1)[1].split()[19]


def current_owner() -> str:
    """This process as an owner (computed per call: a forked child is another owner)."""
    return owner_of(os.getpid())


@cache
def owner_of(pid: int) -> str:
    """``host:pid:start-time`` of a running process."""
    return f"{socket.gethostname()}:{pid}:{start_time(pid) or ''}"


def owner_alive(owner: str) -> bool:
    """True when the process an owner names may still be running (always for another host's)."""
    host, _, rest = owner.partition(":")
    pid, _, started = rest.partition(":")
    if host != socket.gethostname():
        return True  # another machine sharing the engine or the folder: not ours to judge
    if not pid.isdigit():
        return False
    now = start_time(int(pid))
    return now is not None and (not started or now == started)
