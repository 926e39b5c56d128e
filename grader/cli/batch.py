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

from grader.batch.distributed import DaskUnavailable
from grader.batch.executors import Executor, SerialExecutor
from grader.batch.jobs import JobSettings
from grader.batch.progress import Progress
from grader.batch.roster import RosterError, collect
from grader.batch.run import BatchBusy, format_summary, run_batch
from grader.cli.exits import ExitCode
from grader.cli.options import assignment_option, data_dir_option, sandbox_option
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

        click.secho(f"WARNING: {WARNING}", err=True, fg="yellow", bold=True)
    return backend.name


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
    assignment_id: str,
    sandbox: str,
    data_dir: Path | None,
) -> None:
    """Grade many submissions: class folders of zips or folders, .csv rosters (student_id,path), zips.

    One result per student is written to OUT/<student_id>.json. Running the same command again grades
    only what is new or changed (or failed last time), so an interrupted batch resumes where it stopped.
    """
    from grader.engine.packs import AssignmentError, resolve_assignment

    if jobs is not None and scheduler is not None:
        raise click.UsageError("--jobs sets the size of a local cluster; with --scheduler the cluster decides")
    try:
        resolve_assignment(assignment_id)
        entries = collect(inputs)
    except (AssignmentError, RosterError) as exc:
        raise click.UsageError(str(exc)) from None
    if not entries:
        raise click.UsageError("no submissions found in " + ", ".join(map(str, inputs)))
    # With --scheduler the workers resolve "auto" and hold the sandbox; this machine may have none.
    sandbox_name = sandbox if scheduler else _local_sandbox(sandbox)
    settings = JobSettings(assignment=assignment_id, sandbox=sandbox_name, data_dir=data_dir)
    stream = click.get_text_stream("stderr")
    with _executor(jobs or default_jobs(), scheduler, len(entries), worker_wait) as executor:
        click.echo(f"Grading {len(entries)} submissions into {out} ({executor.description})", err=True)
        try:
            summary = run_batch(entries, out, settings, executor, Progress(len(entries), stream), force=force)
        except (BatchBusy, DaskUnavailable) as exc:
            _fail(str(exc), ExitCode.SANDBOX_UNAVAILABLE)
    click.echo(format_summary(summary))
    if summary.interrupted:
        sys.exit(ExitCode.INTERRUPTED)
    if summary.failed:
        sys.exit(ExitCode.INTERNAL_ERROR)
