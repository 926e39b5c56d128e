"""Grade a class: one result file per student, resumable after any interruption.

The output folder is the batch's only state. ``DIR/<student_id>.json`` is a complete result, written
atomically (:func:`grader.results.write_atomic`) by this process and nobody else, so a batch killed at
any moment leaves every result either complete or absent. A rerun takes each submission in again,
and skips it when its result file already holds a grade for the same submission content, assignment
(id and version) and grader version; everything else is graded (again). Results whose status is
``error`` (the grader itself failed, not the student) are always retried.

A submission that cannot be graded at all (its worker died, the sandbox is missing on a worker) is
recorded as *failed* with the reason, gets no result file, and is retried by the next run. Nothing a
submission does stops the batch.

At the end, ``DIR/_batch-summary.json`` (:class:`BatchSummary`) lists what this run did with each
submission. Student ids start with a letter or digit, so the leading ``_`` keeps it apart from results.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from grader import __version__
from grader.batch.executors import Executor
from grader.batch.jobs import Job, JobOutcome, JobSettings, prepare
from grader.batch.progress import Progress
from grader.batch.roster import RosterEntry
from grader.engine.packs import Assignment, resolve_assignment
from grader.engine.secret import fingerprint, load_secret
from grader.results import GradeResult, GradeStatus, OneLine, load_result, write_atomic

SUMMARY_NAME = "_batch-summary.json"
LOCK_NAME = ".batch.lock"

Outcome = Literal["graded", "skipped", "failed"]


class BatchBusy(RuntimeError):
    """Another batch is writing to the same output folder."""


class BatchItem(BaseModel):
    """What one run did with one submission."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    student_id: str
    path: str
    outcome: Outcome
    status: GradeStatus | None = Field(default=None, description="The result's status, when there is a result.")
    score: float | None = None
    max_score: float | None = None
    reason: OneLine = Field(default="", description="Why it failed to grade, or why it was graded again.")
    seconds: float = Field(default=0.0, ge=0, description="Grading time on the worker.")
    graded_by: str = Field(default="", description="host:pid/slot, and the Dask worker address if any.")


class BatchSummary(BaseModel):
    """The record of one ``grade batch`` run."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    schema_version: Literal[1] = 1
    assignment: str
    assignment_version: str
    grader_version: str
    executor: str
    started_at: datetime
    duration_s: float = Field(ge=0)
    interrupted: bool = False
    total: int
    graded: int
    skipped: int
    failed: int
    items: list[BatchItem]

    def by_outcome(self, outcome: Outcome) -> list[BatchItem]:
        """The items with the given outcome, in the order they finished."""
        return [item for item in self.items if item.outcome == outcome]


def result_path(out: Path, student_id: str) -> Path:
    """Where a student's result lives in the output folder."""
    return out / f"{student_id}.json"


def is_current(result: GradeResult, job: Job, assignment: Assignment, secret_fingerprint: str = "") -> str | None:
    """None when ``result`` is a grade of this exact submission by this grader under this grading
    secret (its fingerprint); otherwise why not."""
    if result.status == "error":
        return "the last grading failed"
    if result.submission_sha256 != job.sha256:
        return "the submission changed"
    if (result.assignment, result.assignment_version) != (assignment.id, assignment.version):
        return f"assignment {result.assignment} {result.assignment_version} -> {assignment.id} {assignment.version}"
    if result.grader_version != __version__:
        return f"grader {result.grader_version} -> {__version__}"
    if secret_fingerprint and result.secret_fingerprint != secret_fingerprint:
        # The checks' inputs derive from the secret: a result under another (or no recorded) secret
        # was graded on other inputs.
        return "the grading secret changed"
    return None


@contextlib.contextmanager
def _exclusive(out: Path) -> Iterator[None]:
    """Hold the output folder for this run; the kernel drops the lock if the process is killed."""
    fd = os.open(out / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BatchBusy(f"another grade batch is writing to {out}") from None
        yield
    finally:
        os.close(fd)


def _remove_stale_temporaries(out: Path) -> None:
    # write_atomic's temporary files (".NAME.XXXX.tmp") survive only if a run was killed mid-write.
    for leftover in out.glob(".*.tmp"):
        with contextlib.suppress(OSError):
            if leftover.is_file() and not leftover.is_symlink():
                leftover.unlink()


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _on_interrupt(stop: threading.Event) -> Callable[[], None]:
    """Record Ctrl-C in ``stop`` before raising it, because the rubric (pytest) swallows the
    KeyboardInterrupt and returns early. Returns what puts the previous handler back."""

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # signals reach the main thread only; nothing to install
    previous = signal.signal(signal.SIGINT, handler)
    return lambda: signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)


def run_batch(
    entries: Iterable[RosterEntry],
    out: Path,
    settings: JobSettings,
    executor: Executor,
    progress: Progress,
    *,
    force: bool = False,
) -> BatchSummary:
    """Grade every entry not already graded in ``out``, writing results as they arrive."""
    entries = list(entries)
    started_at = datetime.now(timezone.utc)
    start = time.monotonic()
    assignment = resolve_assignment(settings.assignment)
    if not settings.secret.get_secret_value():
        settings = settings.model_copy(update={"secret": SecretStr(load_secret())})
    secret_fingerprint = fingerprint(settings.secret.get_secret_value())
    out.mkdir(parents=True, exist_ok=True)
    items: list[BatchItem] = []
    interrupted = False
    with _exclusive(out):
        _remove_stale_temporaries(out)
        paths = {e.student_id: str(e.path) for e in entries}
        in_flight: dict[str, str] = {}  # student id -> why it is graded (again)
        pending = iter(entries)
        progress.start()
        stop = threading.Event()
        restore_sigint = _on_interrupt(stop)
        try:
            while True:
                while len(in_flight) < executor.capacity():
                    entry = next(pending, None)
                    if entry is None:
                        break
                    item, job, reason = _plan(entry, out, assignment, force, secret_fingerprint)
                    if job is None:
                        items.append(item)
                        progress.advance(entry.student_id, _describe(item), worked=False)
                        continue
                    executor.submit(job, settings)
                    in_flight[entry.student_id] = reason
                if not in_flight:
                    break
                student_id, outcome = executor.next_done()
                if stop.is_set():
                    # The grading overlapped the interrupt; pytest turns Ctrl-C into an early end of
                    # the rubric, so this result may lack checks. Never write it as a grade.
                    raise KeyboardInterrupt
                reason = in_flight.pop(student_id)
                item = _record(student_id, paths[student_id], outcome, out, reason)
                items.append(item)
                progress.advance(student_id, _describe(item), worked=True)
        except KeyboardInterrupt:
            interrupted = True
            progress.note("interrupted: results written so far are kept; run the same command again to resume")
        finally:
            restore_sigint()
            progress.finish()
        summary = BatchSummary(
            assignment=assignment.id,
            assignment_version=assignment.version,
            grader_version=__version__,
            executor=executor.description,
            started_at=started_at,
            duration_s=round(time.monotonic() - start, 3),
            interrupted=interrupted,
            total=len(entries),
            graded=sum(i.outcome == "graded" for i in items),
            skipped=sum(i.outcome == "skipped" for i in items),
            failed=sum(i.outcome == "failed" for i in items),
            items=items,
        )
        write_atomic(out / SUMMARY_NAME, summary.model_dump_json(indent=2) + "\n")
    return summary


def _plan(
    entry: RosterEntry, out: Path, assignment: Assignment, force: bool, secret_fingerprint: str = ""
) -> tuple[BatchItem, Job | None, str]:
    """Take the submission in and decide: skip it, grade it (and why), or record that it failed."""
    base = BatchItem(student_id=entry.student_id, path=str(entry.path), outcome="skipped")
    target = result_path(out, entry.student_id)
    existing, unreadable = None, ""
    if os.path.lexists(target):
        try:
            existing = load_result(target)
        except ValueError as exc:
            unreadable = str(exc)
    if existing is not None and existing.status == "graded" and not os.path.lexists(entry.path):
        # More likely an unmounted share or a typo in the roster than a withdrawn submission: never
        # replace a grade with a rejection for "file not found", even with --force.
        reason = "the submission is not there any more; the earlier result is kept"
        return base.model_copy(update={"outcome": "failed", "reason": reason}), None, ""
    try:
        job = prepare(entry.student_id, entry.path, assignment)
    except Exception as exc:  # noqa: BLE001 - e.g. an I/O error while reading; the rest of the class goes on
        return base.model_copy(update={"outcome": "failed", "reason": _one_line(exc)}), None, ""
    if not os.path.lexists(target):
        return base, job, ""
    if force:
        return base, job, "forced"
    if existing is None:
        return base, job, f"unreadable earlier result ({unreadable})"
    why = is_current(existing, job, assignment, secret_fingerprint)
    if why is not None:
        return base, job, why
    skipped = base.model_copy(
        update={"status": existing.status, "score": existing.score, "max_score": existing.max_score}
    )
    return skipped, None, ""


def _record(student_id: str, path: str, outcome: JobOutcome | BaseException, out: Path, reason: str) -> BatchItem:
    """Write the result of a finished job, or record why there is none."""
    item = BatchItem(student_id=student_id, path=path, outcome="failed", reason=reason)
    if isinstance(outcome, BaseException):
        return item.model_copy(update={"reason": _one_line(outcome)})
    try:
        result = GradeResult.model_validate_json(outcome.result_json)
        write_atomic(result_path(out, student_id), result.to_json())
    except (ValueError, OSError) as exc:
        return item.model_copy(update={"reason": f"cannot write the result: {_one_line(exc)}"})
    where = f"{outcome.host}:{outcome.pid}/slot {outcome.slot}" + (f" ({outcome.worker})" if outcome.worker else "")
    return item.model_copy(
        update={
            "outcome": "graded",
            "status": result.status,
            "score": result.score,
            "max_score": result.max_score,
            "seconds": outcome.seconds,
            "graded_by": where,
        }
    )


def _describe(item: BatchItem) -> str:
    if item.outcome == "failed":
        return f"FAILED to grade: {item.reason}"
    points = f"{item.score:g}/{item.max_score:g}" if item.score is not None and item.max_score is not None else ""
    if item.outcome == "skipped":
        return f"{points} already graded, skipped"
    status = "" if item.status == "graded" else f" ({item.status})"
    again = f", regraded: {item.reason}" if item.reason else ""
    return f"{points}{status} in {item.seconds:.1f} s{again}"


def format_summary(summary: BatchSummary) -> str:
    """The end-of-batch report: counts, then every submission that failed to grade and why."""
    statuses = [i.status for i in summary.by_outcome("graded")]
    detail = ", ".join(f"{statuses.count(s)} {s}" for s in ("rejected", "error") if statuses.count(s))
    lines = [
        f"{summary.total} submissions: {summary.graded} graded"
        + (f" ({detail})" if detail else "")
        + f", {summary.failed} failed to grade, {summary.skipped} skipped (already graded)"
        + f" in {summary.duration_s:.1f} s"
    ]
    if summary.interrupted:
        lines.append("Interrupted before the end: run the same command again to grade the rest.")
    for item in summary.by_outcome("failed"):
        lines.append(f"  failed: {item.student_id}: {item.reason}")
    return "\n".join(lines)
