"""The trusted side of the worker boundary, ``WorkerSession``, against real sandboxes and real student code.

Each test calls functions of a small numpy-only student module (``probes.py``, written below) through
a real worker: bubblewrap, and the plain process backend where it can run (as root it cannot when the
Python runtime lives in a folder private to root; it then skips with its own reason). Every way a
submission can misbehave must end as one ``WorkerFailure`` for that call only, with the grader alive
and the next call answered by a worker that works. Expected values come from the tests' own inputs.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from held_slots import held_slot
from sandbox_backends import (
    require_backend,
    sandbox_pids,
    separated_from_grader,
    wait_until_gone,
)

from grader.boundary.rpc import StudentException, WorkerFailure, WorkerSession
from grader.sandbox import Sandbox
from grader.sandbox.base import LaunchSpec, Limits
from grader.sandbox.zygote import ZYGOTE_ENV
from grader.worker.protocol import MAX_ARRAYS, MAX_FRAME_BYTES

#: Sandbox slots of this module's own (a root grader runs workers as uid 60000 + slot), so that
#: graders running beside the tests are never mistaken for processes a test left behind: SLOT for
#: the shared session, OWN_SLOT for sessions whose processes a test counts.
SLOT = held_slot()
OWN_SLOT = held_slot()
#: Its own uid for the daemon test: the fork bomb's reaped-late zombies still count against OWN_SLOT's
#: process limit for a while.
DAEMON_SLOT = held_slot()
MiB = 1024 * 1024
LIMITS = Limits(cpu_seconds=120, memory_bytes=512 * MiB, max_processes=24)
#: What the grader keeps of a call's output; smaller than the shim's own budget, so both caps act.
OUTPUT_CAP = 256 * 1024
CALL_TIMEOUT_S = 30.0
HANG_TIMEOUT_S = 2.0
#: Slack for killing a hung worker and reading its last output.
KILL_GRACE_S = 5.0

STUDENT_MODULE = textwrap.dedent(
    '''
    """A student module that does everything a hostile or broken submission might do."""

    import ctypes
    import fcntl
    import errno
    import json
    import os
    import signal
    import struct
    import sys
    import time

    import numpy as np


    def add(a, b):
        return a + b


    def imported(names):
        return [name in sys.modules for name in names]


    def affine(x, w, b):
        return x @ w + b


    def echo(value):
        return value


    def pid_namespace():
        return os.readlink("/proc/self/ns/pid")


    def fail(message):
        raise ValueError(message)


    def stop_reading():
        """Answer this call, then never read another request: the worker's own loop is replaced."""
        import protocol

        protocol.read_message_blocking = lambda stream: time.sleep(3600)
        return True


    def raise_base(kind):
        if kind == "SystemExit":
            raise SystemExit(0)
        if kind == "KeyboardInterrupt":
            raise KeyboardInterrupt
        raise GeneratorExit


    def hang(how):
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGXCPU):
            signal.signal(signum, signal.SIG_IGN)
        if how == "sleep":
            time.sleep(3600)
        while True:
            pass


    def exit_now(code):
        os._exit(code)


    def kill_self(signum):
        os.kill(os.getpid(), signum)


    def segfault():
        ctypes.string_at(0)


    def eat_memory(nbytes):
        chunks, total = [], 0
        while total < nbytes:
            chunks.append(np.ones(2 * 1024 * 1024))  # 16 MiB, every page written
            total += chunks[-1].nbytes
        return total


    def zeros(shapes):
        return [np.zeros(shape) for shape in shapes]


    def _frame(payload):
        data = json.dumps(payload).encode()
        return struct.pack(">I", len(data)) + data


    def forge_replies(forged, real, then, ids):
        """Write well-formed reply frames for many request ids everywhere stdout could go."""
        for request_id in range(ids):
            frame = _frame({"id": request_id, "ok": True, "body": {"$d": {"value": forged}}, "n": 0})
            os.write(1, frame)
            sys.__stdout__.buffer.write(frame)
            sys.__stdout__.flush()
            print(frame.decode("latin-1"), end="")
            sys.stdout.flush()
        if then == "raise":
            raise RuntimeError("raised after forging")
        if then == "exit":
            os._exit(0)
        return real


    def write_to_channel(hex_payload, then, real):
        """Write raw bytes to every pipe this process holds besides its output: the private RPC channel."""
        data = bytes.fromhex(hex_payload)
        output = {os.readlink("/proc/self/fd/0"), os.readlink("/proc/self/fd/1"), os.readlink("/proc/self/fd/2")}
        targets = []
        for name in sorted(os.listdir("/proc/self/fd"), key=int):
            fd = int(name)
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
                writable = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE != os.O_RDONLY
            except OSError:
                continue
            if target.startswith("pipe:") and target not in output and (writable or then == "close"):
                targets.append(fd)
        # Said before touching the channel: the grader may kill this worker as soon as it reads garbage.
        print(f"channel fds touched: {targets}", flush=True)
        for fd in targets:
            try:
                os.close(fd) if then == "close" else os.write(fd, data)
            except OSError:
                pass
        if then == "exit":
            os._exit(0)
        return real


    def flood_print(nchars):
        chunk = "x" * 65536
        for _ in range(nchars // len(chunk)):
            sys.stdout.write(chunk)
        return nchars


    def flood_fd(nbytes):
        chunk = b"y" * (1 << 20)
        for _ in range(nbytes // len(chunk)):
            os.write(1, chunk)
        return nbytes


    def fork_bomb(attempts, child_forks):
        """Fork until the kernel refuses; every child forks too (a few times, so that even a machine
        without the limit sees a bounded tree), then holds its process slot."""
        root = os.getpid()
        refused = None
        budget = attempts
        while budget > 0:
            budget -= 1
            try:
                pid = os.fork()
            except OSError as exc:
                refused = errno.errorcode.get(exc.errno, str(exc.errno))
                break
            if pid == 0:
                budget = min(budget, child_forks)
        if os.getpid() != root:
            time.sleep(600)
            os._exit(0)
        return refused


    def kill_parent():
        ppid = os.getppid()
        try:
            os.kill(ppid, signal.SIGKILL)
        except OSError as exc:
            return {"ppid": ppid, "result": errno.errorcode.get(exc.errno, str(exc.errno))}
        return {"ppid": ppid, "result": "sent"}


    def kill_group():
        os.killpg(0, signal.SIGKILL)
        return "survived"


    def kill_everyone():
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError as exc:
            return errno.errorcode.get(exc.errno, str(exc.errno))
        return "sent"


    def daemonise(seconds):
        """Leave a double-forked, setsid'd child behind that ignores the polite signals."""
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
                    signal.signal(signum, signal.SIG_IGN)
                time.sleep(seconds)
            os._exit(0)
        os.wait()
        return pid_namespace()
    '''
)


@pytest.fixture(scope="module")
def submission() -> Iterator[Path]:
    """The student folder; the sandbox sees it read-only.

    Not under pytest's tmp_path: that lives in a folder only its owner may enter, and the process
    backend runs student code as another uid when the tests run as root (the grader's own work
    folders are world-readable for the same reason).
    """
    folder = Path(tempfile.mkdtemp(prefix="backprop-grader-test-"))
    folder.chmod(0o755)
    (folder / "probes.py").write_text(STUDENT_MODULE)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module", params=[pytest.param("bwrap", marks=pytest.mark.sandbox), pytest.param("process")])
def backend(request: pytest.FixtureRequest) -> Sandbox:
    return require_backend(request.param)


def _new_session(backend: Sandbox, submission: Path, slot: int) -> WorkerSession:
    return WorkerSession(backend, LaunchSpec(submission, LIMITS, slot=slot), output_cap=OUTPUT_CAP)


@pytest.fixture(scope="module")
def session(backend: Sandbox, submission: Path) -> Iterator[WorkerSession]:
    """One session shared by the tests of a backend; tests that kill its worker get a fresh one next."""
    with _new_session(backend, submission, SLOT) as shared:
        yield shared
    assert wait_until_gone(SLOT) == [], "a worker process survived the end of the session"


@pytest.fixture
def fresh_session(backend: Sandbox, submission: Path) -> Iterator[WorkerSession]:
    """A session of its own slot, for tests that count the worker's processes or leave some behind."""
    with _new_session(backend, submission, OWN_SLOT) as own:
        yield own


def call(session: WorkerSession, func: str, *args: Any, timeout: float = CALL_TIMEOUT_S) -> Any:
    """Call ``probes.func(*args)`` in the worker; return the plain value."""
    body = {"op": "call", "module": "probes", "path": [func], "args": list(args)}
    value, _ = session.request(body, timeout, what=f"{func}(...)")
    return value


def assert_answers(session: WorkerSession) -> None:
    """The session (with whatever worker it has now) still computes correctly."""
    a, b = 40 + SLOT, 2
    assert call(session, "add", a, b) == a + b


def _requires_separation(backend: Sandbox, slot: int = SLOT) -> None:
    if not separated_from_grader(backend, slot):
        pytest.skip(f"the {backend.name} backend runs the worker as the grader's own user (not isolated, by design)")


# --------------------------------------------------------------------------- answers


def test_a_call_returns_plain_data(session: WorkerSession) -> None:
    rng = np.random.default_rng(7)
    x, w, b = rng.standard_normal((5, 4)), rng.standard_normal((4, 3)), rng.standard_normal(3)
    got = call(session, "affine", x, w, b)
    assert type(got) is np.ndarray and got.dtype == np.float64 and got.shape == (5, 3)
    # The worker's BLAS may sum in another order than ours: equal to the last few bits only.
    np.testing.assert_allclose(got, x @ w + b, rtol=1e-12, atol=1e-12)

    plain = {"n": 3, "f": 0.25, "s": "text", "flag": True, "none": None, "list": [1, [2.5, "x"]]}
    echoed = call(session, "echo", {**plain, "mask": w > 0})
    assert {key: value for key, value in echoed.items() if key != "mask"} == plain
    assert echoed["mask"].dtype == np.bool_
    np.testing.assert_array_equal(echoed["mask"], w > 0)
    assert math.isnan(call(session, "echo", float("nan")))


def test_a_student_exception_keeps_the_worker(session: WorkerSession) -> None:
    assert_answers(session)
    generation = session.generation
    message = f"bad input number {SLOT}"
    with pytest.raises(StudentException) as caught:
        call(session, "fail", message)
    assert caught.value.kind == "exception" and caught.value.type_name == "ValueError"
    assert message in str(caught.value) and "probes.py" in str(caught.value)
    assert session.generation == generation
    assert_answers(session)
    assert session.generation == generation


@pytest.mark.parametrize("kind", ["SystemExit", "KeyboardInterrupt", "GeneratorExit"])
def test_base_exceptions_are_student_exceptions(session: WorkerSession, kind: str) -> None:
    """``sys.exit(0)`` inside a call must not look like success, nor end the worker."""
    assert_answers(session)
    generation = session.generation
    with pytest.raises(StudentException) as caught:
        call(session, "raise_base", kind)
    assert caught.value.type_name == kind
    assert session.generation == generation
    assert_answers(session)


# --------------------------------------------------------------------------- failures that end the worker


@pytest.mark.parametrize("how", ["spin", "sleep"])
def test_a_hang_times_out_and_the_next_call_gets_a_fresh_worker(session: WorkerSession, how: str) -> None:
    assert_answers(session)
    generation = session.generation
    namespace = call(session, "pid_namespace")
    started = time.monotonic()
    with pytest.raises(WorkerFailure) as caught:
        call(session, "hang", how, timeout=HANG_TIMEOUT_S)
    elapsed = time.monotonic() - started
    assert caught.value.kind == "timeout"
    assert f"{HANG_TIMEOUT_S:g} s" in str(caught.value)
    assert HANG_TIMEOUT_S <= elapsed < HANG_TIMEOUT_S + KILL_GRACE_S
    # The hung worker is really gone (its PID namespace is empty), not just abandoned.
    assert wait_until_gone(SLOT, [namespace]) == []
    assert_answers(session)
    assert session.generation == generation + 1


def test_a_worker_that_stops_reading_times_out_while_a_large_request_is_written(session: WorkerSession) -> None:
    assert call(session, "stop_reading") is True
    large = np.zeros(4 * MiB // 8)  # far more than a pipe holds: the write itself must wait, then give up
    started = time.monotonic()
    with pytest.raises(WorkerFailure) as caught:
        call(session, "echo", large, timeout=HANG_TIMEOUT_S)
    assert caught.value.kind == "timeout"
    assert "the request was not read" in str(caught.value)
    assert HANG_TIMEOUT_S <= time.monotonic() - started < HANG_TIMEOUT_S + KILL_GRACE_S
    assert_answers(session)


@pytest.mark.parametrize("code", [0, 3])
def test_exiting_is_a_crash_naming_the_status(session: WorkerSession, code: int) -> None:
    """An early ``os._exit(0)`` is never "no failure": the call fails closed."""
    assert_answers(session)
    generation = session.generation
    with pytest.raises(WorkerFailure) as caught:
        call(session, "exit_now", code)
    assert caught.value.kind == "crash"
    assert f"exited with status {code}" in str(caught.value)
    assert_answers(session)
    assert session.generation == generation + 1


@pytest.mark.parametrize(
    ("func", "args", "signum"),
    [
        ("kill_self", [int(signal.SIGKILL)], signal.SIGKILL),
        ("kill_self", [int(signal.SIGTERM)], signal.SIGTERM),
        ("segfault", [], signal.SIGSEGV),
    ],
    ids=["sigkill", "sigterm", "segfault"],
)
def test_dying_from_a_signal_is_a_crash_naming_it(
    session: WorkerSession, func: str, args: list[int], signum: signal.Signals
) -> None:
    assert_answers(session)
    generation = session.generation
    with pytest.raises(WorkerFailure) as caught:
        call(session, func, *args)
    assert caught.value.kind == "crash"
    assert signum.name in str(caught.value)
    assert_answers(session)
    assert session.generation == generation + 1


def test_a_memory_blow_up_fails_only_that_call(session: WorkerSession) -> None:
    assert_answers(session)
    generation = session.generation
    with pytest.raises(WorkerFailure) as caught:
        call(session, "eat_memory", 2 * LIMITS.memory_bytes)
    assert caught.value.kind in ("exception", "crash")
    if caught.value.kind == "exception":
        # Caught as MemoryError inside the worker: the worker itself lives on.
        assert isinstance(caught.value, StudentException) and caught.value.type_name == "MemoryError"
        assert session.generation == generation
    assert_answers(session)


@pytest.mark.parametrize(
    ("shapes", "words"),
    [
        ([[(MAX_FRAME_BYTES // 8) + 1]], "too large"),
        ([[1]] * (MAX_ARRAYS + 1), "too many arrays"),
    ],
    ids=["array-over-the-frame-cap", "more-arrays-than-the-cap"],
)
def test_a_reply_over_the_caps_fails_only_that_call(session: WorkerSession, shapes: list, words: str) -> None:
    """The worker refuses to send what the grader would refuse to read, and says why."""
    assert_answers(session)
    generation = session.generation
    with pytest.raises(StudentException) as caught:
        call(session, "zeros", shapes)
    assert caught.value.type_name == "ReplyError" and words in str(caught.value)
    assert session.generation == generation
    assert_answers(session)


# --------------------------------------------------------------------------- the channel


#: Forged replies carry every request id up to this one, so one of them matches the pending request.
FORGED_IDS = 4096


@pytest.mark.parametrize("then", ["return", "raise", "exit"])
def test_forged_frames_on_stdout_are_only_output(session: WorkerSession, then: str) -> None:
    """Reply frames printed to fd 1, ``sys.__stdout__`` and ``print`` never reach the grader as a reply."""
    forged, real = 13579, 24680 + SLOT
    assert_answers(session)
    session.take_output()
    generation = session.generation
    if then == "return":
        assert call(session, "forge_replies", forged, real, then, FORGED_IDS) == real
        assert session.generation == generation
    elif then == "raise":
        with pytest.raises(StudentException, match="raised after forging"):
            call(session, "forge_replies", forged, real, then, FORGED_IDS)
    else:
        with pytest.raises(WorkerFailure) as caught:
            call(session, "forge_replies", forged, real, then, FORGED_IDS)
        assert caught.value.kind == "crash"
    output = session.take_output()
    assert f'"value": {forged}' in output, "the forged frames should have ended up as printed output"
    assert_answers(session)


def _frame(payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + payload


#: Bytes a worker might write on its private reply channel; none of them is a valid reply to the
#: pending request. (A frame with the right id would be accepted: it is the student lying about its
#: own result, which it can do anyway by returning wrong numbers, and every verdict stays trusted.)
GARBAGE = {
    "too-long": b"\xff\xff\xff\xff" + b"\0" * 16,
    "not-json": _frame(b"not json"),
    "binary": _frame(bytes(range(250, 256))),
    "truncated": struct.pack(">I", 12) + b'{"id',
    "nan": _frame(b'{"id": 1, "ok": NaN}'),
    "wrong-id": _frame(json.dumps({"id": -7, "ok": True, "body": {"$d": {"value": 5}}, "n": 0}).encode()),
    "too-many-arrays": _frame(json.dumps({"id": 999999, "ok": True, "n": 9999}).encode()),
}


@pytest.mark.parametrize("then", ["return", "exit"])
@pytest.mark.parametrize("garbage", sorted(GARBAGE))
def test_garbage_on_the_private_channel_never_becomes_a_value(session: WorkerSession, garbage: str, then: str) -> None:
    real = 97531
    assert_answers(session)
    session.take_output()
    generation = session.generation
    with pytest.raises(WorkerFailure) as caught:
        value = call(session, "write_to_channel", GARBAGE[garbage].hex(), then, real)
        pytest.fail(f"the call returned {value!r} after its worker wrote garbage on the channel")
    assert not isinstance(caught.value, StudentException)
    assert caught.value.kind in ("protocol", "crash"), caught.value
    # The probe really found and wrote to a channel descriptor (else this test would prove nothing).
    output = session.take_output()
    assert "channel fds touched: [" in output and "channel fds touched: []" not in output
    assert_answers(session)
    assert session.generation == generation + 1


def test_closing_the_private_channel_is_a_crash(session: WorkerSession) -> None:
    assert_answers(session)
    generation = session.generation
    with pytest.raises(WorkerFailure) as caught:
        call(session, "write_to_channel", "", "close", 1)
    assert caught.value.kind in ("crash", "protocol")
    assert_answers(session)
    assert session.generation == generation + 1


@pytest.mark.parametrize(("func", "amount"), [("flood_print", 64 * MiB), ("flood_fd", 32 * MiB)])
def test_a_huge_amount_of_output_is_capped(session: WorkerSession, func: str, amount: int) -> None:
    assert_answers(session)
    session.take_output()
    started = time.monotonic()
    assert call(session, func, amount) == amount
    assert time.monotonic() - started < CALL_TIMEOUT_S
    output = session.take_output()
    assert 0 < len(output) <= OUTPUT_CAP + 200
    assert "not shown" in output
    assert_answers(session)


# --------------------------------------------------------------------------- processes and the host


def test_a_fork_bomb_hits_the_process_limit(backend: Sandbox, fresh_session: WorkerSession) -> None:
    _requires_separation(backend, OWN_SLOT)
    namespace = call(fresh_session, "pid_namespace")
    # Twice the limit from the first process alone, more from its children: far past the limit.
    refused = call(fresh_session, "fork_bomb", 2 * LIMITS.max_processes, 2)
    assert refused == "EAGAIN"
    held = sandbox_pids(OWN_SLOT, [namespace])
    # The worker's processes (its children still hold their slots) stay within the limit, plus the
    # PID namespace's own init, which bwrap runs outside the limit.
    assert 1 < len(held) <= LIMITS.max_processes + 1
    # The host can still start processes, and the worker still answers.
    subprocess.run([sys.executable, "-c", "pass"], check=True, timeout=60)
    assert_answers(fresh_session)
    fresh_session.close()
    assert wait_until_gone(OWN_SLOT, [namespace]) == []


def test_killing_the_parent_does_not_reach_the_grader(backend: Sandbox, session: WorkerSession) -> None:
    _requires_separation(backend)
    assert_answers(session)
    try:
        outcome = call(session, "kill_parent")
    except WorkerFailure as exc:  # it may take its own sandbox down with it, never more
        assert exc.kind == "crash"
    else:
        # Either the grader is out of sight (a PID namespace) or the kernel refused (another uid).
        assert outcome["ppid"] != os.getpid() or outcome["result"] == "EPERM", outcome
        assert outcome["result"] in ("EPERM", "sent")
    assert_answers(session)


@pytest.mark.parametrize("func", ["kill_group", "kill_everyone"])
def test_killing_its_group_or_everyone_does_not_reach_the_grader(
    backend: Sandbox, session: WorkerSession, func: str
) -> None:
    _requires_separation(backend)
    assert_answers(session)
    try:
        call(session, func)
    except WorkerFailure as exc:
        assert exc.kind == "crash"
    assert_answers(session)


def test_a_worker_preloads_torch_only_when_asked(
    backend: Sandbox, submission: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """For workers started from a fresh interpreter (a worker forked from the zygote always has torch)."""
    monkeypatch.setenv(ZYGOTE_ENV, "0")
    names = ["torch"]
    with _new_session(backend, submission, OWN_SLOT) as plain:
        assert call(plain, "imported", names) == [False]
    spec = LaunchSpec(submission, LIMITS, slot=OWN_SLOT, preload=("torch",))
    with WorkerSession(backend, spec, output_cap=OUTPUT_CAP) as preloaded:
        assert call(preloaded, "imported", names) == [True]
        assert preloaded.starts == 1
        # A worker started again after a crash imports only what its checks ask for.
        with pytest.raises(WorkerFailure):
            call(preloaded, "exit_now", 3)
        assert call(preloaded, "imported", names) == [False]
        assert preloaded.starts == 2


def test_a_request_waits_for_the_start_under_way_and_uses_that_worker(backend: Sandbox, submission: Path) -> None:
    """A worker started ahead by another thread (which stays alive, as the rubric's does) answers the
    first request; closing waits for a start under way, so nothing is left behind."""
    done = threading.Event()
    with _new_session(backend, submission, OWN_SLOT) as session:

        def start_and_stay() -> None:
            session.start_ahead()
            done.wait()

        starter = threading.Thread(target=start_and_stay)
        starter.start()
        try:
            assert call(session, "add", 2, 3) == 5
            assert session.starts == 1
        finally:
            session.close()
            done.set()
            starter.join()
    assert wait_until_gone(OWN_SLOT) == []
    with _new_session(backend, submission, OWN_SLOT) as closing:
        closer = threading.Thread(target=closing.start_ahead)
        closer.start()
        closing.close()  # before, during or after the start: never a worker left running
        closer.join()
        closing.close()
    assert wait_until_gone(OWN_SLOT) == []


def test_close_leaves_no_process_behind(backend: Sandbox, submission: Path) -> None:
    """A daemonised grandchild (double fork + setsid, polite signals ignored) dies with the session."""
    if not separated_from_grader(backend, DAEMON_SLOT):
        pytest.skip("without a uid or PID namespace of its own, a worker's daemon cannot be told from the grader's")
    session = _new_session(backend, submission, DAEMON_SLOT)
    namespace = call(session, "daemonise", 600)
    assert len(sandbox_pids(DAEMON_SLOT, [namespace])) >= 2, "the worker and its daemon should be visible before close"
    session.close()
    assert wait_until_gone(DAEMON_SLOT, [namespace]) == []


def test_sessions_leave_no_descriptor_open(backend: Sandbox, submission: Path) -> None:
    """Pipes, selectors and sockets of a worker are released whether it ended well, crashed or hung."""

    def open_descriptors() -> int:
        return len(os.listdir("/proc/self/fd"))

    def one_session() -> None:
        with _new_session(backend, submission, OWN_SLOT) as session:
            assert_answers(session)
            with pytest.raises(WorkerFailure):
                call(session, "hang", "sleep", timeout=0.5)
            assert_answers(session)

    one_session()  # anything opened once per process (the zygote, a client) is open from now on
    before = open_descriptors()
    for _ in range(3):
        one_session()
    assert open_descriptors() == before
