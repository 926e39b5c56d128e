"""Run an assignment pack's pytest checks in the trusted process and turn their outcomes into results.

The engine, not the pack, decides how pytest runs: its own ini file (so no ``pytest.ini``,
``pyproject.toml`` or ``conftest.py`` near a pack or a submission takes part), strict markers that it
registers itself, no plugin autoloading and no ``PYTEST_*`` variables. Check modules are imported
under the pack's own package name (:mod:`grader.engine.packs`), never by bare file name, so grading
two packs in one process never mixes their modules. The pack's ``fixtures.py`` is registered as a
plugin. Checks reach the submission only through the ``student`` fixture, a proxy to a sandboxed
worker.

Markers a check may carry (see :mod:`grader.pack`):

- ``points(n)``: its weight (required: a check without it is refused when the pack loads);
- ``title("...")``: the human title shown to students;
- ``hidden``: inputs and details are not shown to students; runs in a worker of its own so that
  nothing the submission saw there can leak into a visible check's output;
- ``needs("file.py", ...)``: submission files without which it scores 0 without running;
- ``training``: runs in a worker with the training limits (more time and memory, data mounted);
- ``freezable``: a visible check on fixed inputs whose trusted values the student bundle stores as
  data (:mod:`grader.engine.bundle`); the full grader runs it like any other check.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import io
import os
import shutil
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from grader.boundary.rpc import StudentException, WorkerFailure, WorkerSession
from grader.boundary.student import Student
from grader.engine.budget import BudgetSettings, CheckBudget, GradingBudget
from grader.engine.compare import CheckFailed
from grader.engine.packs import Assignment, AssignmentError
from grader.engine.secret import derive_seed
from grader.results import CheckResult
from grader.sandbox.base import PRELOADABLE, LaunchSpec, Limits, Sandbox

SHOWN_OUTPUT_CHARS = 2000
#: The engine's own pytest configuration; nothing near a pack or a submission is read instead.
RUBRIC_INI = Path(__file__).resolve().with_name("rubric.ini")
#: Marker name -> its description, registered by the engine (pytest runs with strict markers).
MARKERS = {
    "points": "points(n): the check's weight in points (required)",
    "title": "title(text): the check's title shown to students",
    "hidden": "hidden: inputs and details are not shown to students",
    "needs": "needs(*files): submission files the check cannot run without",
    "training": "training: runs with the training limits (time, memory, data)",
    "freezable": "freezable: visible with fixed inputs; the student bundle ships it with frozen expected values",
    "preload": "preload(*libraries): the check's worker imports these (only 'torch') before it starts",
}
MIB = 1024 * 1024
#: How the feedback of a check stopped by a ``NotImplementedError`` starts (``grade check`` groups by it).
NOT_IMPLEMENTED = "not implemented yet"
#: Exceptions a check raises when a value the submission returned has the wrong form or size.
VALUE_ERRORS = (ValueError, TypeError, OverflowError, IndexError, KeyError, ZeroDivisionError, FloatingPointError)


@dataclasses.dataclass
class GradingContext:
    """Everything the checks may use, handed to the plugin by the grading run."""

    assignment: Assignment
    submission_dir: Path
    submission_files: tuple[str, ...]
    submission_sha256: str
    sandbox: Sandbox
    data_dir: Path | None = None
    secret: str = ""
    slot: int = 0
    #: Why the submission could not be taken in; every check then errors with this reason.
    rejection: str | None = None
    on_check: Callable[[CheckResult], None] | None = None
    #: Run only the checks students may see (``grade check``): hidden ones are deselected, never started.
    visible_only: bool = False
    #: A public seed that replaces the secret-derived ``hidden_seed``/``input_seed`` (the student bundle's
    #: advisory self-check replays values recorded for it); None, always in an official grading: the secret.
    public_seed: int | None = None


@dataclasses.dataclass
class Check:
    """Per-check recorder, given to checks as the ``check`` fixture."""

    fraction: float | None = None
    notes: list[str] = dataclasses.field(default_factory=list)
    diagnosis: str | None = None

    def partial(self, fraction: float) -> None:
        """Award ``fraction`` of the points even if the check then fails."""
        self.fraction = min(max(float(fraction), 0.0), 1.0)

    def note(self, text: str) -> None:
        """Add a line of feedback (shown whether the check passes or fails)."""
        self.notes.append(text)

    def diagnose(self, mistake: str) -> None:
        """Name the common mistake the submission's output matches."""
        self.diagnosis = mistake


def _shorten(text: str, limit: int) -> str:
    """The start and the end of long output (the end often holds the error), with the gap counted."""
    if len(text) <= limit:
        return text
    head, tail = text[: limit // 2], text[-limit // 2 :]
    return f"{head}\n... ({len(text) - len(head) - len(tail)} characters not shown) ...\n{tail}"


def _marker_arg(item: pytest.Item, name: str, default: Any = None) -> Any:
    marker = item.get_closest_marker(name)
    return marker.args[0] if marker and marker.args else default


def _worker_key(item: pytest.Item) -> tuple[bool, bool]:
    """Which worker a check runs in, as (hidden, training): checks of one kind share a worker."""
    return item.get_closest_marker("hidden") is not None, item.get_closest_marker("training") is not None


class GradingPlugin:
    """Provides the rubric's fixtures and collects one :class:`CheckResult` per check."""

    def __init__(self, context: GradingContext) -> None:
        self.context = context
        self.results: list[CheckResult] = []
        self._sessions: dict[tuple[bool, bool], WorkerSession] = {}
        self._checks: dict[str, Check] = {}
        self._started: dict[str, float] = {}
        self._data_dir: Path | None = None
        self._import_failures: dict[str, WorkerFailure] = {}
        #: Problems of the pack itself found while collecting (missing points, unknown markers, imports).
        self.load_errors: list[str] = []
        # -- time budgets (grader.engine.budget) --
        limits = context.assignment.limits
        self.budget = GradingBudget(BudgetSettings.from_limits(limits.check_seconds, limits.train_seconds))
        self._check_budgets: dict[str, CheckBudget] = {}
        # -- whose failure it was: the grading machine's, or the submission's values --
        self.grader_failures: list[str] = []
        self._replies_at_start: dict[str, int] = {}
        self._ahead: threading.Thread | None = None
        self._grading_over = threading.Event()
        #: What each kind of worker imports ahead: the union of its checks' ``preload`` markers.
        self._preloads: dict[tuple[bool, bool], tuple[str, ...]] = {}

    # -- sessions -----------------------------------------------------------------------

    def _limits(self, training: bool) -> Limits:
        settings = self.context.assignment.limits
        memory = settings.train_memory_mb if training else settings.memory_mb
        budget = settings.train_seconds if training else settings.check_seconds
        return Limits(
            cpu_seconds=int(budget * 4 + 60),
            memory_bytes=memory * MIB,
            max_processes=settings.max_processes,
            tmpfs_bytes=settings.tmpfs_mb * MIB,
        )

    def session(self, hidden: bool, training: bool) -> WorkerSession:
        key = (hidden, training)
        if key not in self._sessions:
            data = self._data_dir if training else None
            spec = LaunchSpec(
                self.context.submission_dir,
                self._limits(training),
                data_dir=data,
                slot=self.context.slot,
                preload=self._preloads.get(key, ()),
            )
            self._sessions[key] = WorkerSession(self.context.sandbox, spec)
        return self._sessions[key]

    def plan_workers(self, items: list[pytest.Item]) -> None:
        """Decide what each kind of worker imports ahead, then start the workers the checks will ask
        for, in the background and in the order they will ask.

        A worker's start (a sandbox, an interpreter, numpy, and torch when a check says ``preload``
        while this process is still to import it too) then overlaps with pytest setting up and with
        the trusted side's own work (importing the reference, computing expected values), instead of
        being paid inside the first check of each kind. Training workers start on demand: their data
        folder is filled by the checks that use it.
        """
        keys: list[tuple[bool, bool]] = []
        for item in items:
            if "student" not in getattr(item, "fixturenames", ()):
                continue
            key = _worker_key(item)
            if not self._missing_files(item):
                # A check that will not run for a missing file preloads nothing; nor does a library this
                # process has imported already (a batch worker, a second grading): the worker's import
                # then overlaps with nothing, and only moves onto the first check's wait.
                libraries = {lib for marker in item.iter_markers("preload") for lib in marker.args}
                libraries = {lib for lib in libraries if lib not in sys.modules}
                self._preloads[key] = tuple(sorted(libraries.union(self._preloads.get(key, ()))))
            if not key[1] and key not in keys:
                keys.append(key)
        if self.context.rejection or self._ahead is not None or not keys:
            return
        sessions = [self.session(*key) for key in keys]
        self._ahead = threading.Thread(target=self._start_and_stay, args=(sessions,), name="workers-ahead")
        self._ahead.start()

    def _start_and_stay(self, sessions: list[WorkerSession]) -> None:
        for session in sessions:
            session.start_ahead()
        # A worker dies with the thread that started it (see WorkerSession.start_ahead): this thread
        # lives until the grading ends.
        self._grading_over.wait()

    def close(self) -> None:
        if self._ahead is not None:
            # Waits for a start under way, which would otherwise leave its worker running.
            self._grading_over.set()
            self._ahead.join()
            self._ahead = None
        for session in self._sessions.values():
            session.close()
        self._sessions.clear()
        if self._data_dir is not None:
            shutil.rmtree(self._data_dir, ignore_errors=True)
            self._data_dir = None

    @property
    def worker_starts(self) -> int:
        return sum(s.starts for s in self._sessions.values())

    # -- fixtures -------------------------------------------------------------------------

    @pytest.fixture
    def student(self, request: pytest.FixtureRequest) -> Student:
        item = request.node
        hidden, training = _worker_key(item)
        session = self.session(hidden, training)
        session.budget = self._check_budgets.get(item.nodeid)
        settings = self.context.assignment.limits
        timeout = settings.train_seconds if training else settings.check_seconds
        return Student(session, timeout, self._import_failures)

    @pytest.fixture
    def check(self, request: pytest.FixtureRequest) -> Check:
        return self._checks.setdefault(request.node.nodeid, Check())

    @pytest.fixture(scope="session")
    def assignment(self) -> Assignment:
        return self.context.assignment

    @pytest.fixture(scope="session")
    def settings(self) -> Any:
        """The pack's own ``[settings]``, validated by its ``Settings`` model."""
        return self.context.assignment.settings

    @pytest.fixture(scope="session")
    def submission_files(self) -> tuple[str, ...]:
        return self.context.submission_files

    @pytest.fixture(scope="session")
    def data_dir(self) -> Path | None:
        """Where the instructor's data sets live (trusted side), or None."""
        return self.context.data_dir

    @pytest.fixture(scope="session")
    def submission_dir(self) -> Path:
        """The grader's own read-only copy of the submission (safe to read small files from)."""
        return self.context.submission_dir

    @pytest.fixture(scope="session")
    def training_data_dir(self) -> Path:
        """A folder whose ``NAME.npy`` files training workers see read-only (``Ref("$file", NAME)``).

        Fill it before the first ``student`` of a ``training`` check: it is mounted when that
        worker starts. Only training inputs belong here, never validation or test labels.
        """
        if self._data_dir is None:
            self._data_dir = Path(tempfile.mkdtemp(prefix="backprop-grader-data-"))
            self._data_dir.chmod(0o755)
        return self._data_dir

    @pytest.fixture(scope="session")
    def hidden_seed(self) -> int:
        """A seed for hidden inputs: fixed for a submission under one grading secret (regrading is
        reproducible), unknown to students (the grader always has a secret, ``grader.engine.secret``).
        Only a bundle's self-check sets a public seed instead (see ``GradingContext.public_seed``)."""
        if self.context.public_seed is not None:
            return self.context.public_seed
        return derive_seed(self.context.secret, self.context.submission_sha256)

    @pytest.fixture(scope="session")
    def input_seed(self) -> Callable[[str], int]:
        """``input_seed(label)``: a seed per kind of input, derived from the grading secret (never
        known to the submission) and the submission's hash (a regrade with the same secret repeats it)."""
        if self.context.public_seed is not None:
            public = self.context.public_seed
            return lambda label: derive_seed(f"public:{public}", "", label)
        return lambda label: derive_seed(self.context.secret, self.context.submission_sha256, label)

    # -- hooks ------------------------------------------------------------------------------

    def pytest_configure(self, config: pytest.Config) -> None:
        config.stash[ASSIGNMENT_KEY] = self.context.assignment
        for line in MARKERS.values():
            config.addinivalue_line("markers", line)

    @pytest.hookimpl(tryfirst=True)
    def pytest_collect_directory(self, path: Path, parent: pytest.Collector) -> pytest.Collector:
        """Plain folders only: a pytest ``Package`` would import the pack's ``__init__`` by file path."""
        return pytest.Dir.from_parent(parent, path=path)

    @pytest.hookimpl(tryfirst=True)
    def pytest_pycollect_makemodule(self, module_path: Path, parent: pytest.Collector) -> pytest.Module:
        return PackModule.from_parent(parent, path=module_path)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            text = str(report.longrepr).strip().splitlines()
            self.load_errors.append(f"{report.nodeid or 'the pack'}: {text[-1] if text else 'cannot be collected'}")

    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        """Refuse checks without points; with ``visible_only``, drop hidden checks before anything runs."""
        for item in items:
            marker = item.get_closest_marker("points")
            if marker is None or len(marker.args) != 1 or not _is_points(marker.args[0]):
                self.load_errors.append(f"{item.nodeid}: every check needs @points(n) with one number n >= 0")
            for preload in item.iter_markers("preload"):
                unknown = [lib for lib in preload.args if lib not in PRELOADABLE]
                if unknown or not preload.args:
                    allowed = ", ".join(sorted(PRELOADABLE))
                    self.load_errors.append(f"{item.nodeid}: @preload takes library names among: {allowed}")
        if self.load_errors:
            config.hook.pytest_deselected(items=list(items))
            items[:] = []
            return
        if not self.context.visible_only:
            return
        hidden = [item for item in items if item.get_closest_marker("hidden") is not None]
        if hidden:
            items[:] = [item for item in items if item.get_closest_marker("hidden") is None]
            config.hook.pytest_deselected(items=hidden)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.plan_workers(session.items)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self._started[item.nodeid] = time.monotonic()
        self._replies_at_start[item.nodeid] = self._replies()
        if self.context.rejection:
            raise WorkerFailure("rejected", f"submission not graded: {self.context.rejection}")
        missing = self._missing_files(item)
        if missing:
            raise CheckFailed(f"{', '.join(missing)} is missing from the submission")
        self._check_budgets[item.nodeid] = self.budget.start(item.get_closest_marker("training") is not None)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
        outcome = yield
        report = outcome.get_result()
        if report.when == "call" or (report.when == "setup" and not report.passed):
            self._end_budget(item)
            result = self._result(item, call, report)
            self.results.append(result)
            if self.context.on_check is not None:
                self.context.on_check(result)

    def _missing_files(self, item: pytest.Item) -> list[str]:
        """The files the check ``needs`` that the submission does not have."""
        needed = item.get_closest_marker("needs")
        return [f for f in (needed.args if needed else ()) if f not in self.context.submission_files]

    def _end_budget(self, item: pytest.Item) -> None:
        """Charge the check's time to its kind's total; no later request of it is clipped by it."""
        budget = self._check_budgets.pop(item.nodeid, None)
        if budget is not None:
            self.budget.finish(budget)
        for session in self._sessions.values():
            if session.budget is budget:
                session.budget = None

    def _result(self, item: pytest.Item, call: pytest.CallInfo, report: pytest.TestReport) -> CheckResult:
        points = float(_marker_arg(item, "points", 0.0))
        hidden, training = _worker_key(item)
        check = self._checks.pop(item.nodeid, Check())
        status, message, diagnosis = self._verdict(call, report, check)
        if status == "error" and message.startswith("internal error") and call.excinfo is not None:
            _show_traceback(item.nodeid, call.excinfo.value)
        status, message, diagnosis = self._attribute(item, call, status, message, diagnosis)
        if status == "passed":
            fraction = 1.0 if check.fraction is None else check.fraction
            if fraction < 1.0:
                status = "failed"
        else:
            fraction = check.fraction or 0.0
        lines = [message] if message else []
        lines += check.notes
        session = self._sessions.get((hidden, training))
        printed = session.take_output() if session is not None else ""
        if printed.strip() and not hidden:
            lines.append("Your code printed:\n" + _shorten(printed, SHOWN_OUTPUT_CHARS))
        return CheckResult(
            name=item.nodeid.split("::", 1)[-1] if "::" in item.nodeid else item.nodeid,
            title=str(_marker_arg(item, "title", item.name)),
            score=round(points * fraction, 6),
            max_score=points,
            status=status,
            output="\n".join(lines),
            visibility="hidden" if hidden else "visible",
            diagnosis=diagnosis,
            duration_s=round(time.monotonic() - self._started.pop(item.nodeid, time.monotonic()), 4),
            tags=[m.name for m in item.iter_markers() if m.name in ("hidden", "training")],
        )

    def _replies(self) -> int:
        return sum(session.replies for session in self._sessions.values())

    def _attribute(
        self, item: pytest.Item, call: pytest.CallInfo, status: str, message: str, diagnosis: str | None
    ) -> tuple[str, str, str | None]:
        """Tell the grading machine's failures apart from the submission's.

        A worker that never started is the machine's fault: recorded, so the grading ends as ``error``
        (a batch grades it again), never as the student's mistake. An unexpected exception in a check
        that received values from the submission comes from those values (a number too large to
        convert, a list of odd length): the submission's mistake, reported as such.
        """
        error = call.excinfo.value if call.excinfo else None
        if isinstance(error, WorkerFailure) and error.kind in ("grader", "unavailable"):
            self.grader_failures.append(f"{item.name}: {error}")
            return status, message, diagnosis
        got_values = self._replies() > self._replies_at_start.pop(item.nodeid, self._replies())
        if (
            status == "error"
            and message.startswith("internal error")
            and got_values
            and isinstance(error, VALUE_ERRORS)
        ):
            return (
                "failed",
                f"your code returned a value this check cannot use ({type(error).__name__}: {error})",
                diagnosis,
            )
        return status, message, diagnosis

    @staticmethod
    def _verdict(call: pytest.CallInfo, report: pytest.TestReport, check: Check) -> tuple[str, str, str | None]:
        """Map a pytest outcome to (status, message, diagnosis). Only an explicit pass passes."""
        if report.skipped:
            reason = call.excinfo.value.msg if call.excinfo and hasattr(call.excinfo.value, "msg") else ""
            return "skipped", str(reason or "skipped"), None
        if report.passed:
            return "passed", "", check.diagnosis
        error = call.excinfo.value if call.excinfo else None
        if isinstance(error, CheckFailed):
            return "failed", error.message, error.diagnosis or check.diagnosis
        if isinstance(error, StudentException):
            if error.type_name == "NotImplementedError":
                return "failed", f"{NOT_IMPLEMENTED} ({error})", check.diagnosis
            return "failed", f"your code raised {error}", check.diagnosis
        if isinstance(error, WorkerFailure):
            # Running out of time and unusable values are the submission's doing, not faults of the grading.
            return ("failed" if error.kind in ("budget", "value") else "error"), str(error), check.diagnosis
        if isinstance(error, AssertionError):
            return "failed", str(error).split("\nassert")[0], check.diagnosis
        name = type(error).__name__ if error else "unknown error"
        return "error", f"internal error in this check ({name}: {error}); please report it", None


#: Set to ``1``: the traceback of an internal error in a check goes to standard error (never into the result).
DEBUG_ENV = "BACKPROP_GRADER_DEBUG"


def _show_traceback(nodeid: str, error: BaseException) -> None:
    """For the grader's maintainers: where a check failed by itself. The result only names the error,
    since students read it; the traceback goes to the process's real standard error, and only when
    ``BACKPROP_GRADER_DEBUG=1``."""
    if os.environ.get(DEBUG_ENV) != "1" or sys.__stderr__ is None:
        return
    text = "".join(traceback.format_exception(error))
    sys.__stderr__.write(f"internal error in {nodeid}:\n{text}")
    sys.__stderr__.flush()


class PackModule(pytest.Module):
    """A check module imported under its pack's package name (never by bare file name)."""

    def _getobj(self) -> Any:
        assignment = self.config.stash[ASSIGNMENT_KEY]
        if self.path.parent != assignment.folder:
            raise AssignmentError(f"{self.path.name}: checks must sit directly in the pack folder")
        return importlib.import_module(f"{assignment.package}.{self.path.stem}")


#: Where the running pack is stashed on pytest's config for :class:`PackModule`.
ASSIGNMENT_KEY = pytest.StashKey[Assignment]()


def _is_points(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < float("inf")


def check_files(assignment: Assignment) -> list[Path]:
    """The pack's check modules (``test_*.py`` directly in its folder), in name order."""
    return sorted(assignment.folder.glob("test_*.py"))


def run_rubric(context: GradingContext) -> tuple[list[CheckResult], dict[str, Any]]:
    """Run every check of ``context.assignment`` and return the results plus run statistics.

    Raises :class:`AssignmentError` (one line) when the pack itself is broken: a check without
    points, an unknown marker, a check module or ``fixtures.py`` that does not import.
    """
    assignment = context.assignment
    folder = assignment.folder
    _one_math_thread()
    files = check_files(assignment)
    if not files:
        raise AssignmentError(f"pack {assignment.id} has no checks (test_*.py files in {folder})")
    plugins: list[Any] = []
    if (folder / "fixtures.py").is_file():
        try:
            plugins.append(importlib.import_module(f"{assignment.package}.fixtures"))
        except Exception as exc:  # noqa: BLE001 - the pack's own code failed
            raise AssignmentError(f"{assignment.id}/fixtures.py does not import: {type(exc).__name__}: {exc}") from None
    plugin = GradingPlugin(context)
    args = [
        *map(str, files),
        "--rootdir",
        str(folder),
        "-c",
        str(RUBRIC_INI),
        "--noconftest",
        "--strict-markers",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:stepwise",
        # pytest's log capture walks every logger around each check without the logging lock: a
        # pack's background import creating loggers (torch does) then broke checks at random.
        "-p",
        "no:logging",
        # Its clean-up runs two full garbage collections, about 0.36 s with torch imported: paid by every
        # grading, while nothing the rubric reports comes from an unraisable exception.
        "-p",
        "no:unraisableexception",
        "-q",
        "--tb=no",
    ]
    log = io.StringIO()
    try:
        with _clean_pytest_env(), _restored_globals(), contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            exit_code = pytest.main(args, plugins=[plugin, *plugins])
        starts = plugin.worker_starts
        grader_failures = list(plugin.grader_failures)
    finally:
        plugin.close()
    if plugin.load_errors:
        raise AssignmentError(f"pack {assignment.id} is broken: {plugin.load_errors[0]}")
    if exit_code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) and not plugin.results:
        raise RuntimeError(
            f"the rubric for {assignment.id} did not run (pytest exit {exit_code}): " + log.getvalue()[-500:]
        )
    return plugin.results, {"worker_starts": starts, "grader_failures": grader_failures}


def _one_math_thread() -> None:
    """Make this process's torch compute on one thread, unless ``OMP_NUM_THREADS`` says otherwise.

    The trusted side's computations are small, while torch's default of one thread per core makes
    their idle threads compete for the cores with the sandboxed worker that the grading waits on.
    Measured on 2 cores, a warm hlcv-ex2 grading: 1.45 s with the default, 1.1 s on one thread.
    torch reads the variable when it is imported; once imported, it is told directly.
    """
    if "OMP_NUM_THREADS" in os.environ:
        return
    torch = sys.modules.get("torch")
    if torch is None:
        os.environ["OMP_NUM_THREADS"] = "1"
    elif hasattr(torch, "set_num_threads"):  # not while another thread is still importing it
        torch.set_num_threads(1)


@contextlib.contextmanager
def _restored_globals() -> Iterator[None]:
    """Process-wide numeric settings a pack's code may change come back as they were after its grading.

    One process grades many packs (a batch, a Dask worker): torch's default dtype or numpy's global
    random state and error handling set by one pack must never change another pack's expected values.
    """
    import numpy as np

    random_state, error_settings = np.random.get_state(), np.geterr()
    dtype = _torch_default_dtype()
    try:
        yield
    finally:
        np.random.set_state(random_state)
        np.seterr(**error_settings)
        if "torch" in sys.modules:
            # The import statement waits for an import still running in another thread to finish.
            import torch  # noqa: PLC0415 - only when a pack imported it

            torch.set_default_dtype(dtype if dtype is not None else torch.float32)


def _torch_default_dtype() -> Any:
    """torch's default dtype, or None when torch is not imported or still being imported.

    A pack may import torch in a background thread while the checks start (hlcv-ex2 does): asking a
    half-initialised torch anything fails ("unsupported scalarType"). An import that finishes later
    starts from torch's own default, float32, which is what None restores.
    """
    torch = sys.modules.get("torch")
    if torch is None or getattr(getattr(torch, "__spec__", None), "_initializing", False):
        return None
    return torch.get_default_dtype()


@contextlib.contextmanager
def _clean_pytest_env() -> Iterator[None]:
    """No plugin autoloading and no options or plugins injected through the environment."""
    saved = {k: os.environ.pop(k) for k in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS") if k in os.environ}
    previous = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:
        yield
    finally:
        os.environ.update(saved)
        if previous is None:
            os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = previous
