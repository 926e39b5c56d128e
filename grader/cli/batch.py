"""``grade batch INPUT... --out DIR``: grade a class (see :mod:`grader.batch.run` for how reruns resume).

Exit codes: 0 every submission has a result; 2 usage error (bad roster, duplicate ids); 3 the sandbox
or the Dask cluster cannot run; 4 some submissions failed to grade (listed at the end; rerun to retry
them); 130 interrupted (rerun to resume).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from pydantic import SecretStr

from grader.batch.distributed import DaskUnavailable
from grader.batch.executors import Executor, SerialExecutor
from grader.batch.jobs import WARM_FROM, JobSettings
from grader.batch.lms import LMS_NAMES, STAGING_DIR, LmsClass, detect, read_lms, write_students
from grader.batch.progress import Progress
from grader.batch.roster import RosterError, Skipped, check_unique, collect, select
from grader.batch.run import BatchBusy, format_summary, run_batch
from grader.batch.similarity import write_fingerprints
from grader.cli.console import warning
from grader.cli.exits import ExitCode
from grader.cli.options import assignment_option, checked_data_dir, data_dir_option, no_color_option, sandbox_option
from grader.engine.secret import SecretError, load_secret
from grader.sandbox import SandboxUnavailable, select_sandbox


def default_jobs() -> int:
    """The CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _fail(message: str, code: int) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _local_sandbox(name: str) -> str:
    """Check the sandbox here before starting workers that would all fail; return the resolved name."""
    try:
        backend = select_sandbox(name)
    except SandboxUnavailable as exc:
        _fail(str(exc), ExitCode.SANDBOX_UNAVAILABLE)
    if not backend.isolated:
        from grader.sandbox.process import WARNING

        warning(WARNING)
    return backend.name


def _lms_inputs(inputs: tuple[Path, ...], lms: str, out: Path) -> tuple[list[LmsClass], list[Path]]:
    """Split the inputs into LMS download folders (read here) and everything else (for the roster)."""
    downloads, others = [], []
    for source in inputs:
        kind = None
        if lms != "none" and source.is_dir():
            kind = detect(source) if lms == "auto" else lms
        if kind is None:
            others.append(source)
        else:
            downloads.append(read_lms(source, kind, out / STAGING_DIR / kind))
    if len({found.lms for found in downloads}) > 1:
        raise RosterError("the inputs are downloads of different LMSs; grade each into its own --out folder")
    return downloads, others


def _merged(downloads: list[LmsClass]) -> LmsClass:
    first = downloads[0]
    return LmsClass(
        lms=first.lms,
        students=[s for d in downloads for s in d.students],
        entries=[e for d in downloads for e in d.entries],
        skipped=[],
    )


def _list_skipped(skipped: list[Skipped]) -> None:
    """Name every entry of the inputs that is not graded, with the reason: nothing is dropped silently."""
    if not skipped:
        return
    click.echo(f"Not graded ({len(skipped)} entries of the inputs):", err=True)
    for item in skipped:
        click.echo(f"  {item.path}: {item.reason}", err=True)


def _executor(jobs: int, scheduler: str | None, submissions: int, worker_wait: float) -> Executor:
    if scheduler is None and min(jobs, submissions) <= 1:
        return SerialExecutor()
    from grader.batch.distributed import DaskExecutor

    try:
        return DaskExecutor(scheduler=scheduler, workers=min(jobs, submissions), worker_wait_s=worker_wait)
    except DaskUnavailable as exc:
        if scheduler is not None:
            _fail(str(exc), ExitCode.SANDBOX_UNAVAILABLE)
        click.echo(f"note: {exc}; grading one submission at a time", err=True)
        return SerialExecutor()


@click.command("batch")
@no_color_option
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder for the result files."
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=None,
    help="Submissions graded at once on this machine (a local Dask cluster) [default: CPU cores].",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    default=None,
    help="Grade on an existing Dask cluster, e.g. tcp://10.0.0.5:8786; its workers need the grader and a sandbox.",
)
@click.option(
    "--worker-wait",
    type=click.FloatRange(min=1),
    default=60,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for the scheduler and a first worker.",
)
@click.option("--force", is_flag=True, help="Grade again even submissions whose result is current.")
@click.option(
    "--lms",
    type=click.Choice(["auto", *LMS_NAMES, "none"]),
    default="auto",
    show_default=True,
    help="Layout of a download folder; 'auto' recognises Canvas, Moodle and Gradescope (not GitHub Classroom).",
)
@click.option(
    "--only",
    "only",
    multiple=True,
    metavar="ID",
    help="Grade again only this student of the inputs (repeatable); the other results are left as they are.",
)
@assignment_option
@sandbox_option()
@data_dir_option("Data set folder (on the workers, with --scheduler). Env: BACKPROP_GRADER_DATA_DIR.")
def batch_command(
    inputs: tuple[Path, ...],
    out: Path,
    jobs: int | None,
    scheduler: str | None,
    worker_wait: float,
    force: bool,
    lms: str,
    only: tuple[str, ...],
    assignment_id: str,
    sandbox: str,
    data_dir: Path | None,
) -> None:
    """Grade many submissions: class folders (a folder or .zip/.tar/.tar.gz/.tgz per student), .csv rosters
    (student_id,path), single archives, or one student's folder.

    One result per student is written to OUT/<student_id>.json. Running the same command again grades
    only what is new or changed (or failed last time), so an interrupted batch resumes where it stopped.
    A student named with --only, or one student's folder given alone, is graded again in any case.
    Entries of a class folder that are not graded (another archive format, a loose file) are listed.
    """
    from grader.engine.packs import AssignmentError, resolve_assignment

    if jobs is not None and scheduler is not None:
        raise click.UsageError("--jobs sets the size of a local cluster; with --scheduler the cluster decides")
    skipped: list[Skipped] = []
    try:
        assignment = resolve_assignment(assignment_id)
        downloads, others = _lms_inputs(inputs, lms, out)
        entries = collect(others, skipped=skipped, required=assignment.files.required)
        for found in downloads:
            click.echo(f"Read a {found.lms} download: {len(found.entries)} students", err=True)
            entries += found.entries
            skipped += found.skipped
        check_unique(entries)
        if only:
            entries = select(entries, only)
    except (AssignmentError, RosterError) as exc:
        raise click.UsageError(str(exc)) from None
    _list_skipped(skipped)
    if not entries:
        raise click.UsageError("no submissions found in " + ", ".join(map(str, inputs)))
    # Named students are graded again even when their result is current: that is why they were named.
    single_folder = len(inputs) == 1 and len(entries) == 1 and inputs[0].is_dir() and entries[0].path == inputs[0]
    force = force or bool(only) or single_folder
    if scheduler is None:  # with --scheduler the data folder is a path on the workers, not here
        found = checked_data_dir(assignment_id, data_dir)
        if found:
            click.echo(f"Data: {found}", err=True)
    if downloads:
        out.mkdir(parents=True, exist_ok=True)
        write_students(out, _merged(downloads))
    # With --scheduler the workers resolve "auto" and hold the sandbox; this machine may have none.
    sandbox_name = sandbox if scheduler else _local_sandbox(sandbox)
    try:
        # Loaded once here and sent with the jobs: every grading host derives the same inputs.
        secret = SecretStr(load_secret())
    except SecretError as exc:
        raise click.UsageError(str(exc)) from None
    workers = jobs or default_jobs()
    settings = JobSettings(
        assignment=assignment_id,
        sandbox=sandbox_name,
        data_dir=data_dir,
        secret=secret,
        warm_workers=len(entries) >= WARM_FROM * workers,
    )
    stream = click.get_text_stream("stderr")
    with _executor(workers, scheduler, len(entries), worker_wait) as executor:
        click.echo(f"Grading {len(entries)} submissions into {out} ({executor.description})", err=True)
        try:
            summary = run_batch(entries, out, settings, executor, Progress(len(entries), stream), force=force)
        except (BatchBusy, DaskUnavailable) as exc:
            _fail(str(exc), ExitCode.SANDBOX_UNAVAILABLE)
    click.echo(format_summary(summary))
    # Code fingerprints for the report's identical and near-identical submissions (read, never run).
    if not summary.interrupted:
        write_fingerprints(out, [(e.student_id, e.path) for e in entries if e.path.exists()])
    if skipped:
        click.echo(f"{len(skipped)} entries of the inputs were not graded (listed before the run).")
    if summary.interrupted:
        sys.exit(ExitCode.INTERRUPTED)
    if summary.failed:
        sys.exit(ExitCode.INTERNAL_ERROR)
