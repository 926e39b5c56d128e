"""Gradebooks and feedback in the forms learning-management systems import without editing.

Written from the results and the students recorded by ``grade batch`` from an LMS download
(:mod:`grader.batch.lms`), so each row carries the id that system knows the student by:

- **Canvas** gradebook CSV (Grades > Import): the columns ``Student, ID, SIS User ID, SIS Login ID,
  Section`` then one assignment column, and under the header the ``Points Possible`` row (the first
  cell is ``    Points Possible``, as in Canvas's own export). Canvas matches rows by ``ID`` (the user id).
- **Moodle** grading worksheet (Assignment > Upload grading worksheet): ``Identifier`` (``Participant
  <id>``), ``Full name``, ``Email address``, ``Status``, ``Grade``, ``Maximum Grade``, ``Grade can be
  changed``, ``Last modified (submission)``, ``Last modified (grade)``, ``Feedback comments``.
- a **plain CSV** for anything else: ``student_id, name, score, max_score, status``.
- **feedback files** for bulk upload, one zip per system: Moodle's "Upload multiple feedback files in
  a zip" (``<Full Name>_<id>_assignsubmission_file_feedback.md``, the download's own naming) and
  Canvas's "Re-upload submissions" (``<name>_<user id>_<attachment id>_feedback.md``), which Canvas
  attaches to each student's submission as a comment.

CSV is RFC 4180 (comma, double quotes, CRLF), UTF-8; a text cell a spreadsheet would run as a formula
gets a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence

from grader.batch.lms import LmsStudent, StudentsFile
from grader.report.feedback import render_feedback
from grader.report.gradebook import number_cell, text_cell
from grader.results import GradeResult

CANVAS_GRADEBOOK = "gradebook-canvas.csv"
MOODLE_WORKSHEET = "grading-worksheet-moodle.csv"
PLAIN_GRADES = "grades.csv"
FEEDBACK_ZIP = "feedback-{lms}.zip"

CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
CANVAS_POINTS_ROW = "    Points Possible"
MOODLE_COLUMNS = (
    "Identifier",
    "Full name",
    "Email address",
    "Status",
    "Grade",
    "Maximum Grade",
    "Grade can be changed",
    "Last modified (submission)",
    "Last modified (grade)",
    "Feedback comments",
)
#: Fixed timestamp for zip entries, so the same feedback gives the same zip.
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)


def _csv(rows: Sequence[Sequence[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(rows)
    return buffer.getvalue()


def _max_score(results: dict[str, GradeResult]) -> float:
    return max((r.max_score for r in results.values()), default=0.0)


def _graded(students: StudentsFile, results: dict[str, GradeResult]) -> list[tuple[LmsStudent, GradeResult]]:
    return [(s, results[s.student_id]) for s in students.students if s.student_id in results]


def canvas_gradebook(students: StudentsFile, results: dict[str, GradeResult], assignment: str) -> str:
    """Canvas's gradebook import CSV, with the points-possible row."""
    rows = [[*CANVAS_COLUMNS, text_cell(assignment)]]
    rows.append([CANVAS_POINTS_ROW, "", "", "", "", number_cell(_max_score(results))])
    for student, result in _graded(students, results):
        rows.append([text_cell(student.name), text_cell(student.student_id), "", "", "", number_cell(result.score)])
    return _csv(rows)


def moodle_worksheet(students: StudentsFile, results: dict[str, GradeResult]) -> str:
    """Moodle's offline grading worksheet, with the grader's summary line as the feedback comment."""
    rows = [list(MOODLE_COLUMNS)]
    for student, result in _graded(students, results):
        rows.append(
            [
                f"Participant {student.student_id}",
                text_cell(student.name),
                text_cell(student.email),
                "",
                f"{result.score:.2f}",
                f"{result.max_score:.2f}",
                "Yes",
                "",
                "",
                text_cell(f"{result.status}: {result.message}" if result.message else result.status),
            ]
        )
    return _csv(rows)


def plain_grades(results: dict[str, GradeResult], students: StudentsFile | None = None) -> str:
    """``student_id, name, score, max_score, status``: one row per result, in id order."""
    names = {s.student_id: s.name for s in students.students} if students else {}
    rows = [["student_id", "name", "score", "max_score", "status"]]
    for student_id, result in sorted(results.items()):
        rows.append(
            [
                text_cell(student_id),
                text_cell(names.get(student_id, "")),
                number_cell(result.score),
                number_cell(result.max_score),
                result.status,
            ]
        )
    return _csv(rows)


def feedback_name(lms: str, student: LmsStudent) -> str | None:
    """The name a bulk upload of ``lms`` matches ``student``'s feedback file by, or None."""
    if lms in ("canvas", "moodle") and student.handle:
        return f"{student.handle}feedback.md"
    return None


def feedback_zip(students: StudentsFile, results: dict[str, GradeResult]) -> bytes | None:
    """The feedback files in the layout ``students.lms`` bulk-uploads, as one zip (None: no such upload)."""
    buffer = io.BytesIO()
    written = 0
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for student, result in _graded(students, results):
            name = feedback_name(students.lms, student)
            if name is None:
                continue
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, render_feedback(student.student_id, result))
            written += 1
    return buffer.getvalue() if written else None
