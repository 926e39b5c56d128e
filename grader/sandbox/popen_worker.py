"""A :class:`WorkerProcess` backed by a local child process (used by the process and bwrap backends)."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

from grader.sandbox.base import WorkerProcess
from grader.sandbox.runtime import remove_tree


class PopenWorker(WorkerProcess):
    """Owns a child started in its own session, and the scratch folder it was given."""

    stdin_is_own_pipe = True

    def __init__(
        self,
        argv: list[str],
        env: dict[str, str],
        cwd: Path,
        scratch: Path | None,
        after_kill: Callable[[], None] | None = None,
        pass_fds: tuple[int, ...] = (),
    ) -> None:
        self._scratch = scratch
        self._after_kill = after_kill
        self._proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
            close_fds=True,
            pass_fds=pass_fds,
            start_new_session=True,
        )
        assert self._proc.stdin and self._proc.stdout and self._proc.stderr
        self.stdin = self._proc.stdin
        self.stdout = self._proc.stdout
        self.stderr = self._proc.stderr
        self._killed = False

    @property
    def pid(self) -> int:
        return self._proc.pid

    def poll(self) -> int | None:
        return self._proc.poll()

    def kill(self) -> None:
        if self._killed:
            return
        self._killed = True
        # The child leads its own session: kill the whole group, then reap.
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self._proc.kill()
        except ProcessLookupError:
            pass
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        if self._after_kill is not None:
            self._after_kill()
        if self._scratch is not None:
            remove_tree(self._scratch)
