"""Grade one submission end to end: take it in, run the rubric in a sandbox, build the result.

Whatever the submission does, :func:`grade` returns a valid :class:`GradeResult`: a submission that
cannot be taken in is *rejected* with every check at 0 and the reason; a failure of the grading
machinery itself becomes status ``error`` with a one-line message. Only an unavailable sandbox that
was asked for explicitly (:class:`SandboxUnavailable`) and a grading secret that cannot be read or
created (:class:`grader.engine.secret.SecretError`) raise, because those are the caller's setup to
fix, not the student's grade.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import os
import platform
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pydantic

from grader import __version__
from grader.engine.frozen import recorded_seed
from grader.engine.intake import IntakeLimits, SubmissionError, take_in
from grader.engine.packs import Assignment, resolve_assignment
from grader.engine.rubric import GradingContext, run_rubric
from grader.engine.secret import SECRET_BYTES, SecretError, fingerprint, load_secret
from grader.results import CheckResult, GradeResult
from grader.sandbox import Sandbox, select_sandbox
from grader.sandbox.uids import lease_uid_slot

DATA_ENV = "BACKPROP_GRADER_DATA_DIR"


@dataclasses.dataclass
class GradeOptions:
    """How to grade: which assignment, sandbox, data and limits."""

    #: A built-in pack id or a pack folder; None: the only pack installed.
    assignment: str | None = None
    sandbox: str | Sandbox = "auto"
    data_dir: Path | None = None
    intake_limits: IntakeLimits = dataclasses.field(default_factory=IntakeLimits)
    #: Sandbox slot (selects the uid a root grader runs student code as). None: lease a free one from
    #: the host-wide allocator for this grading, with the uid's kernel state purged before and after
    #: (``grader.sandbox.uids``). A caller that passes a slot must hold it exclusively itself.
    slot: int | None = None
    #: Called with each check's result as soon as it is known (progress display).
    on_check: Callable[[CheckResult], None] | None = None
    #: Run only the checks students may see (the self-check); hidden checks are neither run nor listed.
    visible_only: bool = False
    #: The grading secret the checks' inputs are derived from; None: ``grader.engine.secret.load_secret()``.
    secret: str | None = None
    #: A public seed for the checks' inputs instead of the secret (``hidden_seed``, ``input_seed``): only for a
    #: self-check (``visible_only``); None there means the seed a student bundle recorded, if the pack has one.
    public_seed: int | None = None


def library_versions() -> dict[str, str]:
    versions = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pydantic": pydantic.VERSION,
        "platform": platform.platform(terse=True),
    }
    # The installed distribution's version: importing torch only to ask would cost seconds where the
    # rubric did not need it (a rejected submission), and a pack may still be importing it in a thread.
    try:
        versions["torch"] = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        pass
    return versions


def _raw_sha256(source: Path) -> str:
    """Digest of a submission that could not be taken in (its archive bytes, or nothing)."""
    digest = hashlib.sha256()
    if source.is_file() and not source.is_symlink():
        with open(source, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def grade(source: Path, options: GradeOptions | None = None) -> GradeResult:
    """Grade the submission at ``source`` (zip, folder or git checkout)."""
    options = options or GradeOptions()

    def intake(work: Path, assignment: Assignment) -> _Intake:
        (work / "in").mkdir(mode=0o755)
        try:
            submission = take_in(Path(source), work / "in", options.intake_limits, allowed=assignment.allows)
        except SubmissionError as exc:
            return work, (), _raw_sha256(Path(source)), str(exc)
        return submission.root, tuple(submission.files), submission.sha256, None

    return _grade(options, intake)


def grade_rejected(reason: str, sha256: str, options: GradeOptions | None = None) -> GradeResult:
    """The *rejected* result for a submission the caller already failed to take in.

    A batch client takes each submission in itself (it needs the content hash before grading) and ships
    only the outcome to a worker that may not see the original path; this gives the worker the same
    result :func:`grade` would have produced from the source. No student code runs.
    """
    return _grade(options or GradeOptions(), lambda work, assignment: (work, (), sha256, reason))


#: (folder holding the accepted files, their relative paths, content sha256, rejection reason or None)
_Intake = tuple[Path, tuple[str, ...], str, str | None]


def _grade(options: GradeOptions, intake: Callable[[Path, Assignment], _Intake]) -> GradeResult:
    if options.slot is not None or os.geteuid() != 0:
        return _grade_in_slot(options, intake, options.slot or 0)
    with lease_uid_slot() as slot:
        return _grade_in_slot(options, intake, slot)


def _grade_in_slot(options: GradeOptions, intake: Callable[[Path, Assignment], _Intake], slot: int) -> GradeResult:
    started_at = datetime.now(timezone.utc)
    start = time.monotonic()
    assignment = resolve_assignment(options.assignment)
    sandbox = options.sandbox if isinstance(options.sandbox, Sandbox) else select_sandbox(options.sandbox)
    data_dir = options.data_dir or (Path(os.environ[DATA_ENV]) if os.environ.get(DATA_ENV) else None)
    secret = options.secret or _secret(options.visible_only)
    public_seed = _public_seed(options, assignment)
    timings: dict[str, float] = {}
    work = Path(tempfile.mkdtemp(prefix="backprop-grader-"))
    try:
        work.chmod(0o755)
        root, files, sha, rejection = intake(work, assignment)
        timings["intake"] = round(time.monotonic() - start, 4)
        if rejection is None:
            sandbox.prepare()  # overlaps with pytest setting up; a rejected submission starts no worker
        context = GradingContext(
            assignment=assignment,
            submission_dir=root,
            submission_files=tuple(files),
            submission_sha256=sha,
            sandbox=sandbox,
            data_dir=data_dir,
            secret=secret,
            slot=slot,
            rejection=rejection,
            on_check=options.on_check,
            visible_only=options.visible_only,
            public_seed=public_seed,
        )
        rubric_start = time.monotonic()
        try:
            tests, stats = run_rubric(context)
            missing = [name for name in assignment.files.required if name not in files]
            status, message = ("rejected", rejection) if rejection else ("graded", _summary_message(tests, missing))
            if stats.get("grader_failures") and not rejection:
                # Not the submission's doing: the result says the grading failed, so it is graded again.
                failures = stats["grader_failures"]
                status = "error"
                message = f"the grading machine failed in {len(failures)} check(s), grade again: {failures[0]}"
        except Exception as exc:  # noqa: BLE001 - the grader must always produce a result
            tests, stats = [], {}
            status, message = "error", f"grading failed: {type(exc).__name__}: {exc}"
        timings["rubric"] = round(time.monotonic() - rubric_start, 4)
        timings["worker_starts"] = float(stats.get("worker_starts", 0))
        return _build(assignment, sandbox, sha, tests, status, message, started_at, start, timings, fingerprint(secret))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _public_seed(options: GradeOptions, assignment: Assignment) -> int | None:
    """The public seed of a self-check: the one asked for, else the one a student bundle's pack recorded.

    An official grading (not ``visible_only``) always derives its inputs from the secret.
    """
    if not options.visible_only:
        if options.public_seed is not None:
            raise ValueError("a public seed is only for a self-check (visible_only): a grade uses the secret")
        return None
    if options.public_seed is not None:
        return options.public_seed
    return recorded_seed(assignment.folder)


def _secret(visible_only: bool) -> str:
    """The grading secret; a self-check (visible checks only) may do with a throwaway one when the
    secret file cannot be created (a read-only home in a student's CI)."""
    try:
        return load_secret()
    except SecretError:
        if not visible_only:
            raise
        return secrets.token_hex(SECRET_BYTES)


def _summary_message(tests: list[CheckResult], missing: list[str]) -> str:
    passed = sum(t.status == "passed" for t in tests)
    skipped = sum(t.status == "skipped" for t in tests)
    text = f"{passed} of {len(tests)} checks passed" + (f", {skipped} skipped" if skipped else "")
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        text = f"{' and '.join(missing)} {verb} missing from the submission; {text}"
    return text


def _build(
    assignment: Assignment,
    sandbox: Sandbox,
    sha: str,
    tests: list[CheckResult],
    status: str,
    message: str,
    started_at: datetime,
    start: float,
    timings: dict[str, float],
    secret_fingerprint: str,
) -> GradeResult:
    return GradeResult.build(
        assignment=assignment.id,
        assignment_version=assignment.version,
        grader_version=__version__,
        submission_sha256=sha,
        sandbox=sandbox.name,
        isolated=sandbox.isolated,
        tests=tests,
        status=status,
        message=message,
        started_at=started_at,
        duration_s=round(time.monotonic() - start, 4),
        timings=timings,
        versions=library_versions(),
        secret_fingerprint=secret_fingerprint,
    )
