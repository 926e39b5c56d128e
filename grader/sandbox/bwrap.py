"""The ``bwrap`` backend: bubblewrap namespaces around the worker.

The worker sees, read-only: ``/usr`` (and the merged-usr links), the Python runtime whose
``site-packages`` holds only numpy, torch and their requirements (an allow-list, see
:mod:`grader.sandbox.allowlist`), the worker shim at ``/opt/worker`` and the submission at ``/sub``.
It gets a private ``/proc``, ``/dev``, size-capped tmpfs ``/tmp`` and ``/dev/shm``, no network, its own
PID namespace (it is never able to signal the grader) and a clean environment. The grader's code,
``reference/``, the packs and every expected value are not in its file system.

Two launch modes, because root ignores ``RLIMIT_NPROC`` (SECURITY-NOTES M1):

- grader is root: bwrap runs privileged (no user namespace), so it can bind a runtime that lives in a
  private folder such as ``/root/.pyenv``; inside, the launcher sets rlimits and switches to the
  dedicated uid ``60000 + slot`` before exec.
- grader is not root: bwrap creates a user namespace and maps the grader's uid to 65534; the launcher
  sets rlimits, which hold because the real uid is not root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache
from pathlib import Path

from grader.sandbox import cgroup, seccomp, zygote
from grader.sandbox.allowlist import allowed_entries, site_dirs
from grader.sandbox.base import WORKER_DIR, LaunchSpec, Sandbox, SandboxUnavailable, WorkerProcess
from grader.sandbox.popen_worker import PopenWorker
from grader.sandbox.runtime import (
    launcher_command,
    python_runtime,
    rlimits,
    runtime_roots,
    sandbox_uid,
    shim_command,
    worker_env,
)

INSIDE_WORKER = "/opt/worker"
INSIDE_SUBMISSION = "/sub"
INSIDE_DATA = "/data"
SHM_BYTES = 16 * 1024 * 1024
#: What the zygote keeps of root's capabilities: new namespaces and mounts, the uid switch, and killing
#: the worker it started (which runs as another uid by then).
ZYGOTE_CAPABILITIES = ("CAP_SYS_ADMIN", "CAP_SETUID", "CAP_SETGID", "CAP_KILL")


@cache
def _seccomp_program() -> bytes:
    return seccomp.build_program()


@cache
def _probe() -> str | None:
    """Start a trivial sandbox once; return a one-line reason when bwrap cannot run here."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap is not installed: `apt-get install bubblewrap`, or choose --sandbox docker"
    argv = [bwrap, *_system_binds(), "--unshare-all", "--die-with-parent"]
    if os.geteuid() != 0:
        argv += ["--unshare-user"]
    argv += ["--", "/usr/bin/true"]
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap did not start: {exc}"
    if result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or ["no message"])[-1]
        if "uid map" in detail or "Permission denied" in detail:
            return (
                f"bubblewrap cannot create namespaces here ({detail}); on Ubuntu 24.04 run "
                "`sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`, or choose --sandbox docker"
            )
        return f"bubblewrap failed: {detail}"
    return None


def _system_binds() -> list[str]:
    """``/usr`` read-only, and ``/bin``, ``/lib``... as the host has them (links or folders)."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        host = Path("/") / name
        if host.is_symlink():
            args += ["--symlink", os.readlink(host), str(host)]
        elif host.is_dir():
            args += ["--ro-bind", str(host), str(host)]
    return args


def _parents(path: str) -> list[str]:
    """Create every ancestor of ``path`` as a world-traversable folder before binding onto it."""
    args: list[str] = []
    current = Path("/")
    for part in Path(path).parts[1:-1]:
        current = current / part
        if str(current) in ("/usr",) or str(current).startswith("/usr/"):
            continue
        args += ["--perms", "0755", "--dir", str(current)]
    return args


class BwrapSandbox(Sandbox):
    name = "bwrap"
    isolated = True

    @classmethod
    def check_available(cls) -> None:
        reason = _probe()
        if reason:
            raise SandboxUnavailable(reason)
        if cgroup.required() and cgroup.probe():
            raise SandboxUnavailable(f"{cgroup.REQUIRE_ENV}=1 but {cgroup.probe()}")

    def __init__(self) -> None:
        #: Where worker cgroups are created (None: rlimits only) and which controllers they set.
        self.cgroup_parent: Path | None = cgroup.delegated_parent()
        self.cgroup_controllers: tuple[str, ...] = cgroup.CONTROLLERS

    @property
    def limits_note(self) -> str | None:
        """Why workers run without a cgroup of their own (rlimits only), or None when they get one."""
        return cgroup.probe() if self.cgroup_parent is None else None

    @staticmethod
    def _view(tmpfs_bytes: int) -> list[str]:
        """The namespaces and file system every worker sees, and the zygote too (without a submission)."""
        argv = ["bwrap", *_system_binds()]
        argv += ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
        argv += ["--die-with-parent", "--new-session", "--hostname", "sandbox"]
        # The private /tmp comes before the binds: a runtime that lives under /tmp (a virtual
        # environment in a CI checkout) is then bound on top of it instead of hidden by it.
        argv += ["--proc", "/proc", "--dev", "/dev"]
        argv += ["--size", str(tmpfs_bytes), "--perms", "1777", "--tmpfs", "/tmp"]
        argv += ["--size", str(SHM_BYTES), "--perms", "1777", "--tmpfs", "/dev/shm"]
        for root in runtime_roots():
            argv += [*_parents(root), "--ro-bind", root, root]
        # site-packages is an allow-list: an empty tmpfs with only numpy, torch and their
        # requirements bound back (grader.sandbox.allowlist). Nothing else installed is visible.
        for site_dir in site_dirs():
            argv += ["--tmpfs", site_dir]
            for entry in allowed_entries():
                if entry.startswith(site_dir + os.sep):
                    argv += ["--ro-bind", entry, entry]
            argv += ["--remount-ro", site_dir]
        argv += [*_parents(INSIDE_WORKER), "--ro-bind", str(WORKER_DIR), INSIDE_WORKER]
        return argv

    def command(self, spec: LaunchSpec, seccomp_fd: int | None = None) -> list[str]:
        """The full bwrap command line for one worker (no secrets: the worker can read it).

        ``seccomp_fd`` is a descriptor the child inherits holding the filter of :mod:`grader.sandbox.seccomp`.
        """
        limits = spec.limits
        uid = sandbox_uid(spec.slot)
        python = python_runtime()
        argv = self._view(limits.tmpfs_bytes)
        if uid is None:
            argv[1:1] = ["--unshare-user", "--disable-userns", "--uid", "65534", "--gid", "65534"]
        if seccomp_fd is not None:
            argv += ["--seccomp", str(seccomp_fd)]
        argv += ["--ro-bind", str(Path(spec.submission_dir).resolve()), INSIDE_SUBMISSION]
        if spec.data_dir is not None:
            argv += ["--ro-bind", str(Path(spec.data_dir).resolve()), INSIDE_DATA]
        argv += ["--clearenv"]
        for key, value in worker_env(home="/tmp", preload=spec.preload).items():
            argv += ["--setenv", key, value]
        argv += ["--chdir", "/tmp", "--"]
        argv += launcher_command(python, INSIDE_WORKER, limits, uid)
        argv += shim_command(python, INSIDE_WORKER, INSIDE_SUBMISSION, INSIDE_DATA if spec.data_dir else None)
        return argv

    @classmethod
    def zygote_command(cls, control_fd: int) -> list[str]:
        """The zygote's command line: a worker's view without a submission, as root with the capabilities
        to build each worker's namespaces (``grader.worker.zygote``). It runs no student code."""
        argv = cls._view(tmpfs_bytes=SHM_BYTES)
        for capability in ZYGOTE_CAPABILITIES:
            argv += ["--cap-add", capability]
        # Mount points for each worker's submission and data set, attached in the worker's own namespace.
        argv += ["--dir", INSIDE_SUBMISSION, "--dir", INSIDE_DATA, "--clearenv"]
        for key, value in worker_env(home="/tmp").items():
            argv += ["--setenv", key, value]
        argv += ["--chdir", "/tmp", "--", python_runtime(), "-I", "-B", f"{INSIDE_WORKER}/zygote.py", str(control_fd)]
        return argv

    def uses_zygote(self) -> bool:
        """Whether workers are forked from the zygote: root grader, no per-worker cgroup, not turned off."""
        return zygote.enabled() and os.geteuid() == 0 and self.cgroup_parent is None

    def _fork(self, spec: LaunchSpec) -> WorkerProcess:
        uid = sandbox_uid(spec.slot)
        assert uid is not None, "the zygote runs only for a root grader"
        try:
            program = _seccomp_program()
        except seccomp.SeccompUnsupported as exc:
            raise SandboxUnavailable(f"bubblewrap cannot filter system calls here: {exc}") from None
        request = {
            "uid": uid,
            "gid": uid,
            "rlimits": rlimits(spec.limits),
            "tmpfs_bytes": spec.limits.tmpfs_bytes,
            "shm_bytes": SHM_BYTES,
            "seccomp": program.hex(),
            "submission_at": INSIDE_SUBMISSION,
            "data_at": INSIDE_DATA if spec.data_dir is not None else None,
            "preload": list(spec.preload),
        }
        mounts: list[int] = []
        try:
            for folder in (spec.submission_dir, spec.data_dir):
                if folder is not None:
                    mounts.append(zygote.read_only_mount(Path(folder).resolve()))
        except OSError as exc:
            for fd in mounts:
                os.close(fd)
            raise SandboxUnavailable(f"bubblewrap could not start a worker: {exc}") from None
        return zygote.shared_zygote(self.zygote_command).fork(request, mounts)

    def prepare(self) -> None:
        """Start the zygote (its sandbox, an interpreter and numpy) while the grading sets up."""
        if self.uses_zygote():
            zygote.shared_zygote(self.zygote_command).start_soon()

    def start(self, spec: LaunchSpec) -> WorkerProcess:
        self.check_available()
        if self.uses_zygote():
            return self._fork(spec)
        try:
            fd = seccomp.program_fd()
        except seccomp.SeccompUnsupported as exc:
            raise SandboxUnavailable(f"bubblewrap cannot filter system calls here: {exc}") from None
        parent = self.cgroup_parent
        group = None
        try:
            argv = self.command(spec, fd)
            if parent is not None:
                # memory (shared memory too), processes and CPU of the whole worker tree; killed as one.
                group = cgroup.WorkerCgroup(parent, spec.limits, self.cgroup_controllers)
                argv = group.wrap(argv)
            return PopenWorker(
                argv,
                env={"PATH": "/usr/bin:/bin"},
                cwd=Path("/"),
                scratch=None,
                pass_fds=(fd,),
                after_kill=group.destroy if group else None,
            )
        except OSError as exc:
            if group is not None:
                group.destroy()
            raise SandboxUnavailable(f"bubblewrap could not start a worker: {exc}") from None
        finally:
            os.close(fd)  # the child has its own copy
