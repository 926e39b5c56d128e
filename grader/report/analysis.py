"""What a class report says, computed once from the results so every output agrees."""

from __future__ import annotations

import dataclasses
import math
import re
import statistics
from collections import Counter

from grader.report.collect import ClassResults
from grader.results import GradeResult
from grader.writers._text import first_line

# rpc.WorkerSession's wording for a call that ran out of time.
_TIMEOUT = re.compile(r"did not finish within|timed out", re.IGNORECASE)
HISTOGRAM_BINS = 10
SLOWEST = 10


@dataclasses.dataclass(frozen=True)
class CheckColumn:
    """One rubric check as a gradebook column."""

    name: str
    title: str
    max_score: float
    label: str  # unique column header


@dataclasses.dataclass(frozen=True)
class CheckStats:
    """How the class did on one check."""

    column: CheckColumn
    passed: int
    failed: int  # failed or error, partial credit included
    skipped: int
    #: Of ``failed``: how many earned some but not all points (partial credit is not a zero).
    partial: int = 0
    #: Mean points over the results that ran the check (None when none ran it).
    mean_points: float | None = None

    @property
    def attempted(self) -> int:
        """Results in which the check ran (skipped ones say nothing about the students)."""
        return self.passed + self.failed

    @property
    def pass_rate(self) -> float | None:
        """Share of the results that ran the check and passed it, or None if none ran it."""
        return self.passed / self.attempted if self.attempted else None


@dataclasses.dataclass(frozen=True)
class Problem:
    """A submission whose grading did not go normally."""

    student_id: str
    kind: str  # "failed to grade", "rejected", "grader error", "timed out", "check error"
    detail: str  # for check problems, the first affected check and its message
    checks: int = 0  # how many checks this kind of problem hit (0: the whole submission)


@dataclasses.dataclass(frozen=True)
class Distribution:
    """Totals of the class, and a histogram of ``HISTOGRAM_BINS`` equal bins from 0 to the maximum."""

    count: int
    max_score: float
    mean: float | None
    median: float | None
    minimum: float | None
    maximum: float | None
    bin_edges: list[float]
    bin_counts: list[int]


def check_columns(results: list[GradeResult]) -> list[CheckColumn]:
    """Every check in any result, in rubric order (first seen), with a unique header each."""
    seen: dict[str, tuple[str, float]] = {}
    for result in results:
        for check in result.tests:
            seen.setdefault(check.name, (check.title or check.name, check.max_score))
    titles = Counter(title for title, _ in seen.values())
    columns = []
    for name, (title, max_score) in seen.items():
        # Two checks with one title would be two identical headers; the stable name tells them apart.
        label = title if titles[title] == 1 else f"{title} ({name})"
        columns.append(CheckColumn(name=name, title=title, max_score=max_score, label=label))
    return columns


def distribution(results: list[GradeResult]) -> Distribution:
    """Score statistics and histogram; bins are closed on the left, the last also on the right."""
    scores = [r.score for r in results]
    top = max((r.max_score for r in results), default=0.0) or 1.0
    width = top / HISTOGRAM_BINS
    edges = [round(width * i, 6) for i in range(HISTOGRAM_BINS + 1)]
    counts = [0] * HISTOGRAM_BINS
    for score in scores:
        index = min(int(math.floor(score / width + 1e-9)), HISTOGRAM_BINS - 1)
        counts[max(index, 0)] += 1
    return Distribution(
        count=len(scores),
        max_score=top,
        mean=statistics.fmean(scores) if scores else None,
        median=statistics.median(scores) if scores else None,
        minimum=min(scores, default=None),
        maximum=max(scores, default=None),
        bin_edges=edges,
        bin_counts=counts,
    )


def check_stats(results: list[GradeResult]) -> list[CheckStats]:
    """Pass, fail and skip counts of every check."""
    stats = []
    for column in check_columns(results):
        checks = [c for r in results for c in r.tests if c.name == column.name]
        statuses = [c.status for c in checks]
        ran = [c.score for c in checks if c.status != "skipped"]
        stats.append(
            CheckStats(
                column=column,
                passed=statuses.count("passed"),
                failed=statuses.count("failed") + statuses.count("error"),
                skipped=statuses.count("skipped"),
                partial=sum(c.status in ("failed", "error") and 0 < c.score < c.max_score for c in checks),
                mean_points=statistics.fmean(ran) if ran else None,
            )
        )
    return stats


@dataclasses.dataclass(frozen=True)
class Mistake:
    """A recognised mistake: in which checks it showed, and which students made it."""

    diagnosis: str
    checks: list[str]
    students: list[str]


def common_mistakes(results: dict[str, GradeResult]) -> list[Mistake]:
    """Each diagnosed mistake once, with every student who made it (in any check), most students first."""
    who: dict[str, set[str]] = {}
    where: dict[str, list[str]] = {}
    for student_id, result in results.items():
        for check in result.tests:
            if check.diagnosis and check.status != "passed":
                who.setdefault(check.diagnosis, set()).add(student_id)
                titles = where.setdefault(check.diagnosis, [])
                if (check.title or check.name) not in titles:
                    titles.append(check.title or check.name)
    found = [Mistake(d, where[d], sorted(students)) for d, students in who.items()]
    return sorted(found, key=lambda m: (-len(m.students), m.diagnosis))


def problems(data: ClassResults) -> list[Problem]:
    """Submissions that failed to grade, were rejected, hit a grader error, timed out or crashed a check."""
    found = []
    if data.summary is not None:
        for item in data.summary.by_outcome("failed"):
            found.append(Problem(item.student_id, "failed to grade", item.reason))
    for student_id, result in data.results.items():
        if result.status == "rejected":
            found.append(Problem(student_id, "rejected", result.message))
            continue  # every check errors with the same reason; one line says it
        if result.status == "error":
            found.append(Problem(student_id, "grader error", result.message))
        # One row per kind of problem: a submission that hangs on import times out in every check.
        by_kind: dict[str, list[str]] = {}
        for check in result.tests:
            if check.status == "error":
                kind = "timed out" if _TIMEOUT.search(check.output) else "check error"
                by_kind.setdefault(kind, []).append(f"{check.title or check.name}: {first_line(check.output)}")
        for kind, details in by_kind.items():
            found.append(Problem(student_id, kind, details[0], checks=len(details)))
    return found


def slowest(data: ClassResults, n: int = SLOWEST) -> list[tuple[str, GradeResult]]:
    """The ``n`` submissions that took longest to grade."""
    ranked = sorted(data.results.items(), key=lambda kv: (-kv[1].duration_s, kv[0]))
    return ranked[:n]
