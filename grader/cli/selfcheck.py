"""``grade check [FOLDER]``: a student's self-check of a working copy, with the visible checks only.

It takes the assignment's own files from FOLDER (so a ``.venv``, data sets, notebooks or a ``.git`` beside
them never get in the way), runs the checks students may see in a sandbox (``auto``: docker, then bwrap,
then the ``process`` backend with its warning, which is what a laptop without Docker or bubblewrap gets)
and prints what passes, what fails and why, and what still raises ``NotImplementedError``. Hidden checks
are neither run nor named. The verdict is advisory (SECURITY-NOTES A13): the instructor's grading is the
one that counts.

Exit status: 0 when every check that ran passed; 1 when one failed, is not implemented yet, errored, or the
files would be refused; 2 for a usage error (no assignment file in FOLDER); 3 when the sandbox asked for
cannot run here.
"""

from __future__ import annotations

import ast
import dataclasses
import os
import re
import shutil
import stat
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import click

from grader.cli.console import wants_color, warning
from grader.cli.exits import ExitCode
from grader.cli.options import assignment_option, checked_data_dir, data_dir_option, no_color_option, sandbox_option
from grader.cli.outfile import check_writable
from grader.engine.intake import IntakeLimits
from grader.engine.packs import Assignment, AssignmentError, infer_assignment, resolve_assignment
from grader.engine.rubric import NOT_IMPLEMENTED
from grader.results import CheckResult, GradeResult, clean_text, write_atomic
from grader.sandbox import Sandbox, SandboxUnavailable, select_sandbox
from grader.writers import render
from grader.writers._text import feedback, first_line, neutralise_workflow_commands

#: Lines of feedback shown per failing check; the rest is counted (the JSON from ``--out`` has it all).
FEEDBACK_LINES = 12

# "not implemented yet (NotImplementedError: TODO: predict (two_layernet.py, line 186, in predict))"
_NOT_IMPLEMENTED = re.compile(
    re.escape(NOT_IMPLEMENTED) + r" \(NotImplementedError(?:: (?P<message>.*?))?"
    r"(?: \((?P<file>[^(),]+), line (?P<line>\d+)(?:, in [^()]+)?\))?\)$"
)


@dataclasses.dataclass(frozen=True)
class Todo:
    """A ``raise NotImplementedError("TODO ...")`` still in a submission file."""

    file: str
    line: int
    message: str


@dataclasses.dataclass
class SelfCheck:
    """What ``grade check`` found: the visible checks' result plus what it noticed about the files."""

    result: GradeResult
    files: list[str]
    missing: list[str]
    todos: list[Todo]
    problems: list[str]

    @property
    def passed(self) -> list[CheckResult]:
        """Checks that passed."""
        return [t for t in self.result.tests if t.status == "passed"]

    @property
    def not_implemented(self) -> list[CheckResult]:
        """Checks stopped by a ``NotImplementedError`` from the submission."""
        return [t for t in self.result.tests if t.status == "failed" and t.output.startswith(NOT_IMPLEMENTED)]

    @property
    def failing(self) -> list[CheckResult]:
        """Checks that failed or errored for any other reason."""
        todo = {t.name for t in self.not_implemented}
        return [t for t in self.result.tests if t.status in ("failed", "error") and t.name not in todo]

    @property
    def not_run(self) -> list[CheckResult]:
        """Checks skipped here, with the reason (for example accuracy checks without a data set)."""
        return [t for t in self.result.tests if t.status == "skipped"]

    @property
    def all_passed(self) -> bool:
        """Every check that ran passed, and nothing would make the grader refuse the files."""
        ran = [t for t in self.result.tests if t.status != "skipped"]
        return self.result.status == "graded" and bool(ran) and all(t.status == "passed" for t in ran)


def find_todos(folder: Path, names: list[str]) -> list[Todo]:
    """Every ``raise NotImplementedError(...)`` whose message starts with "TODO" in the ``.py`` files ``names``.

    The handout marks each block to fill in that way; a student's own ``raise NotImplementedError`` for an
    unsupported option is not a TODO and is left out. Files are parsed, never imported or run.
    """
    todos = []
    for name in names:
        if not name.endswith(".py"):
            continue
        try:
            tree = ast.parse((folder / name).read_bytes(), filename=name)
        except (SyntaxError, ValueError, RecursionError, MemoryError, OSError):
            continue  # the checks report a file that does not parse, with the line
        for node in ast.walk(tree):
            if not isinstance(node, ast.Raise) or node.exc is None:
                continue
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if not (isinstance(exc, ast.Name) and exc.id == "NotImplementedError"):
                continue
            args = node.exc.args if isinstance(node.exc, ast.Call) else []
            message = args[0].value if args and isinstance(args[0], ast.Constant) else None
            if isinstance(message, str) and message.lstrip().upper().startswith("TODO"):
                todos.append(Todo(name, node.lineno, clean_text(message, limit=200, one_line=True)))
    return sorted(todos, key=lambda t: (names.index(t.file), t.line))


def _copy_assignment_files(
    folder: Path, dest: Path, assignment: Assignment, limits: IntakeLimits
) -> tuple[list[str], list[str], list[str]]:
    """Copy the assignment's files found at the top of ``folder`` into ``dest``.

    Returns (copied names, required names not found, problems). Links and non-regular files are not
    followed: the grader refuses them, so the self-check says so instead of checking something else.
    """
    copied, missing, problems = [], [], []
    for name in [*assignment.files.required, *assignment.files.optional]:
        path = folder / name
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            if name in assignment.files.required:
                missing.append(name)
            continue
        except OSError as exc:
            problems.append(f"{name} cannot be read ({exc.strerror})")
            continue
        if stat.S_ISLNK(info.st_mode):
            problems.append(f"{name} is a symbolic link; the grader refuses links, so submit the file itself")
        elif not stat.S_ISREG(info.st_mode):
            problems.append(f"{name} is not a regular file")
        elif info.st_size > limits.max_file_bytes:
            problems.append(
                f"{name} is {info.st_size / 2**20:.1f} MiB, more than the {limits.max_file_bytes / 2**20:g} MiB "
                "the grader takes for one file; it would refuse the submission"
            )
        else:
            try:
                shutil.copyfile(path, dest / name, follow_symlinks=False)
            except OSError as exc:
                problems.append(f"{name} cannot be read ({exc.strerror})")
                continue
            copied.append(name)
    return copied, missing, problems


def run_self_check(
    folder: Path,
    *,
    assignment_id: str | None = None,
    sandbox: str | Sandbox = "auto",
    data_dir: Path | None = None,
) -> SelfCheck:
    """Run the visible checks of ``assignment_id`` on the assignment files in ``folder``.

    Raises :class:`AssignmentError` for an unknown assignment, :class:`FileNotFoundError` when ``folder``
    holds none of the assignment's required files, and :class:`SandboxUnavailable` when ``sandbox`` is
    named explicitly and cannot run here.
    """
    from grader.engine.grading import GradeOptions, grade

    assignment = resolve_assignment(assignment_id)
    limits = IntakeLimits()
    with tempfile.TemporaryDirectory(prefix="backprop-grader-check-") as work:
        copy = Path(work) / "submission"
        copy.mkdir()
        files, missing, problems = _copy_assignment_files(folder, copy, assignment, limits)
        if len(missing) == len(assignment.files.required):
            raise FileNotFoundError(
                f"none of {', '.join(assignment.files.required)} is in {folder}; run 'grade check' in the folder "
                "that holds your files, or pass that folder: grade check path/to/folder"
            )
        todos = find_todos(copy, files)
        # No slot given: the grading leases a sandbox uid of its own (grader.sandbox.uids).
        options = GradeOptions(
            assignment=assignment_id,
            sandbox=sandbox,
            data_dir=data_dir,
            intake_limits=limits,
            visible_only=True,
        )
        result = grade(copy, options)
    return SelfCheck(result=result, files=files, missing=missing, todos=todos, problems=problems)


# --------------------------------------------------------------------------------------------------
# The summary


def _num(value: float) -> str:
    """Points without a needless ".0": 2, 0.5, 0.33."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _points(check: CheckResult) -> str:
    return f"[{_num(check.score)}/{_num(check.max_score)}]"


def _stopped_at(check: CheckResult) -> tuple[str, int] | None:
    """(file, line) of the TODO that stopped a check, when the worker said where."""
    match = _NOT_IMPLEMENTED.match(first_line(check.output))
    return (match["file"], int(match["line"])) if match and match["file"] else None


def _indent(text: str, prefix: str = "      ") -> list[str]:
    lines = text.splitlines() or [""]
    shown = lines[:FEEDBACK_LINES]
    if len(lines) > FEEDBACK_LINES:
        shown.append(f"... ({len(lines) - FEEDBACK_LINES} more lines)")
    return [prefix + line if line.strip() else "" for line in shown]


def _todo_lines(check: SelfCheck) -> list[str]:
    """Each TODO still in the files with the checks it stops, then stopped checks no TODO accounts for."""
    stopped: dict[tuple[str, int], list[CheckResult]] = {}
    unplaced = []
    for t in check.not_implemented:
        where = _stopped_at(t)
        if where is not None and any((todo.file, todo.line) == where for todo in check.todos):
            stopped.setdefault(where, []).append(t)
        else:
            unplaced.append(t)
    lines = []
    for todo in check.todos:
        lines.append(f"  {todo.file}, line {todo.line}: {todo.message}")
        lines += [f"      stops: {t.title}  {_points(t)}" for t in stopped.get((todo.file, todo.line), [])]
    for t in unplaced:
        lines.append(f"  TODO  {t.title}  {_points(t)}")
        lines.append(f"      {first_line(t.output)}")
    return lines


def format_self_check(check: SelfCheck, folder: Path, *, color: bool = False) -> str:
    """The friendly summary ``grade check`` prints (plain text; ``color`` adds ANSI colours)."""
    result = check.result

    def heading(text: str, colour: str) -> str:
        return click.style(text, fg=colour, bold=True) if color else text

    lines = [f"Self-check of {folder} ({result.assignment}, sandbox {result.sandbox})"]
    lines.append("Files checked: " + (", ".join(check.files) if check.files else "none"))
    for name in check.missing:
        lines.append(heading(f"Missing: {name} (the checks that need it score 0)", "red"))
    for problem in check.problems:
        lines.append(heading(f"Problem: {problem}", "red"))
    if result.status != "graded":
        # Every check then carries the same reason; it is said once.
        lines += ["", heading(f"These files would not be graded ({result.status}):", "red"), "  " + result.message]
        return neutralise_workflow_commands("\n".join(lines)) + "\n"

    if check.passed:
        lines += ["", heading(f"Passing ({len(check.passed)})", "green")]
        for t in check.passed:
            lines.append(f"  ok    {t.title}  {_points(t)}")
            if t.diagnosis:
                lines.append(f"      note: {t.diagnosis}")
    if check.failing:
        lines += ["", heading(f"Failing ({len(check.failing)})", "red")]
        for t in check.failing:
            lines.append(f"  {'FAIL ' if t.status == 'failed' else 'ERROR'} {t.title}  {_points(t)}")
            lines += _indent(feedback(t))
    if check.todos or check.not_implemented:
        count = f"{len(check.todos)} TODO{'s' if len(check.todos) != 1 else ''} left"
        lines += ["", heading(f"Not implemented yet ({count}, {len(check.not_implemented)} checks wait)", "yellow")]
        lines += _todo_lines(check)
    if check.not_run:
        lines += ["", heading(f"Not run here ({len(check.not_run)})", "bright_black")]
        for t in check.not_run:
            lines.append(f"  skip  {t.title}  [{_num(t.max_score)} points]")
            lines.append(f"      {first_line(t.output)}")

    ran = [t for t in result.tests if t.status != "skipped"]
    not_run = f"; {len(check.not_run)} not run here ({_num(sum(t.max_score for t in check.not_run))} points)"
    lines += [
        "",
        heading(
            f"Visible checks: {_num(result.score)} / {_num(result.max_score)} points",
            "green" if check.all_passed else "yellow",
        ),
        f"  {len(check.passed)} of {len(ran)} checks that ran pass"
        + (not_run if check.not_run else "")
        + (". Every visible check that ran passes." if check.all_passed else "."),
    ]
    lines += textwrap.wrap(
        "This self-check is advisory and runs only the checks you can see; your grade comes from the "
        "instructor's grader, which also runs checks that are not shown here.",
        width=100,
        initial_indent="  ",
        subsequent_indent="  ",
    )
    lines.append(f"  Took {result.duration_s:.1f} s.")
    # Feedback quotes student output; in a CI log a line starting "::" would be a workflow command.
    return neutralise_workflow_commands("\n".join(lines)) + "\n"


# --------------------------------------------------------------------------------------------------
# The command


@click.command("check")
@no_color_option
@click.argument("folder", required=False, default=".", type=click.Path(exists=True, file_okay=False, path_type=Path))
@assignment_option(optional=True)
@sandbox_option("Isolation backend; 'auto' takes docker, then bwrap, then process (not isolated, with a warning).")
@data_dir_option(
    "Data set folder (e.g. CIFAR-10): the accuracy checks then retrain your networks (minutes). "
    "Env: BACKPROP_GRADER_DATA_DIR. Without it they are not run."
)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Also write the result as JSON.")
def check_command(
    folder: Path, assignment_id: str | None, sandbox: str, data_dir: Path | None, out: Path | None
) -> None:
    """Self-check your work in FOLDER (default: the current folder) with the visible checks.

    Prints what passes, what fails and why, what still raises NotImplementedError, and the points of the
    visible checks. Hidden checks are not run. Exit status 0 when every check that ran passed, else 1.
    """
    folder = folder.resolve()
    # Several packs and none named: the one whose files are in FOLDER, when exactly one fits.
    assignment_id = assignment_id or infer_assignment(folder)
    try:
        assignment = resolve_assignment(assignment_id)
        assignment_id = assignment.id if assignment.builtin else str(assignment.folder)
    except AssignmentError as exc:
        raise click.UsageError(str(exc)) from None
    if out is not None:
        check_writable(out)
    checked_data_dir(assignment_id, data_dir)
    try:
        chosen = select_sandbox(sandbox)
    except SandboxUnavailable as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(ExitCode.SANDBOX_UNAVAILABLE)
    if not chosen.isolated:
        from grader.sandbox.process import WARNING

        warning(WARNING)
    click.echo(f"Checking {folder} with the visible checks of {assignment_id} ...", err=True)
    started = time.monotonic()
    try:
        outcome = run_self_check(folder, assignment_id=assignment_id, sandbox=chosen, data_dir=data_dir)
    except FileNotFoundError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(ExitCode.USAGE)
    if out is not None:
        write_atomic(out, render(outcome.result, "json", include_hidden=False))
    click.echo(format_self_check(outcome, folder, color=wants_color(sys.stdout)), nl=False)
    if out is not None:
        click.echo(f"  Result written to {out} ({time.monotonic() - started:.1f} s in all).")
    sys.exit(0 if outcome.all_passed else ExitCode.BELOW_THRESHOLD)
