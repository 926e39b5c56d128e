"""``grade report DIR``: the class report for a folder of results."""

from __future__ import annotations

from pathlib import Path

import click

from grader.report.build import write_report


@click.command("report")
@click.argument("results_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the report files [default: RESULTS_DIR/report].",
)
def report_command(results_dir: Path, out: Path | None) -> None:
    """Turn a folder of results into a CSV gradebook, an HTML report and one feedback file per student.

    \b
    OUT/gradebook.csv        student_id, total, one column per check (imports into an LMS)
    OUT/report.html          for the instructor: distribution, pass rates, mistakes, problems
    OUT/feedback/<id>.md     for each student; hidden checks show points only
    """
    out = out or results_dir / "report"
    files = write_report(results_dir, out)
    if not files.data.results:
        raise click.UsageError(f"no result files (<student_id>.json) in {results_dir}")
    for name, reason in files.data.unreadable:
        click.echo(f"warning: {name}: {reason}", err=True)
    click.echo(f"{len(files.data.results)} results")
    click.echo(f"Gradebook: {files.gradebook}")
    click.echo(f"Report:    {files.html}")
    click.echo(f"Feedback:  {out / 'feedback'} ({len(files.feedback)} files)")
