"""Batch jobs on Dask distributed: a local cluster (``--jobs N``) or an existing one (``--scheduler``).

Each Dask worker process grades one submission at a time (:func:`grader.batch.jobs.run_job` serialises
them, pytest keeps global state) in a sandbox slot it leases on its host, so several workers on one
machine never share a sandbox uid. Workers need the grader and a sandbox installed; they do not need
to see the client's files, because jobs carry the submission's content.

Dask re-runs a job whose worker died (``distributed.scheduler.allowed-failures``) and then reports it
as failed; the batch records that and goes on.
"""

from __future__ import annotations

import itertools
import logging
import uuid

from grader.batch.executors import Done, Executor
from grader.batch.jobs import Job, JobSettings, run_job

#: How long to wait for the first worker of an existing cluster before giving up.
WORKER_WAIT_S = 60.0


class DaskUnavailable(RuntimeError):
    """Dask is not installed, or the scheduler cannot be reached or has no workers."""


def _import_distributed():  # noqa: ANN202 - the module object
    try:
        import distributed
    except ImportError:
        raise DaskUnavailable(
            "parallel and distributed grading need Dask: pip install 'backprop-grader[dask]'"
        ) from None
    return distributed


class DaskExecutor(Executor):
    """Submits jobs to a Dask cluster and yields them as they complete.

    An existing cluster is connected to at once, so a wrong address fails before any work; a local
    cluster starts with the first job, so a rerun that has nothing left to grade starts no processes.
    """

    def __init__(self, *, scheduler: str | None = None, workers: int = 2, worker_wait_s: float = WORKER_WAIT_S):
        self._distributed = _import_distributed()
        # Dask logs reconnects and slow event loops at WARNING; the batch reports what matters itself.
        logging.getLogger("distributed").setLevel(logging.ERROR)
        self._scheduler = scheduler
        self._workers = workers
        self._wait_s = worker_wait_s
        self._cluster = None
        self._client = None
        self.description = f"Dask cluster at {scheduler}" if scheduler else f"local Dask cluster of {workers} workers"
        self._done = None  # an as_completed, which needs the client
        self._ids: dict[str, str] = {}
        self._run = uuid.uuid4().hex[:8]
        self._counter = itertools.count()
        if scheduler:
            self._connect()

    def _connect(self):  # noqa: ANN202 - a distributed.Client
        if self._client is not None:
            return self._client
        distributed = self._distributed
        try:
            if self._scheduler:
                self._client = distributed.Client(self._scheduler, timeout=f"{self._wait_s}s")
            else:
                self._cluster = distributed.LocalCluster(
                    n_workers=self._workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    # Student code runs in sandboxes with their own memory limits; the nanny's
                    # limit would only restart a worker that holds a large but legitimate result.
                    memory_limit=0,
                    silence_logs=logging.ERROR,
                )
                self._client = distributed.Client(self._cluster)
            # All workers of a cluster we started (they are on their way; an early one would take the
            # whole queue on a small class), at least one of an existing cluster (more may join later).
            self._client.wait_for_workers(1 if self._scheduler else self._workers, timeout=self._wait_s)
            self._done = distributed.as_completed(loop=self._client.loop)
        except (OSError, TimeoutError) as exc:
            self.close()
            where = self._scheduler or "a local cluster"
            raise DaskUnavailable(f"cannot start grading on {where}: {exc or type(exc).__name__}") from None
        return self._client

    def capacity(self) -> int:
        if self._client is None:
            return 2 * self._workers
        # Workers may join or leave an existing cluster while the batch runs; ask each time.
        threads = sum(self._client.nthreads().values())
        return max(2, 2 * threads)

    def submit(self, job: Job, settings: JobSettings) -> None:
        # A unique key: the same student graded again (--force, a rerun) must not reuse a cached result.
        key = f"grade-{job.student_id}-{self._run}-{next(self._counter)}"
        future = self._connect().submit(run_job, job, settings, key=key, pure=False)
        self._ids[future.key] = job.student_id
        self._done.add(future)

    def next_done(self) -> Done:
        if self._done is None:
            raise RuntimeError("next_done() before any submit()")
        future = next(self._done)
        student_id = self._ids.pop(future.key)
        try:
            outcome = future.result()
        except Exception as exc:  # noqa: BLE001 - KilledWorker, a lost scheduler, ...: this job failed
            return student_id, exc
        finally:
            future.release()
        return student_id, outcome

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None
