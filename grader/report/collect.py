"""Read a folder of result files: ``<student_id>.json`` each, plus the optional batch summary."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from grader.batch.roster import ID_PATTERN
from grader.batch.run import SUMMARY_NAME, BatchSummary
from grader.batch.similarity import Fingerprints, read_fingerprints
from grader.results import GradeResult, load_result


@dataclasses.dataclass
class ClassResults:
    """Every result of a class, by student id (sorted), and what could not be read."""

    results: dict[str, GradeResult]
    #: (file name, one-line reason) for files that look like results but do not load.
    unreadable: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    #: The last batch run's record, for submissions that failed to grade (they have no result file).
    summary: BatchSummary | None = None
    #: Code fingerprints written by ``grade batch``, for near-identical submissions (None: not there).
    fingerprints: Fingerprints | None = None


def load_class(folder: Path) -> ClassResults:
    """Load every ``<student_id>.json`` in ``folder`` (not its sub-folders).

    Files whose name is not a student id (the batch summary, editor backups, hidden files) are not
    results and are passed over; a result file that fails validation is listed in ``unreadable``.
    """
    results: dict[str, GradeResult] = {}
    unreadable: list[tuple[str, str]] = []
    for path in sorted(folder.glob("*.json"), key=lambda p: p.name):
        student_id = path.name[: -len(".json")]
        if not re.match(ID_PATTERN, student_id):
            continue
        try:
            results[student_id] = load_result(path)
        except ValueError as exc:
            unreadable.append((path.name, str(exc).removeprefix(f"{path}: ")))
    summary = None
    summary_path = folder / SUMMARY_NAME
    if summary_path.is_file():
        try:
            summary = BatchSummary.model_validate_json(summary_path.read_bytes())
        except (ValueError, OSError) as exc:
            unreadable.append((SUMMARY_NAME, str(exc).splitlines()[0]))
    return ClassResults(results=results, unreadable=unreadable, summary=summary, fingerprints=read_fingerprints(folder))
