"""``grade report DIR``: the class report for a folder of results."""

from __future__ import annotations

from pathlib import Path

import click

from grader.batch.roster import ARCHIVE_SUFFIXES
from grader.report.build import write_report
from grader.report.collect import ClassResults, load_class


def _why_no_results(folder: Path, data: ClassResults) -> str:
    """One line on why ``folder`` holds no results: empty, unreadable results, or submissions."""
    if data.unreadable:
        names = ", ".join(name for name, _ in data.unreadable[:3])
        first = data.unreadable[0][1]
        return f"no readable result in {folder}: {len(data.unreadable)} result files do not load ({names}: {first})"
    children = [child for child in folder.iterdir() if not child.name.startswith(".")]
    if not children:
        return f"{folder} is empty; grade a class first with 'grade batch CLASS --out {folder}'"
    submissions = [child for child in children if child.is_dir() or child.name.lower().endswith(ARCHIVE_SUFFIXES)]
    if submissions:
        return (
            f"{folder} holds submissions, not results; grade them first with "
            f"'grade batch {folder} --out RESULTS' and run 'grade report RESULTS'"
        )
    return f"no result files (<student_id>.json, written by 'grade batch') in {folder}"


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
    OUT/gradebook.csv        student_id, total, one column per check
    OUT/grades.csv           student_id, name, score, max_score, status
    OUT/report.html          for the instructor: counts, distributions, heat map, mistakes and who,
                             identical and near-identical submissions, problems, run times
    OUT/feedback/<id>.md     for each student; hidden checks show points only
    after an LMS download:    gradebook-canvas.csv or grading-worksheet-moodle.csv, feedback-<lms>.zip
    """
    out = out or results_dir / "report"
    data = load_class(results_dir)
    if not data.results:  # nothing is written for a folder without results: say why instead
        raise click.UsageError(_why_no_results(results_dir, data))
    files = write_report(results_dir, out, data)
    for name, reason in files.data.unreadable:
        click.echo(f"warning: {name}: {reason}", err=True)
    click.echo(f"{len(files.data.results)} results")
    click.echo(f"Gradebook: {files.gradebook}")
    click.echo(f"Report:    {files.html}")
    click.echo(f"Feedback:  {out / 'feedback'} ({len(files.feedback)} files)")
    for path in files.lms:
        click.echo(f"LMS:       {path}")
