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
