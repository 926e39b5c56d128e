"""Attacks on the cost of grading: replies that are expensive to decode, a worker that stops reading,
values no check can use, slow calls that add up, and a worker that cannot start for reasons of ours.

The hostile code is a real submission module run by the real worker shim in a real sandbox (bwrap,
else the process backend): it finds the shim's private reply pipe among its own file descriptors and
writes frames of its choosing, which any submission can do.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from held_slots import held_slot
from sandbox_backends import require_backend

from grader.boundary.decode import MAX_REPLY_ELEMENTS, SubmissionValueError, decode_reply
from grader.boundary.rpc import START_ATTEMPTS, WorkerFailure, WorkerSession
from grader.engine.budget import BudgetExhausted, BudgetSettings, GradingBudget
from grader.sandbox import Sandbox
from grader.sandbox.base import LaunchSpec, WorkerProcess
from grader.worker import protocol

pytestmark = pytest.mark.sandbox

SLOT, SPARE_SLOT = held_slot(), held_slot()

HOSTILE = r'''
"""Writes its own frames to the grader through the shim's reply pipe, then never answers again."""
import fcntl, json, os, struct, time

import numpy as np

def _reply_fd():
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd <= 2:
            continue
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
            mode = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE
        except OSError:
            continue
        if target.startswith("pipe:") and mode == os.O_WRONLY:
            return fd
    raise RuntimeError("no reply pipe")

def _frame(data):
    return struct.pack(">I", len(data)) + data

def _send(header, blobs=(), then="exit"):
    out = _frame(json.dumps(dict(header, n=len(blobs))).encode()) + b"".join(_frame(b) for b in blobs)
    fd = _reply_fd()
    view = memoryview(out)
    while view:
        view = view[os.write(fd, view):]
    if then == "exit":
        os._exit(0)
    time.sleep(3600)  # never read the next request

def _npy(array):
    import io
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()

def aliased(request_id, copies):
    """One 32 MiB array referenced many times: materialised once per reference it would be gigabytes."""
    blob = _npy(np.zeros(4 * 1024 * 1024))
    body = {"$d": {"value": [{"$a": 0}] * copies}}
    _send({"id": request_id, "ok": True, "body": body}, [blob])

def too_many_elements(request_id):
    """Several arrays, each under the frame limit, together over the element limit."""
    blobs = [_npy(np.zeros(48 * 1024 * 1024, dtype=np.uint8)) for _ in range(2)]
    body = {"$d": {"value": [{"$a": 0}, {"$a": 1}]}}
    _send({"id": request_id, "ok": True, "body": body}, blobs)

def answer_then_stall(request_id):
    """A valid answer now, then the shim never reads another request."""
    _send({"id": request_id, "ok": True, "body": {"$d": {"value": 1}}}, then="stall")

def huge_int():
    return 10 ** 400

def odd_int():
    return -(2 ** 70)

def slow(seconds):
    time.sleep(seconds)
    return seconds
'''


@pytest.fixture(scope="module")
def submission(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile-cost")
    folder.chmod(0o755)
    (folder / "hostile.py").write_text(HOSTILE)
    (folder / "hostile.py").chmod(0o644)
    return folder


@pytest.fixture
def session(grading_sandbox: Sandbox, submission: Path) -> Any:
    with WorkerSession(grading_sandbox, LaunchSpec(submission, slot=SLOT)) as worker:
        worker.request({"op": "import", "module": "hostile", "names": []}, 60)
        yield worker


@pytest.fixture(params=["bwrap", "docker"])
def isolated_session(request: pytest.FixtureRequest, submission: Path) -> Any:
    """A worker in each isolated backend (Docker's stdin is a socket with buffers of its own)."""
    backend = require_backend(request.param)
    with WorkerSession(backend, LaunchSpec(submission, slot=SPARE_SLOT)) as worker:
        worker.request({"op": "import", "module": "hostile", "names": []}, 120)
        yield worker


def call(session: WorkerSession, func: str, *args: Any, timeout: float = 60) -> Any:
    body = {"op": "call", "module": "hostile", "path": [func], "args": list(args), "kwargs": {}}
    return session.request(body, timeout, what=f"{func}(...)")[0]


def next_id(session: WorkerSession) -> int:
    return session._next_id  # the id the grader gives the next request, which a submission can count


# -- replies that cost the trusted side -------------------------------------------------------------


def test_an_array_referenced_many_times_is_refused_at_once(isolated_session: WorkerSession) -> None:
    start = time.monotonic()
    with pytest.raises(WorkerFailure) as failure:
        call(isolated_session, "aliased", next_id(isolated_session), 2000)
    assert failure.value.kind == "protocol"
    assert "more than once" in str(failure.value)
    assert time.monotonic() - start < 30  # materialising 2000 x 32 MiB would take minutes, or the host


def test_arrays_together_over_the_element_limit_are_refused(isolated_session: WorkerSession) -> None:
    with pytest.raises(WorkerFailure) as failure:
        call(isolated_session, "too_many_elements", next_id(isolated_session))
    assert failure.value.kind == "protocol"
    assert str(MAX_REPLY_ELEMENTS) in str(failure.value)


def test_a_worker_that_stops_reading_cannot_block_a_large_request(isolated_session: WorkerSession) -> None:
    assert call(isolated_session, "answer_then_stall", next_id(isolated_session)) == 1
    request = {"op": "call", "module": "hostile", "path": ["slow"], "args": [np.zeros(4 * 1024 * 1024)]}
    start = time.monotonic()
    with pytest.raises(WorkerFailure) as failure:
        isolated_session.request(request, 3.0, what="a large request")
    assert failure.value.kind == "timeout"
    assert "not read" in str(failure.value)
    assert time.monotonic() - start < 20


def test_decoding_checks_every_bound_without_a_worker() -> None:
    blob = protocol.encode_value(np.arange(3.0), blobs := [])
    with pytest.raises(protocol.ProtocolError, match="more than once"):
        decode_reply([blob, blob], blobs)
    with pytest.raises(protocol.ProtocolError, match="does not use"):
        decode_reply(1, blobs)
    with pytest.raises(protocol.ProtocolError, match="time limit"):
        decode_reply([0] * 5000, [], deadline=time.monotonic() - 1)
    assert decode_reply({"$d": {"a": blob}}, blobs)["a"].tolist() == [0.0, 1.0, 2.0]


# -- values no check can use are the submission's mistake --------------------------------------------


@pytest.mark.parametrize("func", ["huge_int", "odd_int"])
def test_an_unusable_number_is_the_submissions_mistake_and_keeps_the_worker(session: WorkerSession, func: str) -> None:
    generation = session.generation
    with pytest.raises(WorkerFailure) as failure:
        call(session, func)
    assert failure.value.kind == "value"
    assert "digits" in str(failure.value) and "internal" not in str(failure.value)
    assert call(session, "slow", 0) == 0
    assert session.generation == generation  # the same worker answered


def test_huge_integer_is_refused_by_the_decoder() -> None:
    with pytest.raises(SubmissionValueError, match="401 digits"):
        decode_reply(10**400, [])
    assert decode_reply(2**63, []) == 2**63


# -- time budgets ------------------------------------------------------------------------------------


def test_slow_calls_stop_at_the_check_budget(session: WorkerSession) -> None:
    budget = GradingBudget(
        BudgetSettings(numeric_check_s=4, numeric_total_s=100, training_check_s=1, training_total_s=1)
    )
    session.budget = budget.start(training=False)
    start = time.monotonic()
    assert call(session, "slow", 1.5, timeout=20) == 1.5
    assert call(session, "slow", 1.5, timeout=20) == 1.5
    with pytest.raises(WorkerFailure) as failure:
        call(session, "slow", 1.5, timeout=20)  # each call is within its 20 s; together they are not
    assert failure.value.kind == "budget"
    assert "4 s" in str(failure.value)
    with pytest.raises(BudgetExhausted):
        call(session, "slow", 0, timeout=20)  # nothing left: not even sent
    assert time.monotonic() - start < 10


def test_the_total_budget_stops_later_checks_of_its_kind_only() -> None:
    now = [0.0]
    budget = GradingBudget(BudgetSettings(10, 25, 100, 300), clock=lambda: now[0])
    for _ in range(2):
        check = budget.start(training=False)
        now[0] += 10
        budget.finish(check)
    check = budget.start(training=False)
    assert check.clip(20) == (5, True)  # the total has 5 s left, less than the check's own 10 s
    now[0] += 5
    with pytest.raises(BudgetExhausted, match="25 s in total"):
        check.clip(20)
    budget.finish(check)
    with pytest.raises(BudgetExhausted, match="numeric checks"):
        budget.start(training=False)
    assert budget.start(training=True).clip(50) == (50, False)


def test_budgets_follow_the_per_call_limits() -> None:
    settings = BudgetSettings.from_limits(20, 300)
    assert (settings.numeric_check_s, settings.numeric_total_s) == (60, 300)
    assert (settings.training_check_s, settings.training_total_s) == (660, 1200)


# -- failures of the grading machine are retried, never the student's ---------------------------------


class FlakyStart(Sandbox):
    """A real backend whose first ``failures`` workers die before the shim starts (a host limit hit);
    with ``thread``, only the workers that thread starts."""

    name = "flaky"

    def __init__(self, inner: Sandbox, failures: int, thread: str | None = None) -> None:
        self.inner = inner
        self.failures = failures
        self.thread = thread
        self.isolated = inner.isolated

    @classmethod
    def check_available(cls) -> None:
        return None

    def start(self, spec: LaunchSpec) -> WorkerProcess:
        if self.failures > 0 and self.thread in (None, threading.current_thread().name):
            self.failures -= 1
            from grader.sandbox.popen_worker import PopenWorker

            return PopenWorker(
                ["/bin/sh", "-c", "echo 'fork: Resource temporarily unavailable' >&2; exit 1"],
                env={"PATH": "/usr/bin:/bin"},
                cwd=Path("/"),
                scratch=None,
            )
        return self.inner.start(spec)


def test_a_worker_that_dies_before_start_up_is_started_again(grading_sandbox: Sandbox, submission: Path) -> None:
    flaky = FlakyStart(grading_sandbox, failures=START_ATTEMPTS - 1)
    with WorkerSession(flaky, LaunchSpec(submission, slot=SLOT)) as session:
        session.request({"op": "import", "module": "hostile", "names": []}, 60)
        assert call(session, "slow", 0) == 0
        assert session.take_output() == ""  # what the failed starts printed is not the student's


def test_a_worker_that_never_starts_is_the_grading_machines_failure(grading_sandbox: Sandbox, submission: Path) -> None:
    flaky = FlakyStart(grading_sandbox, failures=START_ATTEMPTS)
    with WorkerSession(flaky, LaunchSpec(submission, slot=SLOT)) as session, pytest.raises(WorkerFailure) as failure:
        session.request({"op": "import", "module": "hostile", "names": []}, 60)
    assert failure.value.kind == "grader"
    assert "not of the submission" in str(failure.value)


# -- whole gradings ----------------------------------------------------------------------------------

HUGE_PREDICT = """

def _huge_predict(self, X):
    return [10 ** 400] * len(X)

TwoLayerNet.predict = _huge_predict
"""


@pytest.mark.slow
def test_grading_tells_the_machines_failures_from_the_submissions_mistakes(
    grading_sandbox: Sandbox, tmp_path: Path
) -> None:
    from classroom import require_corpus

    from grader.engine.grading import GradeOptions, grade

    good = require_corpus() / "good"
    folder = tmp_path / "huge"
    folder.mkdir()
    for name in ("two_layernet.py", "ex2_pytorch.py"):
        (folder / name).write_bytes((good / name).read_bytes())
    with open(folder / "two_layernet.py", "a") as handle:
        handle.write(HUGE_PREDICT)

    # Starting the visible and the hidden worker ahead fails (a limit of the machine): the checks
    # start them again when they need them, and nothing is lost.
    flaky = FlakyStart(grading_sandbox, failures=2 * START_ATTEMPTS, thread="workers-ahead")
    recovered = grade(folder, GradeOptions(sandbox=flaky))
    assert recovered.status == "graded", recovered.message
    assert not any("grading machine" in t.output for t in recovered.tests)

    # The first check cannot start its worker either (every start fails until it has tried: those
    # ahead, then its own): the grading is the machine's failure.
    flaky = FlakyStart(grading_sandbox, failures=3 * START_ATTEMPTS)
    result = grade(folder, GradeOptions(sandbox=flaky))
    assert result.status == "error"
    assert "grading machine" in result.message
    machine = [t for t in result.tests if "grading machine" in t.output]
    assert len(machine) == 1 and machine[0].status == "error"
    assert not any("not tried again" in t.output for t in result.tests)

    # The integer of 401 digits is the submission's mistake, reported as such.
    predict = [t for t in result.tests if "predict" in t.name]
    assert predict and all(t.status == "failed" and t.score == 0 for t in predict)
    assert all("401 digits" in t.output and "internal error" not in t.output for t in predict)
    assert not any("internal error" in t.output for t in result.tests)
    assert sum(t.score for t in result.tests if t.status == "passed") > 0  # the rest is graded
