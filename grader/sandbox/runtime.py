"""What the process and bwrap backends share: the worker command, its environment and its uid."""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import tempfile
from pathlib import Path

from grader.sandbox.base import WORKER_DIR, Limits, SandboxUnavailable

#: Workers started by a root grader run as ``UID_BASE + slot``: one uid per parallel slot, because
#: ``RLIMIT_NPROC`` counts every process of a uid on the host.
UID_BASE = 60000

THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
}


#: Tells the worker what to import before it says it is ready (comma-separated, ``LaunchSpec.preload``).
PRELOAD_ENV = "BACKPROP_GRADER_PRELOAD"


def worker_env(home: str, preload: tuple[str, ...] = ()) -> dict[str, str]:
    """A minimal environment: nothing of the grader's own environment reaches the worker."""
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": home,
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        **THREAD_ENV,
    }
    if preload:
        env[PRELOAD_ENV] = ",".join(preload)
    return env


def rlimits(limits: Limits) -> dict[str, int]:
    """The per-process limits the launcher sets before exec.

    ``RLIMIT_DATA`` rather than ``RLIMIT_AS``: torch maps large address ranges it never touches.
    """
    return {
        "RLIMIT_CPU": limits.cpu_seconds,
        "RLIMIT_DATA": limits.memory_bytes,
        "RLIMIT_FSIZE": limits.max_file_bytes,
        "RLIMIT_NOFILE": limits.max_open_files,
        "RLIMIT_NPROC": limits.max_processes,
        "RLIMIT_CORE": 0,
    }


def launcher_command(python: str, worker_dir: str, limits: Limits, uid: int | None) -> list[str]:
    """``python -I -S launch.py SPEC --``: sets the rlimits, drops to ``uid`` when given, then execs."""
    spec: dict[str, object] = {"rlimits": rlimits(limits)}
    if uid is not None:
        spec.update(uid=uid, gid=uid)
    return [python, "-I", "-S", f"{worker_dir}/launch.py", json.dumps(spec), "--"]


def shim_command(python: str, worker_dir: str, submission_dir: str, data_dir: str | None = None) -> list[str]:
    """``python -I -B shim.py SUBMISSION [DATA]``: isolated mode, no bytecode written."""
    return [python, "-I", "-B", f"{worker_dir}/shim.py", submission_dir, *([data_dir] if data_dir else [])]


def sandbox_uid(slot: int) -> int | None:
    """The uid to run student code as, or None when the grader is not root (it then runs as itself)."""
    if os.geteuid() != 0:
        return None
    return UID_BASE + slot


def python_runtime() -> str:
    """The interpreter for workers: the grader's own, which has numpy and torch."""
    return sys.executable


def runtime_roots() -> list[str]:
    """Folders the worker's interpreter needs: the (virtual) environment and its base installation."""
    roots = {os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix)}
    return sorted(roots)


def unreachable_by_others(path: str) -> str | None:
    """The first folder on ``path`` that a different, unprivileged uid cannot traverse, if any."""
    current = Path("/")
    for part in Path(path).resolve().parts[1:]:
        current = current / part
        try:
            mode = os.stat(current).st_mode
        except OSError:
            return str(current)
        if stat.S_ISDIR(mode) and not mode & stat.S_IXOTH:
            return str(current)
    return None


def make_scratch_dir(uid: int | None) -> Path:
    """A fresh, private, writable working folder for one worker, owned by the sandbox uid."""
    path = Path(tempfile.mkdtemp(prefix="backprop-grader-work-"))
    if uid is not None:
        os.chown(path, uid, uid)
    return path


def remove_tree(path: Path) -> None:
    """Remove a folder the sandbox could write to; ``rmtree`` does not follow links."""
    shutil.rmtree(path, ignore_errors=True)


def require_program(name: str, hint: str) -> str:
    found = shutil.which(name)
    if not found:
        raise SandboxUnavailable(f"{name} is not installed: {hint}")
    return found


__all__ = [
    "UID_BASE",
    "WORKER_DIR",
    "launcher_command",
    "make_scratch_dir",
    "python_runtime",
    "remove_tree",
    "require_program",
    "rlimits",
    "runtime_roots",
    "sandbox_uid",
    "shim_command",
    "unreachable_by_others",
    "worker_env",
]
