"""Gradescope's autograder ``results.json``.

Spec: https://gradescope-autograders.readthedocs.io/en/latest/specs/ . Only the documented keys are
written. Test names are the human titles; the stable check id is the first tag (and in ``extra_data``),
so it survives title changes. All text is declared ``text`` so Gradescope never renders student output
as HTML, Markdown or ANSI.
"""

from __future__ import annotations

import json
import re
from typing import Any

from grader.results import CheckResult, GradeResult
from grader.writers._text import feedback

# Gradescope itself keeps "after_due_date" and "after_published" tests out of students' sight until
# then, so only "hidden" checks need their feedback removed here (unless the caller keeps it: on
# Gradescope, staff see hidden tests in full and students never do).
HIDE = ("hidden",)

#: Decimals kept in scores: sums of partial credit otherwise print as 2.4999999999999996.
SCORE_DECIMALS = 4
#: A number in feedback printed with at least LONG_DECIMALS decimals (a float's full repr, or worse)
#: is shortened to SIGNIFICANT digits, enough for every published constant (1.30378789133).
LONG_DECIMALS = 15
SIGNIFICANT = 12
_LONG_NUMBER = re.compile(rf"(?<![\w.])-?\d+\.\d{{{LONG_DECIMALS},}}(?:[eE][-+]?\d+)?")
#: "validation accuracy 51.2% on 1000 images": what the accuracy checks report, for the leaderboard.
_ACCURACY = re.compile(r"validation accuracy (\d+(?:\.\d+)?)%")
#: A hint to the grader's own command line (", pass --data-dir ..."), meaningless on Gradescope.
_CLI_HINT = re.compile(r"[:;,]\s*(?:pass|use|set|run)\s+(?:--|[A-Z][A-Z_]{5,}).*$")


def humane_numbers(text: str) -> str:
    """Shorten numbers printed with too many digits (1.30378789133000000000012 -> 1.30378789133)."""
    return _LONG_NUMBER.sub(lambda m: f"{float(m.group(0)):.{SIGNIFICANT}g}", text)


def _output(check: CheckResult) -> str:
    if check.status == "skipped":
        reason = _CLI_HINT.sub("", check.output or "").strip()
        return "Not run" + (f": {reason}" if reason else ".")
    return humane_numbers(feedback(check))


def leaderboard(result: GradeResult) -> list[dict[str, Any]]:
    """Gradescope leaderboard entries: the validation accuracy each accuracy check measured."""
    entries = []
    for check in result.tests:
        found = _ACCURACY.search(check.output or "") if "training" in check.tags else None
        if found:
            entries.append({"name": check.title or check.name, "value": float(found.group(1)), "order": "desc"})
    return entries


def render(result: GradeResult) -> str:
    """Gradescope ``results.json`` text for `result` (statuses mapped to "passed"/"failed")."""
    tests: list[dict[str, Any]] = []
    for check in result.tests:
        test: dict[str, Any] = {
            "name": check.title or check.name,
            "score": round(check.score, SCORE_DECIMALS),
            "max_score": round(check.max_score, SCORE_DECIMALS),
            "output": _output(check),
            "output_format": "text",
            "tags": list(dict.fromkeys([check.name, *check.tags])),
            "visibility": check.visibility,
            "extra_data": {"id": check.name, "status": check.status, "execution_time": check.duration_s},
        }
        # Gradescope knows only passed/failed. A check that did not run is neither: without a status
        # Gradescope goes by its points, and the output says why it did not run.
        if check.status != "skipped":
            test["status"] = "passed" if check.status == "passed" else "failed"
        tests.append(test)
    top = "\n\n".join(part for part in (result.message, result.output) if part)
    data = {
        "score": round(result.score, SCORE_DECIMALS),
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
    board = leaderboard(result)
    if board:
        data["leaderboard"] = board
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
