"""``grade gradescope build``: the autograder zip for Gradescope (see :mod:`grader.gradescope_kit`)."""

from __future__ import annotations

from pathlib import Path

import click

from grader.cli.options import assignment_option
from grader.cli.outfile import check_writable


@click.group("gradescope")
def gradescope_group() -> None:
    """Grade on Gradescope: build the autograder zip."""


@gradescope_group.command("build")
@click.option(
    "--out", type=click.Path(path_type=Path), default=Path("autograder.zip"), show_default=True, help="The zip."
)
@assignment_option
@click.option(
    "--wheelhouse",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Folder of wheels to bundle, so setup.sh installs without PyPI (pip download the grader's dependencies).",
)
@click.option("--with-cifar", is_flag=True, help="setup.sh downloads CIFAR-10, so the accuracy checks run.")
def build_command(out: Path, assignment_id: str, wheelhouse: Path | None, with_cifar: bool) -> None:
    """Write the zip to upload on Gradescope's "Configure Autograder" page (docs/gradescope.md)."""
    from grader.engine.packs import AssignmentError, load_assignment
    from grader.gradescope_kit import KitError, build_kit

    try:
        assignment = load_assignment(assignment_id)
    except AssignmentError as exc:
        raise click.UsageError(str(exc)) from None
    if not assignment.builtin:
        raise click.UsageError(
            f"the Gradescope kit ships the grader's built-in packs; {assignment.folder} is a pack folder "
            "(add it to grader/assignments/ to ship it)"
        )
    check_writable(out)
    try:
        build_kit(out, assignment_id, wheelhouse=wheelhouse, with_cifar=with_cifar)
    except KitError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"Autograder written to {out}; upload it on Gradescope (docs/gradescope.md)")
