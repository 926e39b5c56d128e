"""Turn a `GradeResult` into the formats the grader can write.

``render(result, fmt, include_hidden=...)`` is the single entry point. `include_hidden` decides whether
checks that are not visible to students keep their feedback:

- ``json`` (the instructor's record) keeps everything by default;
- ``gradescope``, ``junit`` and ``markdown`` are read by students and hide it by default: the feedback of
  such a check becomes "Hidden check.", its diagnosis and duration are dropped; title, points and status
  stay. Gradescope enforces "after_due_date" itself, so there only "hidden" checks are redacted;
  the other formats have no due date and redact "after_due_date" checks too.

Every call re-validates the result first, so a result edited into an invalid state (NaN, wrong totals)
raises ValueError instead of being written.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from grader.results import GradeResult

FORMATS = ("json", "gradescope", "junit", "markdown")

#: Format -> its writer module, imported when first used (the command line lists FORMATS cheaply).
_WRITERS = {
    "json": "grader.writers.json_writer",
    "gradescope": "grader.writers.gradescope",
    "junit": "grader.writers.junit",
    "markdown": "grader.writers.markdown",
}
INCLUDE_HIDDEN_DEFAULT = {"json": True, "gradescope": False, "junit": False, "markdown": False}
SUFFIXES = {"json": ".json", "gradescope": ".json", "junit": ".xml", "markdown": ".md"}


def render(result: GradeResult, fmt: str, *, include_hidden: bool | None = None) -> str:
    """Render `result` as `fmt` (one of FORMATS).

    `include_hidden=None` takes the format's default (True for json, False for the others); pass True
    only for output that students never see.
    """
    try:
        writer = importlib.import_module(_WRITERS[fmt])
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}") from None
    if include_hidden is None:
        include_hidden = INCLUDE_HIDDEN_DEFAULT[fmt]
    view = result.validated() if include_hidden else result.student_view(hide=writer.HIDE)
    return writer.render(view)


__all__ = ["FORMATS", "INCLUDE_HIDDEN_DEFAULT", "SUFFIXES", "render"]
