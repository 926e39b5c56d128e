"""One Markdown feedback file per student: their checks, points and feedback.

It is the student's view (:meth:`grader.results.GradeResult.student_view` through the Markdown
writer): hidden checks show their title and points only, never inputs, output or diagnosis.
"""

from __future__ import annotations

from grader.results import GradeResult
from grader.writers import render
from grader.writers.markdown import escape_inline


def render_feedback(student_id: str, result: GradeResult) -> str:
    """The feedback file for ``student_id``."""
    return f"# Feedback for {escape_inline(student_id)}\n\n" + render(result, "markdown", include_hidden=False)
