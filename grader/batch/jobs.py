"""One unit of batch work: what the batch client sends to a grading process, and what comes back.

The client takes every submission in itself (the same checks as :func:`grader.engine.grading.grade`): it
needs the content hash to decide whether a result on disk is still current, and a worker on another
machine cannot see the client's paths anyway. It then ships the accepted files (or, for a submission
that cannot be taken in, the reason) in a :class:`Job`. The worker writes the files to a fresh folder,
grades that folder in a sandbox slot of its own and sends the result back as JSON; only the client
writes result files.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from grader.engine.grading import GradeOptions, _raw_sha256, grade, grade_rejected
from grader.engine.intake import IntakeLimits, SubmissionError, take_in
from grader.engine.packs import Assignment
from grader.sandbox import Sandbox, select_sandbox, zygote
from grader.sandbox.uids import lease_uid_slot


class Job(BaseModel):
    """A submission taken in by the client: its files, or why it could not be taken in."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    student_id: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    files: dict[str, bytes] = Field(default_factory=dict, description="Relative posix path -> content.")
    rejection: str | None = None


class JobSettings(BaseModel):
    """How every job of a batch is graded."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: A built-in pack id or a pack folder; None: the only pack installed.
    assignment: str | None = None
    sandbox: str = "auto"
    #: CIFAR-10 on the grading host; None lets the worker use its own BACKPROP_GRADER_DATA_DIR.
    data_dir: Path | None = None
    #: The grading secret, loaded once by the batch client so every host derives the same inputs;
    #: empty lets the grading host use its own (``grader.engine.secret``).
    secret: SecretStr = SecretStr("")
    #: Whether each grading process will grade enough submissions (``WARM_FROM``) to warm its zygote.
    warm_workers: bool = False


#: Submissions per batch worker from which its bwrap zygote imports torch for all their workers: the
#: warm-up costs about 4 s of CPU and saves about 2 s per later submission, so a small class skips it.
WARM_FROM = 4


class JobOutcome(BaseModel):
    """A graded job: the result file's text and where it was graded."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    student_id: str
    result_json: str
    host: str
    pid: int
    slot: int
    seconds: float
    worker: str = Field(default="", description="Dask worker address, when graded on a Dask worker.")


def prepare(student_id: str, source: Path, assignment: Assignment, limits: IntakeLimits | None = None) -> Job:
    """Take ``source`` in (never running any of it) and pack what a worker needs to grade it."""
    limits = limits or IntakeLimits()
    work = Path(tempfile.mkdtemp(prefix="backprop-grader-intake-"))
    try:
        try:
            submission = take_in(Path(source), work, limits, allowed=assignment.allows)
        except SubmissionError as exc:
            return Job(student_id=student_id, sha256=_raw_sha256(Path(source)), rejection=str(exc))
        # take_in wrote these files itself (regular files, no links), so reading them back is safe.
        files = {rel: (submission.root / rel).read_bytes() for rel in submission.files}
        return Job(student_id=student_id, sha256=submission.sha256, files=files)
    finally:
        shutil.rmtree(work, ignore_errors=True)


# pytest (the rubric) keeps global state, so one process grades one submission at a time even if a
# Dask worker was started with several threads; extra threads simply wait here.
_ONE_AT_A_TIME = threading.Lock()
_SANDBOXES: dict[str, Sandbox] = {}


def _sandbox(name: str) -> Sandbox:
    # One backend object per process: probing (and, for docker, connecting) once is enough.
    if name not in _SANDBOXES:
        _SANDBOXES[name] = select_sandbox(name)
    return _SANDBOXES[name]


def run_job(job: Job, settings: JobSettings) -> JobOutcome:
    """Grade one job in this process (the function Dask workers and the serial executor run).

    Raises :class:`grader.sandbox.SandboxUnavailable` when the requested sandbox cannot run on this host,
    and :class:`grader.batch.slots.NoFreeSlot` when every slot is in use; anything a submission does ends up
    in the result instead.
    """
    if settings.warm_workers:
        # Its zygote imports torch once for all the workers of this process's submissions, in the
        # background while the first one is graded.
        zygote.keep_warm()
    with _ONE_AT_A_TIME, lease_uid_slot() as slot:
        start = time.monotonic()
        options = GradeOptions(
            assignment=settings.assignment,
            sandbox=_sandbox(settings.sandbox),
            data_dir=settings.data_dir,
            slot=slot,
            secret=settings.secret.get_secret_value() or None,
        )
        if job.rejection is not None:
            result = grade_rejected(job.rejection, job.sha256, options)
        else:
            folder = Path(tempfile.mkdtemp(prefix="backprop-grader-job-"))
            try:
                _write_files(folder, job.files)
                result = grade(folder, options)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
        return JobOutcome(
            student_id=job.student_id,
            result_json=result.to_json(),
            host=socket.gethostname(),
            pid=os.getpid(),
            slot=slot,
            seconds=round(time.monotonic() - start, 3),
            worker=_dask_worker_address(),
        )


def _write_files(folder: Path, files: dict[str, bytes]) -> None:
    """Recreate the accepted files below ``folder`` (a fresh folder of ours)."""
    folder.chmod(0o755)
    for rel, content in files.items():
        parts = PurePosixPath(rel).parts
        # The client produced these names through take_in; refuse anything else rather than trust the wire.
        if not parts or PurePosixPath(rel).is_absolute() or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"job holds an unsafe path {rel!r}")
        target = folder.joinpath(*parts)
        target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)


def _dask_worker_address() -> str:
    try:
        from distributed import get_worker
    except ImportError:
        return ""
    try:
        return str(get_worker().address)
    except ValueError:  # not running inside a Dask worker
        return ""
