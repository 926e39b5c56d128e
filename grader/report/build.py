"""Write every report file for a folder of results."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from grader.report.collect import ClassResults, load_class
from grader.report.feedback import render_feedback
from grader.report.gradebook import render_gradebook
from grader.report.html import render_html
from grader.results import write_atomic

GRADEBOOK = "gradebook.csv"
HTML = "report.html"
FEEDBACK = "feedback"


@dataclasses.dataclass(frozen=True)
class ReportFiles:
    """Where the report was written, and what it was made from."""

    gradebook: Path
    html: Path
    feedback: list[Path]
    data: ClassResults


def write_report(results_dir: Path, out: Path, data: ClassResults | None = None) -> ReportFiles:
    """Read ``results_dir`` (unless ``data`` was read already) and write the gradebook, the HTML report
    and the feedback files to ``out``."""
    data = data if data is not None else load_class(results_dir)
    (out / FEEDBACK).mkdir(parents=True, exist_ok=True)
    gradebook = out / GRADEBOOK
    write_atomic(gradebook, render_gradebook(data.results))
    page = out / HTML
    write_atomic(page, render_html(data))
    feedback = []
    for student_id, result in sorted(data.results.items()):
        path = out / FEEDBACK / f"{student_id}.md"
        write_atomic(path, render_feedback(student_id, result))
        feedback.append(path)
    return ReportFiles(gradebook=gradebook, html=page, feedback=feedback, data=data)
