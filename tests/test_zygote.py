"""Workers forked from the zygote share nothing with one another, and the zygote never learns a submission.

Each test asks student code in real bwrap workers what it can see, or looks at the host from outside:
the files, sockets and processes one worker leaves must be invisible to the next, every worker draws
its own random numbers, the zygote's memory never holds the path of a submission, a zygote killed
between gradings is replaced, and a grader killed outright leaves no worker behind.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from held_slots import held_slot
from sandbox_backends import require_backend, wait_until_gone

from grader.boundary.rpc import WorkerSession
from grader.sandbox import zygote
from grader.sandbox.base import LaunchSpec, Limits
from grader.sandbox.bwrap import BwrapSandbox

pytestmark = pytest.mark.sandbox

FIRST_SLOT = held_slot()
SECOND_SLOT = held_slot()
CALL_TIMEOUT_S = 60.0
LIMITS = Limits(cpu_seconds=120)

STUDENT = '''
import os
import socket
import subprocess
import time

import numpy as np

_kept = []


def leave_traces(token):
    """A file in /tmp and in /dev/shm, a listening abstract socket and a sleeping process."""
    for folder in ("/tmp", "/dev/shm"):
        with open(os.path.join(folder, token), "w") as f:
            f.write(token)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind("\\0" + token)
    server.listen(1)
    _kept.append(server)
    _kept.append(subprocess.Popen(["/usr/bin/sleep", "600"]))
    return sorted(os.listdir("/tmp"))


def traces(token):
    """What of another worker's traces this worker finds."""
    found = [p for p in (os.path.join("/tmp", token), os.path.join("/dev/shm", token)) if os.path.exists(p)]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect("\\0" + token)
        found.append("abstract socket")
    except OSError:
        pass
    return found


def processes():
    return sorted(int(p) for p in os.listdir("/proc") if p.isdigit())


def draw():
    return float(np.random.rand())


def frozen_objects():
    import gc
    return gc.get_freeze_count()


def has_torch():
    import sys
    return "torch" in sys.modules


def start_daemon():
    """A grandchild in a session of its own that ignores polite signals, as a submission might leave."""
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            import signal
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
            time.sleep(600)
        os._exit(0)
    os.wait()
    return True
'''


@pytest.fixture(scope="module")
def backend() -> BwrapSandbox:
    sandbox = require_backend("bwrap")
    assert isinstance(sandbox, BwrapSandbox)
    if not sandbox.uses_zygote():
        pytest.skip("workers are forked from the zygote only when the grader runs as root, without cgroups")
    return sandbox


@pytest.fixture(scope="module")
def token() -> str:
    return "zygote-probe-" + secrets.token_hex(8)


@pytest.fixture(scope="module")
def submission(token: str) -> Iterator[Path]:
    """A world-readable student folder whose path carries the module's token (see the memory test)."""
    folder = Path(tempfile.mkdtemp(prefix=f"{token}-"))
    folder.chmod(0o755)
    (folder / "probes.py").write_text(STUDENT)
    (folder / "probes.py").chmod(0o644)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _session(backend: BwrapSandbox, submission: Path, slot: int) -> WorkerSession:
    return WorkerSession(backend, LaunchSpec(submission, LIMITS, slot=slot))


def call(session: WorkerSession, func: str, *args: Any) -> Any:
    value, _ = session.request({"op": "call", "module": "probes", "path": [func], "args": list(args)}, CALL_TIMEOUT_S)
    return value


def _zygote_pids() -> list[int]:
    """Host pids of zygotes: processes running ``zygote.py`` that bwrap started (the workers forked from
    one have the same command line, but a PID namespace of their own)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            parent = Path("/proc", _parent(int(entry.name)))
            parent_argv = (parent / "cmdline").read_bytes().split(b"\0")
            same_namespace = os.readlink(entry / "ns" / "pid") == os.readlink(parent / "ns" / "pid")
        except (OSError, ValueError):
            continue
        if any(arg.endswith(b"/zygote.py") for arg in argv) and parent_argv[0].endswith(b"bwrap") and same_namespace:
            pids.append(int(entry.name))
    return pids


def _bwrap_pids() -> list[int]:
    """Processes named bwrap, exited ones not yet reaped included."""
    pids = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == "bwrap":
                pids.append(int(entry.name))
    return pids


def _own_zygote_pids() -> list[int]:
    """The zygote of this test process (others may run beside it)."""
    return [pid for pid in _zygote_pids() if _is_child_of(pid, os.getpid())]


def _parent(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]


def _writable_memory(pid: int) -> Iterator[bytes]:
    """Every readable, writable mapping of a process (its heap, stacks and anonymous memory)."""
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        for line in maps:
            fields = line.split()
            start, end = (int(x, 16) for x in fields[0].split("-"))
            if not fields[1].startswith("rw"):
                continue
            try:
                mem.seek(start)
                yield mem.read(end - start)
            except OSError:
                continue  # a guard page or a mapping that went away


def test_two_workers_share_no_file_socket_or_process(backend: BwrapSandbox, submission: Path, token: str) -> None:
    with _session(backend, submission, FIRST_SLOT) as first, _session(backend, submission, SECOND_SLOT) as second:
        assert token in call(first, "leave_traces", token)
        assert call(second, "traces", token) == []
        # Only its own init (1) and itself (2): not the first worker, its sleeper, or the zygote.
        assert call(second, "processes") == [1, 2]
    with _session(backend, submission, FIRST_SLOT) as later:
        # The next worker of the same uid starts clean too.
        assert call(later, "traces", token) == []
    assert wait_until_gone(FIRST_SLOT) == []
    assert wait_until_gone(SECOND_SLOT) == []


def test_every_worker_draws_its_own_random_numbers(backend: BwrapSandbox, submission: Path) -> None:
    draws = set()
    for _ in range(3):
        with _session(backend, submission, FIRST_SLOT) as session:
            draws.add(call(session, "draw"))
    assert len(draws) == 3


def test_a_forked_workers_garbage_collector_leaves_the_zygotes_objects_alone(
    backend: BwrapSandbox, submission: Path
) -> None:
    """What the zygote imported is frozen before it forks, so no worker's collection writes to (and so
    copies) the memory it shares with the zygote."""
    with _session(backend, submission, FIRST_SLOT) as session:
        assert call(session, "frozen_objects") > 10_000  # numpy alone is tens of thousands of objects


def test_workers_come_and_go_without_an_error_in_the_zygote(backend: BwrapSandbox, submission: Path) -> None:
    """A worker's builder and init end quietly; neither one falls back into the zygote's own loop."""
    for _ in range(2):
        with _session(backend, submission, FIRST_SLOT) as session:
            assert call(session, "draw") >= 0.0
    assert wait_until_gone(FIRST_SLOT) == []
    time.sleep(0.5)  # what an init printed on its way out reaches the zygote's stderr
    assert zygote.shared_zygote(backend.zygote_command).printed == ""


def test_the_zygote_never_holds_a_submission_path(backend: BwrapSandbox, submission: Path, token: str) -> None:
    """The grader hands the zygote a mount, never a path: the token in the folder's name is nowhere
    in the zygote's memory after it forked workers for that folder."""
    with _session(backend, submission, FIRST_SLOT) as session:
        assert call(session, "draw") >= 0.0
    pids = _own_zygote_pids()
    assert pids, "no zygote runs although a worker was just forked"
    needle = token.encode()
    for pid in pids:
        for region in _writable_memory(pid):
            assert needle not in region


def test_a_killed_zygote_is_replaced(backend: BwrapSandbox, submission: Path) -> None:
    with _session(backend, submission, FIRST_SLOT) as session:
        assert call(session, "draw") >= 0.0
    ours = _own_zygote_pids()
    assert len(ours) == 1
    os.kill(ours[0], signal.SIGKILL)  # never another test process's zygote: its workers would die
    with _session(backend, submission, FIRST_SLOT) as session:
        assert call(session, "draw") >= 0.0
        # A failed first start is the machine's, retried, never the submission's.
        assert session.starts >= 1


def test_prepare_starts_the_zygote_before_any_worker_is_asked_for(backend: BwrapSandbox, submission: Path) -> None:
    with _session(backend, submission, FIRST_SLOT) as session:
        assert call(session, "draw") >= 0.0
    (old,) = _own_zygote_pids()
    os.kill(old, signal.SIGKILL)
    while os.path.exists(f"/proc/{old}") or any(_is_child_of(pid, os.getpid()) for pid in _bwrap_pids()):
        time.sleep(0.05)  # gone with its bwrap: a grading that prepares later finds it dead
    backend.prepare()  # what a grading calls once the submission is taken in
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _own_zygote_pids() in ([], [old]):
        time.sleep(0.05)
    (new,) = _own_zygote_pids()
    assert new != old
    with _session(backend, submission, FIRST_SLOT) as session:
        assert call(session, "draw") >= 0.0
    assert _own_zygote_pids() == [new], "the first worker was forked from the zygote prepare() started"


GRADER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from grader.boundary.rpc import WorkerSession
    from grader.sandbox.base import LaunchSpec, Limits
    from grader.sandbox.bwrap import BwrapSandbox

    spec = LaunchSpec(Path(sys.argv[1]), Limits(cpu_seconds=120), slot=int(sys.argv[2]))
    session = WorkerSession(BwrapSandbox(), spec)
    session.request({"op": "call", "module": "probes", "path": ["start_daemon"]}, 60)
    print("ready", flush=True)
    sys.stdin.read()
    """
)


def test_a_grader_killed_outright_leaves_no_worker(submission: Path, backend: BwrapSandbox) -> None:
    """SIGKILL gives the grader no chance to clean up: its zygote and every worker (with the daemon a
    submission started) end all the same, through the life pipe and the parent-death signals."""
    grader = subprocess.Popen(
        [sys.executable, "-c", GRADER, str(submission), str(SECOND_SLOT)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert grader.stdout is not None
        assert grader.stdout.readline().strip() == "ready"
        assert len(wait_until_gone(SECOND_SLOT, timeout=0)) >= 2, "the worker and its daemon should be running"
        its_zygote = [pid for pid in _zygote_pids() if _is_child_of(pid, grader.pid)]
        assert len(its_zygote) == 1
    finally:
        grader.kill()
        grader.wait()
    assert wait_until_gone(SECOND_SLOT) == []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and its_zygote[0] in _zygote_pids():
        time.sleep(0.05)
    assert its_zygote[0] not in _zygote_pids()


def _is_child_of(pid: int, ancestor: int) -> bool:
    """Whether ``ancestor`` is among the parents of ``pid`` (false once either is gone)."""
    while pid > 1:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return False
        pid = int(fields[1])
        if pid == ancestor:
            return True
    return False


def test_the_zygote_can_be_turned_off(backend: BwrapSandbox, submission: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with _session(backend, submission, FIRST_SLOT) as session:
        assert call(session, "has_torch") is True  # forked from the zygote, which imported it
    monkeypatch.setenv(zygote.ZYGOTE_ENV, "0")
    assert not backend.uses_zygote()
    with _session(backend, submission, FIRST_SLOT) as session:
        assert call(session, "has_torch") is False  # a fresh interpreter imports only what it is asked to
        assert call(session, "frozen_objects") == 0
