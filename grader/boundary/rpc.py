"""The trusted side of the worker protocol: one session per submission, restarted after any failure.

A :class:`WorkerSession` starts a worker through a sandbox backend on first use, sends requests with
a wall-clock deadline, and turns every way a worker can go wrong into one exception type with a
message a student can act on. After a crash, a timeout or a protocol violation it kills the worker;
the next request starts a fresh one. Objects created in the old worker are then gone, and their
handles say so.
"""

from __future__ import annotations

import dataclasses
import io
import os
import selectors
import signal
import threading
import time
from typing import Any

from grader.boundary.decode import MAX_REPLY_BYTES, SubmissionValueError, check_reply_size, decode_reply
from grader.sandbox.base import LaunchSpec, Sandbox, SandboxUnavailable, WorkerProcess
from grader.worker import protocol

#: How much of what the student prints is kept per check; the rest is read and dropped.
OUTPUT_CAP_BYTES = 1024 * 1024
START_TIMEOUT_S = 60.0
#: How often a worker that fails before running any student code is started again.
START_ATTEMPTS = 3
START_RETRY_DELAY_S = 0.5


class WorkerFailure(Exception):
    """The worker could not answer. ``kind``: crash, timeout, protocol, exception, value or budget (the
    submission's doing); unavailable or grader (the grading machine's: never the submission's fault)."""

    def __init__(self, kind: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.details = details or {}


class StudentException(WorkerFailure):
    """Student code raised; the worker is alive. ``details`` has type, message, where, traceback."""

    def __init__(self, details: dict[str, Any]) -> None:
        name = str(details.get("type", "Exception"))
        message = str(details.get("message", ""))
        where = details.get("where") or []
        place = ""
        if where and isinstance(where[-1], dict):
            last = where[-1]
            place = f" ({last.get('file')}, line {last.get('line')}"
            place += f", in {last.get('function')})" if last.get("function") else ")"
            if message.endswith(f"({last.get('file')}, line {last.get('line')})"):
                place = ""  # a SyntaxError's message already names the file and line
        super().__init__("exception", f"{name}: {message}{place}" if message else f"{name}{place}", details)
        self.type_name = name


class _OutputCollector(threading.Thread):
    """Drains the worker's stderr so it can never block, keeping at most ``cap`` bytes."""

    def __init__(self, stream: Any, cap: int) -> None:
        super().__init__(daemon=True)
        self._fd = stream.fileno()
        self._cap = cap
        self._lock = threading.Lock()
        self._kept = bytearray()
        self._dropped = 0

    def run(self) -> None:
        while True:
            try:
                chunk = os.read(self._fd, 1 << 16)
            except OSError:
                return
            if not chunk:
                return
            with self._lock:
                room = self._cap - len(self._kept)
                if room > 0:
                    self._kept += chunk[:room]
                self._dropped += max(0, len(chunk) - max(room, 0))

    def take(self) -> str:
        with self._lock:
            text = self._kept.decode("utf-8", errors="replace")
            if self._dropped:
                text += f"\n... ({self._dropped} more bytes of output not shown)"
            self._kept.clear()
            self._dropped = 0
        return text


@dataclasses.dataclass
class _Live:
    process: WorkerProcess
    output: _OutputCollector
    generation: int
    buffer: bytearray = dataclasses.field(default_factory=bytearray)
    #: Waits for the worker's replies; one per worker, not one per read (a grading makes hundreds).
    replies: selectors.BaseSelector | None = None

    def reply_selector(self) -> selectors.BaseSelector:
        if self.replies is None:
            self.replies = selectors.DefaultSelector()
            self.replies.register(self.process.stdout.fileno(), selectors.EVENT_READ)
        return self.replies

    def close(self) -> None:
        """Kill the worker and everything it started, and release the reply selector."""
        self.process.close()
        if self.replies is not None:
            self.replies.close()
            self.replies = None


class WorkerSession:
    """A restartable connection to one submission's worker."""

    def __init__(self, sandbox: Sandbox, spec: LaunchSpec, output_cap: int = OUTPUT_CAP_BYTES) -> None:
        self.sandbox = sandbox
        self.spec = spec
        self.output_cap = output_cap
        self._live: _Live | None = None
        self._generation = 0
        self._next_id = 1
        self._orphan_output = ""
        self._limit_s = START_TIMEOUT_S
        self.starts = 0
        #: Values received from the submission so far (a check that got none cannot blame one).
        self.replies = 0
        #: The running check's time budget (``grader.engine.budget.CheckBudget``), or None: every
        #: request's time limit is shortened to what the budget has left.
        self.budget: Any = None
        #: Held while a worker starts, so a request (or close) waits for a start already under way.
        self._starting = threading.RLock()
        #: Whether a worker of this session has been ready; one started after that preloads nothing.
        self._was_ready = False

    # -- lifecycle ------------------------------------------------------------------

    @property
    def generation(self) -> int:
        """Increments with every fresh worker; handles from an older generation are stale."""
        return self._generation

    def _ensure_started(self, timeout: float) -> _Live:
        """The live worker, started if needed.

        No student code runs before the worker says it is ready (the shim imports the submission only
        when asked), so a worker that cannot start or dies before that is the grading machine's fault
        (a sandbox that failed, a host limit another grading exhausted): it is tried again, and if it
        still fails the failure is of kind ``grader``, never blamed on the submission.
        """
        with self._starting:
            if self._live is not None:
                return self._live
            return self._start(timeout)

    def _start(self, timeout: float) -> _Live:
        problems: list[str] = []
        for attempt in range(START_ATTEMPTS):
            if attempt:
                time.sleep(START_RETRY_DELAY_S * attempt)
            earlier_output = self._orphan_output
            try:
                return self._start_once(timeout)
            except WorkerFailure as exc:
                # What a worker that failed to start printed is the sandbox's, not the submission's (no
                # student code has run): its last line goes into the message, the rest is dropped.
                printed = self._orphan_output[len(earlier_output) :].strip().splitlines()
                problems.append(f"{exc}: {printed[-1][:300]}" if printed else str(exc))
                self._orphan_output = earlier_output
        raise WorkerFailure(
            "grader",
            f"the grader could not start a worker after {START_ATTEMPTS} attempts ({problems[-1]}); "
            "this is a fault of the grading machine, not of the submission: grade it again",
        )

    def _start_once(self, timeout: float) -> _Live:
        spec = self.spec
        if self._was_ready:
            # A worker started again after a failure imports only what its checks ask for: a submission
            # that crashes in check after check would otherwise pay every preload again.
            spec = dataclasses.replace(spec, preload=())
        try:
            process = self.sandbox.start(spec)
        except SandboxUnavailable as exc:
            raise WorkerFailure("unavailable", str(exc)) from None
        self._generation += 1
        self.starts += 1
        output = _OutputCollector(process.stderr, self.output_cap)
        output.start()
        live = _Live(process, output, self._generation)
        self._live = live
        self._limit_s = max(timeout, START_TIMEOUT_S)
        header, _ = self._read_message(live, time.monotonic() + self._limit_s, "start-up")
        if header.get("id") != 0 or header.get("ok") is not True:
            self._fail(live, "protocol", "the worker did not start properly")
        self._was_ready = True
        return live

    def start_ahead(self) -> None:
        """Start the worker if none is live and wait until it is ready; never raises.

        For a thread that starts workers before their first request: no student code runs before a
        request, so a start that fails here is simply tried again, and reported, by the first request.
        The calling thread must live as long as the worker: a worker's parent-death signal (bwrap's
        ``--die-with-parent``, the launcher's ``PR_SET_PDEATHSIG``) fires when the thread that started
        it ends.
        """
        try:
            self._ensure_started(START_TIMEOUT_S)
        except WorkerFailure:
            pass

    def close(self) -> None:
        """Kill the worker (if any) and everything it started."""
        with self._starting:
            live, self._live = self._live, None
        if live is not None:
            live.close()
            live.output.join(timeout=2)

    def restart(self) -> None:
        """Drop the current worker; the next request starts a fresh one."""
        self.close()

    def take_output(self) -> str:
        """Return and forget what the worker printed since the last call (capped)."""
        text, self._orphan_output = self._orphan_output, ""
        if self._live is not None:
            text += self._live.output.take()
        return text

    def __enter__(self) -> WorkerSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests -------------------------------------------------------------------

    def request(self, body: dict[str, Any], timeout: float, *, what: str = "") -> tuple[Any, dict[str, Any]]:
        """Send one request; return ``(value, extras)`` where extras holds the reply's other fields.

        Raises :class:`StudentException` when student code raised (worker kept), or
        :class:`WorkerFailure` after killing the worker for a crash, timeout or protocol error.
        """
        what = what or str(body.get("op"))
        clipped = False
        if self.budget is not None:
            timeout, clipped = self.budget.clip(timeout)
        try:
            return self._request(body, timeout, what)
        except WorkerFailure as exc:
            if clipped and exc.kind == "timeout":
                raise WorkerFailure("budget", self.budget.reason()) from None
            raise

    def _request(self, body: dict[str, Any], timeout: float, what: str) -> tuple[Any, dict[str, Any]]:
        live = self._ensure_started(timeout)
        request_id = self._next_id
        self._next_id += 1
        blobs: list[bytes] = []
        payload = protocol.encode_value(body, blobs)
        deadline = time.monotonic() + timeout
        self._limit_s = timeout
        message = io.BytesIO()
        protocol.write_message(message, {"id": request_id, "body": payload}, blobs)
        self._write_all(live, message.getbuffer(), deadline, what)
        del message
        header, reply_blobs = self._read_message(live, deadline, what)
        if header.get("id") != request_id:
            self._fail(live, "protocol", f"the worker answered out of turn during {what}")
        if header.get("ok") is True:
            try:
                # The deadline covers decoding too: a reply is data the submission chose.
                reply = decode_reply(header.get("body"), reply_blobs, deadline)
            except SubmissionValueError as exc:
                # The worker is in step and alive: only the value is wrong.
                raise WorkerFailure("value", f"{what} returned {exc}") from None
            except protocol.ProtocolError as exc:
                self._fail(live, "protocol", f"the worker sent an invalid reply during {what}: {exc}")
            if not isinstance(reply, dict) or "value" not in reply:
                self._fail(live, "protocol", f"the worker sent a malformed reply during {what}")
            value = reply.pop("value")
            self.replies += 1
            return value, reply
        if header.get("ok") is False and isinstance(header.get("error"), dict):
            raise StudentException(header["error"])
        self._fail(live, "protocol", f"the worker sent a malformed reply during {what}")
        raise AssertionError("unreachable")

    def _read_message(self, live: _Live, deadline: float, what: str) -> tuple[dict[str, Any], list[bytes]]:
        try:
            header = protocol.parse_header(self._read_frame(live, deadline, what))
        except protocol.ProtocolError as exc:
            self._fail(live, "protocol", f"the worker sent an invalid reply during {what}: {exc}")
        try:
            count = protocol.header_array_count(header)
        except protocol.ProtocolError as exc:
            self._fail(live, "protocol", f"the worker sent an invalid reply during {what}: {exc}")
        blobs: list[bytes] = []
        total = 0
        for _ in range(count):
            blobs.append(self._read_frame(live, deadline, what, MAX_REPLY_BYTES - total))
            total += len(blobs[-1])
        return header, blobs

    def _write_all(self, live: _Live, data: memoryview, deadline: float, what: str) -> None:
        """Write a whole request before ``deadline``: a worker that stops reading cannot block us.

        A worker whose stdin is a pipe of ours is written to directly, non-blocking, waiting for room
        with ``select``. Otherwise (Docker's stdin is the attach socket, shared with its reader) the write
        runs in a helper thread; on timeout the worker is killed, which breaks the socket and so ends
        the blocked write. The thread per request cost up to a few milliseconds each under load.
        """
        if live.process.stdin_is_own_pipe:
            self._write_pipe(live, data, deadline, what)
            return
        errors: list[BaseException] = []

        def send() -> None:
            try:
                live.process.stdin.write(data)
                live.process.stdin.flush()
            except (OSError, ValueError) as exc:
                errors.append(exc)

        writer = threading.Thread(target=send, name="worker-request", daemon=True)
        writer.start()
        writer.join(max(0.0, deadline - time.monotonic()))
        if writer.is_alive():
            self._fail(live, "timeout", self._unread(what))
        if errors:
            self._fail(live, "crash", self._death_message(live, what))

    def _write_pipe(self, live: _Live, data: memoryview, deadline: float, what: str) -> None:
        fd = live.process.stdin.fileno()
        os.set_blocking(fd, False)
        rest = data
        selector: selectors.BaseSelector | None = None  # only when the pipe is full: a request usually fits
        try:
            while True:
                try:
                    rest = rest[os.write(fd, rest) :]
                except BlockingIOError:
                    pass
                except OSError:  # a broken pipe: the worker is gone
                    self._fail(live, "crash", self._death_message(live, what))
                if not rest:
                    return
                if selector is None:
                    selector = selectors.DefaultSelector()
                    selector.register(fd, selectors.EVENT_WRITE)
                if not selector.select(max(0.0, deadline - time.monotonic())) and time.monotonic() >= deadline:
                    self._fail(live, "timeout", self._unread(what))
        finally:
            if selector is not None:
                selector.close()

    def _unread(self, what: str) -> str:
        return f"{what} did not finish within {self._limit_s:g} s (the request was not read)"

    def _read_frame(self, live: _Live, deadline: float, what: str, room: int = MAX_REPLY_BYTES) -> bytes:
        prefix = self._read_bytes(live, 4, deadline, what)
        try:
            length = protocol.frame_length(prefix)
            if length > room:
                check_reply_size([MAX_REPLY_BYTES + 1])
        except protocol.ProtocolError as exc:
            self._fail(live, "protocol", f"the worker broke the protocol during {what}: {exc}")
        return self._read_bytes(live, length, deadline, what)

    def _read_bytes(self, live: _Live, n: int, deadline: float, what: str) -> bytes:
        fd = live.process.stdout.fileno()
        selector = live.reply_selector()
        while len(live.buffer) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                if time.monotonic() >= deadline:
                    self._fail(live, "timeout", f"{what} did not finish within {self._limit_s:g} s")
                continue
            try:
                chunk = os.read(fd, max(1 << 16, n - len(live.buffer)))
            except OSError:
                chunk = b""
            if not chunk:
                self._fail(live, "crash", self._death_message(live, what))
            live.buffer += chunk
        data = bytes(live.buffer[:n])
        del live.buffer[:n]
        return data

    def _death_message(self, live: _Live, what: str) -> str:
        status = None
        for _ in range(50):
            status = live.process.poll()
            if status is not None:
                break
            time.sleep(0.01)
        if status is None:
            return f"the worker stopped answering during {what}"
        if status < 0 or status > 128:
            signum = -status if status < 0 else status - 128
            try:
                name = signal.Signals(signum).name
            except ValueError:
                name = f"signal {signum}"
            hint = {
                "SIGSEGV": " (segmentation fault)",
                "SIGKILL": " (killed: memory or process limit, or the time limit)",
                "SIGXCPU": " (CPU time limit)",
                "SIGXFSZ": " (file size limit)",
            }.get(name, "")
            return f"the worker died from {name}{hint} during {what}"
        return f"the worker exited with status {status} during {what}"

    def _fail(self, live: _Live, kind: str, message: str) -> None:
        """Kill the worker and raise; a later request starts a fresh one."""
        if self._live is live:
            self._live = None
        live.close()
        live.output.join(timeout=2)
        self._orphan_output += live.output.take()
        raise WorkerFailure(kind, message)
