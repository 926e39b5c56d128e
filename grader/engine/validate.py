"""``grade pack check``: is a pack ready for a term? The checks an instructor needs before students submit.

1. The pack loads: ``assignment.toml`` and its ``[settings]`` validate, every check has points, no
   unknown marker, every module imports (a broken pack fails here with one line).
2. The reference reproduces the handout's own published numbers (the pack's ``check_reference``).
3. The reference packed as a submission (the pack's ``write_example``) gets every point (checks
   skipped for want of a data set are listed, not failed).
4. The untouched handout gets 0 points and no check ends in ``error``.
5. Each mistake the pack declares (``MISTAKES``: edits of the example's source) loses points on the
   check that covers it, and that check's diagnosis names it.
6. The example graded twice gives identical results (scores, statuses, feedback).
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from grader.engine.grading import GradeOptions, grade
from grader.engine.packs import Assignment, AssignmentError, load_assignment
from grader.results import GradeResult
from grader.sandbox import Sandbox


@dataclasses.dataclass(frozen=True)
class Mistake:
    """A student mistake a pack declares: edits of its example's source and what must follow.

    ``edits`` are ``(file, old, new)`` replacements (``old`` must occur exactly once); ``check`` is the
    name of the check that must lose points; ``diagnosis`` a regular expression its diagnosis must match.
    """

    name: str
    edits: tuple[tuple[str, str, str], ...]
    check: str
    diagnosis: str


@dataclasses.dataclass(frozen=True)
class Finding:
    """One line of the validation table."""

    step: str
    ok: bool
    detail: str


def check_pack(
    name: str | Path,
    sandbox: Sandbox,
    data_dir: Path | None = None,
    on_finding: Callable[[Finding], None] | None = None,
) -> list[Finding]:
    """Validate the pack ``name`` (id or folder) and return every finding, failed or not."""
    findings: list[Finding] = []

    def record(step: str, ok: bool, detail: str) -> None:
        finding = Finding(step, ok, detail)
        findings.append(finding)
        if on_finding is not None:
            on_finding(finding)

    try:
        assignment = load_assignment(name)
    except AssignmentError as exc:
        record("pack loads", False, str(exc))
        return findings
    record("pack loads", True, f"{assignment.id} {assignment.version}: {assignment.title}")
    options = GradeOptions(assignment=_name_of(assignment), sandbox=sandbox, data_dir=data_dir)

    reference_check = assignment.hook("check_reference")
    if reference_check is None:
        record("reference", False, "the pack has no check_reference() in its __init__")
    else:
        try:
            reference_check()
            record("reference", True, "reproduces the handout's published numbers")
        except Exception as exc:  # noqa: BLE001 - any failure of the pack's reference is the finding
            record("reference", False, f"{type(exc).__name__}: {exc}")

    write_example = assignment.hook("write_example")
    if write_example is None:
        record("example gets every point", False, "the pack has no write_example() in its __init__")
        return findings
    try:
        first = _grade_example(write_example, (), options)
    except AssignmentError as exc:
        record("checks load", False, str(exc))
        return findings
    record("checks load", True, f"{len(first.tests)} checks, {first.max_score:g} points")
    record(*_full_marks(first))
    record(*_same_results(first, _grade_example(write_example, (), options)))
    record(*_handout_scores_zero(assignment, options))
    for mistake in getattr(assignment.module, "MISTAKES", ()):
        record(*_mistake_is_caught(mistake, write_example, options))
    return findings


def _name_of(assignment: Assignment) -> str:
    return assignment.id if assignment.builtin else str(assignment.folder)


def _grade_example(
    write_example: Callable[[Path], Path], edits: Sequence[tuple[str, str, str]], options: GradeOptions
) -> GradeResult:
    with tempfile.TemporaryDirectory(prefix="backprop-grader-pack-check-") as scratch:
        folder = Path(scratch) / "submission"
        folder.mkdir()
        write_example(folder)
        for file_name, old, new in edits:
            path = folder / file_name
            source = path.read_text(encoding="utf-8")
            if source.count(old) != 1:
                raise AssignmentError(f"mistake edit {old!r} must occur exactly once in the example's {file_name}")
            path.write_text(source.replace(old, new), encoding="utf-8")
        result = grade(folder, options)
    if result.status == "error":
        raise AssignmentError(result.message)
    return result


def _full_marks(result: GradeResult) -> tuple[str, bool, str]:
    lost = [t for t in result.tests if t.status != "skipped" and (t.status != "passed" or t.score < t.max_score)]
    skipped = [t.name for t in result.tests if t.status == "skipped"]
    possible = sum(t.max_score for t in result.tests if t.status != "skipped")
    detail = f"{result.score:g} of {possible:g} points that could run"
    if skipped:
        detail += f"; skipped: {', '.join(skipped)}"
    if lost:
        detail += "; lost on " + ", ".join(f"{t.name} ({t.status}: {_first(t.output)})" for t in lost)
    return "example gets every point", not lost, detail


def _same_results(first: GradeResult, second: GradeResult) -> tuple[str, bool, str]:
    differences = [
        a.name
        for a, b in zip(first.tests, second.tests, strict=False)
        if (a.name, a.score, a.status, a.output, a.diagnosis) != (b.name, b.score, b.status, b.output, b.diagnosis)
    ]
    if len(first.tests) != len(second.tests):
        differences.append("(number of checks)")
    detail = "identical" if not differences else "differ on " + ", ".join(differences)
    return "graded twice, same results", not differences, detail


def _handout_scores_zero(assignment: Assignment, options: GradeOptions) -> tuple[str, bool, str]:
    step = "untouched handout gets 0"
    if assignment.handout is None:
        return step, False, "the pack has no handout folder"
    result = grade(assignment.handout, options)
    errors = [t.name for t in result.tests if t.status == "error"]
    ok = result.status == "graded" and result.score == 0 and not errors
    detail = f"{result.score:g} points, status {result.status}"
    if errors:
        detail += "; error on " + ", ".join(f"{t.name} ({_first(t.output)})" for t in result.tests if t.name in errors)
    scored = [f"{t.name} {t.score:g}" for t in result.tests if t.score > 0]
    if scored:
        detail += "; points on " + ", ".join(scored)
    return step, ok, detail


def _mistake_is_caught(
    mistake: Mistake, write_example: Callable[[Path], Path], options: GradeOptions
) -> tuple[str, bool, str]:
    step = f"mistake {mistake.name}"
    try:
        result = _grade_example(write_example, mistake.edits, options)
    except AssignmentError as exc:
        return step, False, str(exc)
    check = next((t for t in result.tests if t.name == mistake.check), None)
    if check is None:
        return step, False, f"no check named {mistake.check}"
    lost = check.score < check.max_score
    named = bool(re.search(mistake.diagnosis, check.diagnosis or "", re.I))
    detail = f"{mistake.check}: {check.score:g}/{check.max_score:g}, diagnosis: {check.diagnosis or 'none'}"
    return step, lost and named, detail


def _first(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[0][:120] if lines else ""


def failed(findings: Sequence[Finding]) -> Iterator[Finding]:
    """The findings that fail the pack."""
    return (f for f in findings if not f.ok)
