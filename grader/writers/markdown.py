"""Markdown for a CI step summary (``$GITHUB_STEP_SUMMARY``) or any Markdown viewer.

Student-controlled text is made inert: ``&``, ``<``, ``>`` become entities (no HTML, no closing our
``<details>``), Markdown punctuation is backslash-escaped in table cells (no pipes splitting columns, no
links or images), and workflow-command markers (a line starting with ``::``, or ``##[``) are broken
with an HTML entity that renders the same, so the text cannot act as a GitHub workflow command if the
summary is also printed to a job log (SECURITY-NOTES G3). A leading space would not do: the runner
trims it before looking for ``::``.
"""

from __future__ import annotations

import html
import re

from grader.results import HIDDEN_OUTPUT, GradeResult
from grader.writers._text import feedback, first_line, format_points, neutralise_workflow_commands, shorten

HIDE = ("hidden", "after_due_date", "after_published")

# Enough to keep a cell one cell of plain text: no column break, code span, emphasis, link or image.
_INLINE_SPECIAL = re.compile(r"([\\`*_\[\]|~!])")


def escape_inline(text: str) -> str:
    """Escape one line of untrusted text for a Markdown table cell or heading."""
    text = " ".join(text.split())
    text = _INLINE_SPECIAL.sub(r"\\\1", text)
    return html.escape(text, quote=False)


def escape_block(text: str) -> str:
    """Escape multi-line untrusted text for a ``<pre>`` block (no Markdown is parsed inside it)."""
    return html.escape(text, quote=False)


def render(result: GradeResult) -> str:
    """A Markdown summary: total, one table row per check, then details of failed and errored checks."""
    lines = [
        f"## {escape_inline(result.assignment)}: "
        f"{format_points(result.score)} / {format_points(result.max_score)} points",
        "",
    ]
    if result.message:
        lines += [escape_inline(result.message), ""]
    if result.status != "graded":
        lines += [f"Status: **{result.status}**", ""]
    lines += ["| Check | Points | Status | Feedback |", "|---|---:|---|---|"]
    for check in result.tests:
        cells = [
            escape_inline(check.title or check.name),
            f"{format_points(check.score)} / {format_points(check.max_score)}",
            check.status,
            escape_inline(shorten(first_line(feedback(check)), 160)),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    # A redacted check has nothing more to say than its table row.
    problems = [t for t in result.tests if t.status in ("failed", "error") and t.output != HIDDEN_OUTPUT]
    for check in problems:
        summary = (
            f"{escape_inline(check.title or check.name)}: {check.status} "
            f"({format_points(check.score)} / {format_points(check.max_score)})"
        )
        lines += [
            "<details>",
            f"<summary>{summary}</summary>",
            "",
            f"<pre>{escape_block(feedback(check))}</pre>",
            "",
            "</details>",
            "",
        ]
    if result.output:
        lines += ["<details>", "<summary>Log</summary>", "", f"<pre>{escape_block(result.output)}</pre>"]
        lines += ["", "</details>", ""]
    return neutralise_workflow_commands("\n".join(lines), html=True) + "\n"
