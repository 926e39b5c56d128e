"""The ``grade`` command line: ``grade SUBMISSION`` and the subcommands (exit codes in :mod:`.exits`)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from grader import __version__
from grader.cli.exits import EPILOG, ExitCode
from grader.cli.options import assignment_option, checked_data_dir, data_dir_option, no_color_option, sandbox_option
from grader.writers import FORMATS

if TYPE_CHECKING:
    from grader.engine.grading import GradeOptions
    from grader.results import CheckResult, GradeResult
    from grader.sandbox.base import Sandbox

DEFAULT_OUT = {
    "json": "results.json",
    "gradescope": "results.json",
    "junit": "results.xml",
    "markdown": "results.md",
}


#: Raised for a bare ``grade`` by click >= 8.2 (older versions print the help themselves).
_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


#: Subcommands imported only when used (``grade --help`` must not import numpy, docker or pytest):
#: name -> (module, attribute, the one-line help shown in ``grade --help``).
LAZY_COMMANDS = {
    "batch": ("grader.cli.batch", "batch_command", "Grade a class: folders of zips or folders, or a roster."),
    "check": ("grader.cli.selfcheck", "check_command", "Self-check a working copy with the visible checks."),
    "gradescope": ("grader.cli.gradescope", "gradescope_group", "Build the autograder zip Gradescope runs."),
    "image": ("grader.sandbox.image", "image_group", "Build or inspect the Docker sandbox image."),
    "pack": ("grader.cli.pack", "pack_group", "Author and validate assignment packs."),
    "report": ("grader.cli.report", "report_command", "Gradebook, HTML report and feedback for a results folder."),
}


class DefaultCommandGroup(click.Group):
    """``grade PATH`` means ``grade run PATH``: the everyday use needs no subcommand. Subcommands in
    :data:`LAZY_COMMANDS` are imported on first use."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # Group options (``grade --no-color ...``) may come first; the subcommand is the next word.
        lead = 0
        while lead < len(args) and args[lead] == "--no-color":
            lead += 1
        rest = args[lead:]
        known = (*self.commands, *LAZY_COMMANDS, "--help", "-h", "--version")
        if rest and rest[0] not in known:
            args = [*args[:lead], "run", *rest]
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in LAZY_COMMANDS:
            import importlib

            module, attribute, _ = LAZY_COMMANDS[name]
            self.add_command(getattr(importlib.import_module(module), attribute), name)
        return self.commands.get(name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from the lazy table's help lines, without importing the commands."""
        rows = []
        for name in self.list_commands(ctx):
            if name in self.commands:
                rows.append((name, self.commands[name].get_short_help_str(limit=formatter.width - 20)))
            else:
                rows.append((name, LAZY_COMMANDS[name][2]))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Run the command; errors are one line on stderr (click's default adds a usage block)."""
        if kwargs.get("standalone_mode", True) is False:
            return super().main(*args, **kwargs)
        try:
            super().main(*args, standalone_mode=False, **kwargs)
        except _NO_ARGS_IS_HELP as exc:
            click.echo(exc.ctx.get_help() if exc.ctx else exc.format_message(), err=True)
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx else "grade"
            click.echo(f"error: {exc.format_message()} (see '{where} --help')", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("aborted", err=True)
            sys.exit(ExitCode.INTERRUPTED)
        except Exception as exc:
            # A bug of ours, not a bad input: one line by default, the traceback when asked for.
            if os.environ.get("BACKPROP_GRADER_DEBUG") == "1":
                raise
            click.echo(
                f"error: internal error: {type(exc).__name__}: {exc} (BACKPROP_GRADER_DEBUG=1 shows where)", err=True
            )
            sys.exit(ExitCode.INTERNAL_ERROR)
        sys.exit(ExitCode.OK)


@click.group(cls=DefaultCommandGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="backprop-grader")
@no_color_option
def main() -> None:
    """Grade hand-written backpropagation assignments in a sandbox.

    \b
    grade SUBMISSION              grade a .zip or .tar(.gz), a folder or a git checkout
    grade check [FOLDER]          self-check your work (visible checks only)
    grade demo                    grade the built-in example (the reference solution)
    grade schema                  print the JSON Schema of the result file
    """


def _progress() -> object:
    """A line on stderr as each check finishes, in colour on a terminal (plain lines in CI logs).

    The stream is taken now, not at each call: the rubric runs with ``sys.stderr`` redirected (pytest's
    own output is kept out of the terminal), and this progress must still reach the user.
    """
    from grader.cli.console import STATUS_COLOURS, wants_color
    from grader.results import clean_text
    from grader.writers._text import format_points

    stream = sys.stderr
    color = wants_color(stream)
    interactive = bool(getattr(stream, "isatty", lambda: False)())

    def on_check(result: CheckResult) -> None:
        mark = {"passed": "ok", "failed": "FAIL", "error": "ERROR", "skipped": "skip"}[result.status]
        points = f"{format_points(result.score)}/{format_points(result.max_score)}"
        text = click.style(f"{mark:5}", fg=STATUS_COLOURS[result.status]) if color else f"{mark:5}"
        line = f"  {text} {points:>9}  {clean_text(result.title or result.name, one_line=True)}"
        # On a terminal, clear the line first: nothing half-written is left behind by an earlier line.
        click.echo(("\r\x1b[2K" if interactive else "") + line, file=stream, color=color)
        stream.flush()

    return on_check


def _select_sandbox(name: str) -> Sandbox:
    from grader.cli.console import warning
    from grader.sandbox import SandboxUnavailable, select_sandbox

    try:
        sandbox = select_sandbox(name)
    except SandboxUnavailable as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(ExitCode.SANDBOX_UNAVAILABLE)
    for reason in sandbox.passed_over:
        click.echo(f"note: not using {reason}", err=True)
    if sandbox.limits_note:
        click.echo(f"note: {sandbox.limits_note}", err=True)
    if not sandbox.isolated:
        from grader.sandbox.process import WARNING

        warning(WARNING)
    return sandbox


@main.command("run")
@no_color_option
@click.argument("submission", type=click.Path(exists=True, path_type=Path))
@assignment_option
@sandbox_option()
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Result file, '-' for standard output [default: results.json, or results.xml / results.md by format].",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="json", show_default=True)
@data_dir_option()
@click.option("--fail-under", type=float, default=None, help="Exit with status 1 when the score is lower.")
@click.option("--quiet", is_flag=True, help="Print only the total.")
@click.option(
    "--include-hidden",
    is_flag=True,
    help="Keep hidden checks' feedback in gradescope/junit/markdown output (Gradescope shows them to staff only).",
)
@click.option(
    "--intake-limit",
    "intake_limits",
    multiple=True,
    metavar="NAME=VALUE",
    help="Change a submission limit: archive=100MiB, total=50MiB, file=20MiB, files=100, depth=8 (the defaults).",
)
@click.option(
    "--slot",
    type=click.IntRange(0, 999),
    default=None,
    hidden=True,
    help="Sandbox slot: a root grader runs student code as uid 60000+SLOT (default: lease a free one).",
)
def run(
    submission: Path,
    assignment_id: str,
    sandbox: str,
    out: Path | None,
    fmt: str,
    data_dir: Path | None,
    fail_under: float | None,
    quiet: bool,
    include_hidden: bool,
    intake_limits: tuple[str, ...],
    slot: int | None,
) -> None:
    """Grade one SUBMISSION: a .zip, .tar, .tar.gz or .tgz archive, a folder or a git checkout."""
    from grader.cli.outfile import check_writable
    from grader.engine.intake import IntakeLimits

    try:
        limits = IntakeLimits().with_overrides(intake_limits)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--intake-limit") from None
    out = out or Path(DEFAULT_OUT[fmt])
    check_writable(out)
    found = checked_data_dir(assignment_id, data_dir)
    if found and not quiet:
        click.echo(f"Data: {found}", err=True)
    chosen = _select_sandbox(sandbox)
    # The first worker's start (bwrap's zygote) can begin now, the usage checks passed, and overlap with
    # the grader importing numpy, pytest and the pack; grade() would ask for it only after those imports.
    chosen.prepare()
    from grader.engine.grading import GradeOptions

    options = GradeOptions(
        assignment=assignment_id,
        sandbox=chosen,
        data_dir=data_dir,
        slot=slot,
        intake_limits=limits,
        on_check=None if quiet else _progress(),
    )
    _grade_and_report(submission, options, out, fmt, fail_under, quiet, include_hidden=include_hidden or None)


def _grade_and_report(
    submission: Path,
    options: GradeOptions,
    out: Path,
    fmt: str,
    fail_under: float | None,
    quiet: bool,
    label: str | None = None,
    include_hidden: bool | None = None,
) -> None:
    """Grade, write the result file, print the summary and exit with the documented status."""
    from grader.cli.console import format_summary, wants_color
    from grader.cli.outfile import is_stdout
    from grader.engine.grading import grade
    from grader.engine.secret import SecretError
    from grader.results import write_atomic
    from grader.writers import render

    if not quiet:
        click.echo(f"Grading {label or submission} ({options.assignment}, sandbox {options.sandbox.name})", err=True)
    try:
        result = grade(submission, options)
    except SecretError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(ExitCode.USAGE)
    # With --out - the result owns standard output; everything for people goes to standard error.
    to_stdout = is_stdout(out)
    if to_stdout:
        click.echo(render(result, fmt, include_hidden=include_hidden), nl=False)
    else:
        write_atomic(out, render(result, fmt, include_hidden=include_hidden))
    if quiet:
        click.echo(f"{result.score:g} / {result.max_score:g}", err=to_stdout)
    else:
        stream = sys.stderr if to_stdout else sys.stdout
        click.echo("", err=to_stdout)
        click.echo(format_summary(result, color=wants_color(stream)), err=to_stdout)
        if not to_stdout:
            click.echo(f"Result written to {out}")
    _exit_for(result, fail_under)


def _exit_for(result: GradeResult, fail_under: float | None) -> None:
    if fail_under is not None and not result.score >= fail_under:
        click.echo(f"score {result.score:g} is below --fail-under {fail_under:g}", err=True)
        sys.exit(ExitCode.BELOW_THRESHOLD)


@main.command("demo")
@no_color_option
@assignment_option
@sandbox_option()
@click.option("--out", type=click.Path(path_type=Path), default=Path("demo-results.json"), show_default=True)
@data_dir_option()
def demo(assignment_id: str, sandbox: str, out: Path, data_dir: Path | None) -> None:
    """Grade a pack's example: its reference solution packed as a student submission."""
    import tempfile

    from grader.cli.outfile import check_writable
    from grader.engine.grading import GradeOptions
    from grader.engine.packs import load_assignment

    assignment = load_assignment(assignment_id)
    write_example = assignment.hook("write_example")
    if write_example is None:
        raise click.UsageError(f"pack {assignment.id} has no example submission (no write_example in its __init__)")
    check_writable(out)
    found = checked_data_dir(assignment_id, data_dir)
    if found:
        click.echo(f"Data: {found}", err=True)
    options = GradeOptions(
        assignment=assignment_id, sandbox=_select_sandbox(sandbox), data_dir=data_dir, on_check=_progress()
    )
    with tempfile.TemporaryDirectory(prefix="backprop-grader-demo-") as folder:
        submission = write_example(Path(folder))
        _grade_and_report(submission, options, out, "json", None, False, label=f"the example of {assignment.id}")


@main.command("schema")
def schema() -> None:
    """Print the JSON Schema of the native result file."""
    from grader.results import json_schema

    click.echo(json.dumps(json_schema(), indent=2))


@main.command("assignments")
def assignments() -> None:
    """List the assignment packs this grader knows (built-in, then those in BACKPROP_GRADER_PACKS)."""
    from grader.engine.packs import available

    for name in available():
        click.echo(name)
