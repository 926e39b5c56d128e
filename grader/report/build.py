"""Write every report file for a folder of results."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from grader.batch.lms import read_students
from grader.report import lms
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
    #: The plain grades CSV and, after an LMS download, that system's gradebook and feedback zip.
    lms: list[Path] = dataclasses.field(default_factory=list)


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
    return ReportFiles(
        gradebook=gradebook, html=page, feedback=feedback, data=data, lms=_write_lms(results_dir, out, data)
    )


def _write_lms(results_dir: Path, out: Path, data: ClassResults) -> list[Path]:
    """The plain grades CSV, and the gradebook and feedback zip of the LMS the class was read from."""
    students = read_students(results_dir)
    written = [out / lms.PLAIN_GRADES]
    write_atomic(written[0], lms.plain_grades(data.results, students))
    if students is None:
        return written
    assignment = next(iter(data.results.values())).assignment
    if students.lms == "canvas":
        written.append(out / lms.CANVAS_GRADEBOOK)
        write_atomic(written[-1], lms.canvas_gradebook(students, data.results, assignment))
    if students.lms == "moodle":
        written.append(out / lms.MOODLE_WORKSHEET)
        write_atomic(written[-1], lms.moodle_worksheet(students, data.results))
    archive = lms.feedback_zip(students, data.results)
    if archive is not None:
        written.append(out / lms.FEEDBACK_ZIP.format(lms=students.lms))
        written[-1].write_bytes(archive)
    return written
