"""JUnit XML for CI test-report tools (GitHub/GitLab reporters, Jenkins), valid against the common
JUnit schema (Jenkins xunit's ``junit-10.xsd``).

Structure: ``testsuites > testsuite > (properties, testcase*, system-out)``. The schema allows no
properties and no ``file``/``line`` attributes on a ``testcase`` and no ``skipped`` count on
``testsuites``, so:

- per-check points are suite properties ``points.<check id>`` = ``"1.5/6"``, and each testcase says
  its points in its own ``system-out`` (both places the schema allows);
- a failure with a location in the student's code (``(two_layernet.py, line 89, in loss)``) gets that
  file as its ``classname`` and a first line ``two_layernet.py:89`` in the failure text, the
  ``file:line`` form report tools turn into an annotation on the student's code; other checks keep
  ``<assignment>.<rubric module>``.

The element tree is built with ElementTree, which escapes markup; characters XML 1.0 forbids are
removed from every string first, since ElementTree would write them and make the document unparsable
(SECURITY-NOTES G3).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timezone

from grader.results import CheckResult, GradeResult
from grader.writers._text import feedback, first_line, format_points, shorten, strip_xml_invalid

HIDE = ("hidden", "after_due_date", "after_published")

_CHILD = {"failed": "failure", "error": "error", "skipped": "skipped"}


def _seconds(value: float) -> str:
    return f"{value:.3f}"


def _element(parent: ET.Element | None, tag: str, text: str = "", **attrs: str) -> ET.Element:
    clean = {key: strip_xml_invalid(value) for key, value in attrs.items()}
    node = ET.Element(tag, clean) if parent is None else ET.SubElement(parent, tag, clean)
    if text:
        node.text = strip_xml_invalid(text)
    return node


def _properties(parent: ET.Element, **values: str) -> None:
    node = _element(parent, "properties")
    for name, value in values.items():
        _element(node, "property", name=name, value=value)


#: Where the worker reports a student exception: "(two_layernet.py, line 89, in loss)".
_LOCATION = re.compile(r"\(([A-Za-z0-9_][A-Za-z0-9_./-]*\.py), line (\d+)(?:, in [^)]*)?\)")


def location(check: CheckResult) -> tuple[str, int] | None:
    """(student file, line) of the last location the check's feedback names, or None."""
    found = _LOCATION.findall(check.output or "")
    if not found or check.status not in ("failed", "error"):
        return None
    path, line = found[-1]
    return path, int(line)


def _classname(assignment: str, check: CheckResult) -> str:
    where = location(check)
    if where is not None:
        return where[0]  # the student's file, so report tools annotate it
    # "test_loss.py::test_toy_loss" -> "hlcv-ex2.test_loss": tools group cases by classname.
    module = check.name.split("::", 1)[0].removesuffix(".py").replace("/", ".")
    return f"{assignment}.{module}" if "::" in check.name else assignment


def _points(check: CheckResult) -> str:
    return f"{format_points(check.score)}/{format_points(check.max_score)}"


def render(result: GradeResult) -> str:
    """A complete JUnit XML document (with declaration) for `result`."""
    counts = {status: sum(t.status == status for t in result.tests) for status in _CHILD}
    totals = {
        "tests": str(len(result.tests)),
        "failures": str(counts["failed"]),
        "errors": str(counts["error"]),
        "skipped": str(counts["skipped"]),
        "time": _seconds(result.duration_s),
    }
    # The schema has no skipped count on testsuites (only on each testsuite).
    root = _element(None, "testsuites", name=result.assignment, **{k: v for k, v in totals.items() if k != "skipped"})
    started = result.started_at
    if started.tzinfo is not None:
        started = started.astimezone(timezone.utc).replace(tzinfo=None)
    suite = _element(
        root, "testsuite", name=result.assignment, timestamp=started.strftime("%Y-%m-%dT%H:%M:%S"), **totals
    )
    _properties(
        suite,
        score=repr(result.score),
        max_score=repr(result.max_score),
        status=result.status,
        assignment_version=result.assignment_version,
        grader_version=result.grader_version,
        sandbox=result.sandbox,
        **{f"points.{check.name}": _points(check) for check in result.tests},
    )
    for check in result.tests:
        case = _element(
            suite,
            "testcase",
            classname=_classname(result.assignment, check),
            name=check.title or check.name,
            time=_seconds(check.duration_s),
        )
        tag = _CHILD.get(check.status)
        if tag is not None:
            text = feedback(check)
            message = shorten(first_line(text), 200) or check.status
            where = location(check)
            if where is not None:
                text = f"{where[0]}:{where[1]}\n{text}"
            _element(case, tag, text if tag != "skipped" else "", message=message)
        _element(case, "system-out", f"points: {format_points(check.score)} / {format_points(check.max_score)}")
    log = "\n\n".join(part for part in (result.message, result.output) if part)
    if log:
        _element(suite, "system-out", log)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
