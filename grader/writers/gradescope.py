"""Gradescope's autograder ``results.json``.

Spec: https://gradescope-autograders.readthedocs.io/en/latest/specs/ . Only the documented keys are
written. Test names are the human titles; the stable check id is the first tag (and in ``extra_data``),
so it survives title changes. All text is declared ``text`` so Gradescope never renders student output
as HTML, Markdown or ANSI.
"""

from __future__ import annotations

import json
from typing import Any

from grader.results import GradeResult
from grader.writers._text import feedback

# Gradescope itself keeps "after_due_date" tests out of students' sight until the due date, so only
# "hidden" checks need their feedback removed here.
HIDE = ("hidden",)


def render(result: GradeResult) -> str:
    """Gradescope ``results.json`` text for `result` (statuses mapped to "passed"/"failed")."""
    tests: list[dict[str, Any]] = []
    for check in result.tests:
        tests.append(
            {
                "name": check.title or check.name,
                "score": check.score,
                "max_score": check.max_score,
                # Gradescope knows only passed/failed; error and skipped say what happened in the output.
                "status": "passed" if check.status == "passed" else "failed",
                "output": feedback(check),
                "output_format": "text",
                "tags": list(dict.fromkeys([check.name, *check.tags])),
                "visibility": check.visibility,
                "extra_data": {"id": check.name, "status": check.status, "execution_time": check.duration_s},
            }
        )
    top = "\n\n".join(part for part in (result.message, result.output) if part)
    data = {
        "score": result.score,
        "execution_time": round(result.duration_s),
        "output": top,
        "output_format": "text",
        "test_output_format": "text",
        "test_name_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "extra_data": {
            "assignment": result.assignment,
            "assignment_version": result.assignment_version,
            "grader_version": result.grader_version,
            "status": result.status,
            "max_score": result.max_score,
        },
        "tests": tests,
    }
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
