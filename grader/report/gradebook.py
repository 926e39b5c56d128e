"""The CSV gradebook: ``student_id,total,<one column per check>``, one row per result.

Plain RFC 4180 CSV (comma, double quotes, CRLF line ends, UTF-8 without a byte-order mark) with plain
decimal numbers, which Moodle, Canvas and spreadsheets import. A check a result does not have is left
empty. A cell that a spreadsheet would run as a formula (starting with ``= + - @``, tab or carriage
return) gets a leading apostrophe; student ids cannot start that way, but titles come from rubrics.
"""

from __future__ import annotations

import csv
import io

from grader.report.analysis import check_columns
from grader.results import GradeResult

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def text_cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def number_cell(value: float) -> str:
    # Up to six decimals without exponent or trailing zeros: "90", "2.5", "0.333333".
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def render_gradebook(results: dict[str, GradeResult]) -> str:
    """The gradebook CSV for ``results`` (student id -> result), rows in student id order."""
    ordered = sorted(results.items())
    columns = check_columns([r for _, r in ordered])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["student_id", "total", *(text_cell(c.label) for c in columns)])
    for student_id, result in ordered:
        scores = {check.name: check.score for check in result.tests}
        cells = [number_cell(scores[c.name]) if c.name in scores else "" for c in columns]
        writer.writerow([text_cell(student_id), number_cell(result.score), *cells])
    return buffer.getvalue()
