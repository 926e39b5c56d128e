"""A calm terminal summary of one grading result.

One row per check (title, points, status, first line of feedback), then the total and the top message.
Plain text unless colour is asked for. Student text is already sanitised by the model; it is cleaned
again here (a model edited in place skips validation) and workflow-command markers are broken, because
this summary is also what a CI job log shows.
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
from typing import TextIO

import click

from grader.results import GradeResult, clean_text
from grader.writers._text import feedback, first_line, format_points, neutralise_workflow_commands, shorten

STATUS_COLOURS = {"passed": "green", "failed": "red", "error": "yellow", "skipped": "bright_black"}
_TITLE_MAX = 40
_GAP = "  "
#: https://no-color.org: when set to anything but the empty string, no colour whatever the terminal.
NO_COLOR_ENV = "NO_COLOR"
#: Where ``--no-color`` leaves its mark, in the root context's ``meta`` (shared by every subcommand).
NO_COLOR_META = "grader.no_color"


def wants_color(stream: TextIO | None = None) -> bool:
    """Whether to colour what goes to `stream` (stdout): a terminal, unless NO_COLOR or ``--no-color``."""
    if os.environ.get(NO_COLOR_ENV):
        return False
    context = click.get_current_context(silent=True)
    if context is not None and context.find_root().meta.get(NO_COLOR_META):
        return False
    stream = stream if stream is not None else sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)())


def warning(text: str) -> None:
    """A loud warning on stderr: yellow and bold on a colour terminal, plain otherwise."""
    click.secho(f"WARNING: {text}", err=True, fg="yellow", bold=True, color=wants_color(sys.stderr))


def _cell(text: str) -> str:
    return clean_text(text, one_line=True)


def format_summary(
    result: GradeResult, *, width: int | None = None, show_hidden: bool = False, color: bool = False
) -> str:
    """Return the summary table for `result` as text, fitted to `width` columns.

    `width` defaults to the terminal width (`shutil.get_terminal_size`). Checks that students may not
    see ("hidden", "after_due_date", "after_published") show "Hidden check." unless `show_hidden`. With `color`, status
    words are coloured with ANSI codes (only for a terminal; the default is plain text).
    """
    if width is None:
        width = shutil.get_terminal_size().columns
    width = max(width, 40)
    view = result.validated() if show_hidden else result.student_view()

    rejected = view.status == "rejected"
    rows = []
    for check in view.tests:
        rows.append(
            (
                _cell(check.title or check.name),
                f"{format_points(check.score)}/{format_points(check.max_score)}",
                check.status,
                # A rejected submission has one reason for every check: said once, under the total.
                "" if rejected else _cell(first_line(feedback(check))),
            )
        )
    title_w = min(max([len("Check"), *(len(r[0]) for r in rows)]), _TITLE_MAX)
    points_w = max([len("Points"), *(len(r[1]) for r in rows)])
    status_w = max(len("Status"), *(len(s) for s in STATUS_COLOURS))
    feedback_w = width - title_w - points_w - status_w - 3 * len(_GAP)

    def line(title: str, points: str, status: str, note: str, styled_status: str | None = None) -> list[str]:
        padded_status = status.ljust(status_w)
        if styled_status is not None:
            padded_status = styled_status + " " * (status_w - len(status))
        # A long title wraps onto continuation lines in its own column rather than being cut.
        title_lines = textwrap.wrap(title, title_w, subsequent_indent="  ", break_on_hyphens=False) or [""]
        parts = [title_lines[0].ljust(title_w), points.rjust(points_w), padded_status]
        if feedback_w >= 8 and note:
            parts.append(shorten(note, feedback_w))
        return [_GAP.join(parts).rstrip()] + title_lines[1:]

    out = line("Check", "Points", "Status", "Feedback" if feedback_w >= 8 else "")
    out.append("-" * (width if feedback_w >= 8 else len(out[0])))
    for title, points, status, note in rows:
        styled = click.style(status, fg=STATUS_COLOURS[status]) if color else None
        out += line(title, points, status, note, styled)
    if not rejected:
        out += _details(view, width)
    out.append("")
    total = f"Total: {format_points(view.score)} / {format_points(view.max_score)} points"
    if view.status != "graded":
        total += f" ({view.status})"
    out.append(click.style(total, bold=True) if color else total)
    if view.message:
        message = _cell(view.message)
        if rejected:  # the one place the reason is given: in full
            out += textwrap.wrap(f"Not graded: {message}", width, subsequent_indent="  ")
        else:
            out.append(shorten(message, width))
    if not view.isolated:
        out.append(f"Note: graded with the '{_cell(view.sandbox)}' sandbox, which is not isolated.")
    return neutralise_workflow_commands("\n".join(out)) + "\n"


def _details(view: GradeResult, width: int) -> list[str]:
    """The table cuts feedback to one short cell; under it, the full first lines of what lost points."""
    lost = [c for c in view.tests if c.status in ("failed", "error") and c.score < c.max_score]
    if not lost:
        return []
    out = ["", "What lost points:"]
    for check in lost:
        out.append(f"  {shorten(_cell(check.title or check.name), width - 2)}")
        lines = []
        if check.diagnosis:
            lines.append(f"Likely mistake: {_cell(check.diagnosis)}")
        message = first_line(check.output)
        if message:
            lines.append(_cell(message))
        for text in lines:
            out += textwrap.wrap(text, width - 4, initial_indent="    ", subsequent_indent="      ") or []
    return out


def print_summary(result: GradeResult, *, file: TextIO | None = None, show_hidden: bool = False) -> None:
    """Print `format_summary(result)` to `file` (stdout), in colour only when :func:`wants_color`."""
    stream = file if file is not None else sys.stdout
    color = wants_color(stream)
    click.echo(format_summary(result, show_hidden=show_hidden, color=color), file=stream, nl=False)
