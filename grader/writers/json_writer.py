"""The grader's own JSON: the full `GradeResult`, the instructor's record of a grading run."""

from __future__ import annotations

from grader.results import GradeResult

# With include_hidden=False the same format becomes a student copy: nothing hidden is revealed.
HIDE = ("hidden", "after_due_date", "after_published")


def render(result: GradeResult) -> str:
    """Pretty JSON (2-space indent) that `grader.results.load_result` reads back; never contains NaN."""
    return result.to_json()
