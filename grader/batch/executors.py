"""Where batch jobs run: in the batch process itself, or on Dask workers (:mod:`grader.batch.distributed`).

An executor takes jobs with :meth:`Executor.submit` and hands back finished ones, one at a time, with
:meth:`Executor.next_done`. A job that could not be graded comes back as the exception that stopped it,
never raised: one broken submission or worker must not stop the batch.
"""

from __future__ import annotations

import abc
import collections

from grader.batch.jobs import Job, JobOutcome, JobSettings, run_job

Done = tuple[str, "JobOutcome | BaseException"]


class Executor(abc.ABC):
    """Runs :func:`grader.batch.jobs.run_job` for submitted jobs."""

    #: Shown in the progress header and recorded in the batch summary.
    description: str = ""

    @abc.abstractmethod
    def capacity(self) -> int:
        """How many jobs to keep submitted at once: enough to keep every slot busy, few enough that
        the client does not hold the whole class's files in memory."""

    @abc.abstractmethod
    def submit(self, job: Job, settings: JobSettings) -> None:
        """Queue ``job``; its outcome comes back from :meth:`next_done` under ``job.student_id``."""

    @abc.abstractmethod
    def next_done(self) -> Done:
        """Block until a submitted job finishes; return its student id and outcome or exception."""

    def close(self) -> None:  # noqa: B027 - optional hook: the serial executor holds nothing
        """Release workers and connections."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SerialExecutor(Executor):
    """Grades in the batch process, one job at a time, in submission order (``--jobs 1``)."""

    description = "serial"

    def __init__(self) -> None:
        self._queue: collections.deque[tuple[Job, JobSettings]] = collections.deque()

    def capacity(self) -> int:
        return 1

    def submit(self, job: Job, settings: JobSettings) -> None:
        self._queue.append((job, settings))

    def next_done(self) -> Done:
        job, settings = self._queue.popleft()
        try:
            return job.student_id, run_job(job, settings)
        except Exception as exc:  # noqa: BLE001 - reported as this submission's failure
            return job.student_id, exc
