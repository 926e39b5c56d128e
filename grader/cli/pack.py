"""``grade pack check|new``: validate an assignment pack before a term, or start a new one."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from grader.cli.exits import ExitCode
from grader.cli.options import data_dir_option, sandbox_option


@click.group("pack")
def pack_group() -> None:
    """Author and validate assignment packs (see docs/packs.md)."""


@pack_group.command("check")
@click.argument("pack")
@sandbox_option()
@data_dir_option()
def check_command(pack: str, sandbox: str, data_dir: Path | None) -> None:
    """Validate PACK (an id or a pack folder): the example gets every point, the handout 0, each
    declared mistake loses points and is named, and grading is repeatable. Exit 1 on any failure."""
    from grader.cli.app import _select_sandbox
    from grader.engine.validate import Finding, check_pack, failed

    def show(finding: Finding) -> None:
        mark = click.style("ok  ", fg="green") if finding.ok else click.style("FAIL", fg="red", bold=True)
        click.echo(f"  {mark}  {finding.step:<34} {finding.detail}")

    click.echo(f"Checking pack {pack}", err=True)
    findings = check_pack(pack, _select_sandbox(sandbox), data_dir=data_dir, on_finding=show)
    problems = list(failed(findings))
    if problems:
        click.echo(f"{len(problems)} of {len(findings)} pack checks failed")
        sys.exit(ExitCode.BELOW_THRESHOLD)
    click.echo(f"all {len(findings)} pack checks passed")


@pack_group.command("new")
@click.argument("folder", type=click.Path(path_type=Path))
def new_command(folder: Path) -> None:
    """Create a new pack in FOLDER (its name is the pack id) from a small working example."""
    from grader.engine.scaffold import new_pack

    try:
        written = new_pack(folder)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"wrote {len(written)} files to {folder}; next: grade pack check {folder}")


@pack_group.command("bundle")
@click.argument("pack")
@click.option(
    "--student",
    is_flag=True,
    required=True,
    help="Build the student bundle (the only kind there is; the flag says who it is for).",
)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="New, empty folder.")
@sandbox_option("Sandbox for recording the frozen values; 'auto' takes docker, then bwrap, then process.")
@click.option(
    "--record-from",
    "extra",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="More submissions to record the checks against (repeatable), beyond the example, handout and mistakes.",
)
def bundle_command(pack: str, student: bool, out: Path, sandbox: str, extra: tuple[Path, ...]) -> None:
    """Write PACK's student bundle into OUT: the handout, the self-check, and the visible checks with
    their expected values frozen as data. No reference, hidden check, input generator or secret goes in.
    Students install it with: python -m pip install OUT (or its wheel, or a git URL)."""
    from grader.cli.app import _select_sandbox
    from grader.engine.bundle import BundleError, build_bundle
    from grader.engine.packs import AssignmentError

    chosen = _select_sandbox(sandbox)
    click.echo(f"Building the student bundle of {pack} (recording the visible checks) ...", err=True)
    try:
        report = build_bundle(pack, out, chosen, extra)
    except (AssignmentError, BundleError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"wrote {out}: {len(report.frozen)} checks frozen, {len(report.stubbed)} instructor-only, "
        f"{report.left_out} hidden left out; {report.frozen_calls} trusted calls recorded from "
        f"{len(report.recorded_from)} submissions"
    )
    if report.live_calls:
        click.echo("not frozen (arguments are not plain data): " + ", ".join(report.live_calls))
    if report.conflicts:
        click.echo(f"warning: {len(report.conflicts)} recorded calls gave different results between runs", err=True)
    click.echo(f"students install it with: python -m pip install {out}")
