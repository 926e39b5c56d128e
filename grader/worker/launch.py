"""Set limits, drop privileges, then exec the worker: ``python -I -S launch.py SPEC_JSON -- CMD...``.

Run as a separate tiny program instead of a ``preexec_fn`` because ``preexec_fn`` is unsafe in a
threaded parent and, after a uid switch, cannot even import a module from a private Python prefix.

SPEC_JSON holds ``rlimits`` (name -> soft=hard value, e.g. ``{"RLIMIT_CPU": 600}``) and optionally
``uid``/``gid``: when given (the grader runs as root), the launcher clears supplementary groups and
switches to that uid before exec, because root ignores ``RLIMIT_NPROC`` and must never run student
code. Standard library only.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys

PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38


def prctl(option: int, value: int, arg: object = 0) -> None:
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, value, arg, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")


def limit_and_drop(spec: dict) -> None:
    """Set the rlimits of ``spec``, switch to its uid/gid for good when given, then no new privileges.

    Also used by the zygote (``zygote.py``) for every worker it forks.
    """
    for name, value in spec.get("rlimits", {}).items():
        resource.setrlimit(getattr(resource, name), (value, value))
    if spec.get("uid") is not None:
        os.setgroups([])
        os.setgid(spec["gid"])
        os.setuid(spec["uid"])
        # The parent-death signal is reset by a credential change; set it again.
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    # No setuid binary may give privileges back.
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def main(argv: list[str]) -> None:
    spec = json.loads(argv[1])
    if argv[2] != "--":
        raise SystemExit("launch.py: usage: launch.py SPEC_JSON -- CMD...")
    command = argv[3:]
    # Die with the grader, even if it is killed without a chance to clean up.
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    limit_and_drop(spec)
    os.execv(command[0], command)


if __name__ == "__main__":
    main(sys.argv)
