"""The ``process`` backend: a plain child process with rlimits, a clean environment and a scratch folder.

It is NOT isolated: the worker can read whatever its uid can read and reach the network. It exists
for a student's self-check on a laptop without Docker or bubblewrap, and it says so loudly. When the
grader runs as root it still drops the worker to a dedicated unprivileged uid, and after every worker
it kills whatever that uid left running (a daemonised child escapes the process group, not the uid).
"""

from __future__ import annotations

import os
from pathlib import Path

from grader.sandbox.base import WORKER_DIR, LaunchSpec, Sandbox, SandboxUnavailable, WorkerProcess
from grader.sandbox.popen_worker import PopenWorker
from grader.sandbox.runtime import (
    launcher_command,
    make_scratch_dir,
    python_runtime,
    runtime_roots,
    sandbox_uid,
    shim_command,
    unreachable_by_others,
    worker_env,
)
from grader.sandbox.uids import kill_uid

WARNING = (
    "the 'process' sandbox does not isolate the submission: it can read your files and use the "
    "network. Use it only on your own code; instructors grade with docker or bwrap."
)


class ProcessSandbox(Sandbox):
    name = "process"
    isolated = False

    @classmethod
    def check_available(cls) -> None:
        if os.name != "posix":
            raise SandboxUnavailable("the process sandbox needs a POSIX system (Linux or macOS)")
        if os.geteuid() == 0:
            for path in [python_runtime(), str(WORKER_DIR), *runtime_roots()]:
                blocked = unreachable_by_others(path)
                if blocked:
                    raise SandboxUnavailable(
                        f"the process sandbox cannot drop root privileges: {blocked} is private to root, so "
                        f"the sandbox user cannot run {python_runtime()}; use --sandbox bwrap, or install the "
                        "grader with a Python outside a private folder"
                    )

    def start(self, spec: LaunchSpec) -> WorkerProcess:
        self.check_available()
        uid = sandbox_uid(spec.slot)
        scratch = make_scratch_dir(uid)
        python = python_runtime()
        submission = str(Path(spec.submission_dir).resolve())
        data = str(Path(spec.data_dir).resolve()) if spec.data_dir else None
        argv = launcher_command(python, str(WORKER_DIR), spec.limits, uid) + shim_command(
            python, str(WORKER_DIR), submission, data
        )
        env = worker_env(home=str(scratch), preload=spec.preload)
        after_kill = (lambda: kill_uid(uid)) if uid is not None else None
        return PopenWorker(argv, env, cwd=scratch, scratch=scratch, after_kill=after_kill)
