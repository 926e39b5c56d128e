"""The docker backend against a real engine and the real sandbox image.

A stand-in worker (``tests/sandbox_standin.py``, standard library only) is placed in the submission
folder and started instead of the shim, so these tests depend only on the backend and the image.
They skip, saying why, when no engine answers or the image is not built;
``BACKPROP_GRADER_REQUIRE_DOCKER=1`` turns those skips into failures, so CI can never skip silently.
"""

from __future__ import annotations

import gc
import io
import json
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import pytest
from held_slots import held_slot

from grader.sandbox import select_sandbox
from grader.sandbox.base import LaunchSpec, Limits, SandboxUnavailable
from grader.sandbox.docker import (
    CONTAINER_LABEL,
    OWNER_LABEL,
    WORKER_SHA_LABEL,
    DockerSandbox,
    connect,
)
from grader.sandbox.owners import current_owner
from grader.sandbox.runtime import UID_BASE

STANDIN = Path(__file__).with_name("sandbox_standin.py")
LENGTH = struct.Struct(">I")
MiB = 1024 * 1024
LIMITS = Limits(
    cpu_seconds=120,
    memory_bytes=256 * MiB,
    max_processes=24,
    max_file_bytes=16 * MiB,
    max_open_files=128,
    tmpfs_bytes=4 * MiB,
)


def _require_docker(fresh: bool = False) -> None:
    """Skip (or, when CI requires docker, fail) unless an engine answers and the image exists.

    The stand-in worker does not use the image's worker files; ``fresh`` also requires them to match
    ``grader/worker`` (what grading itself requires).
    """
    probe = DockerSandbox()
    try:
        probe.image_id  # noqa: B018 - resolving the image needs both the engine and the image
        if fresh:
            DockerSandbox.check_available()
    except SandboxUnavailable as error:
        if os.environ.get("BACKPROP_GRADER_REQUIRE_DOCKER") == "1":
            pytest.fail(f"BACKPROP_GRADER_REQUIRE_DOCKER=1 but {error}")
        pytest.skip(str(error))
    finally:
        probe.close()


@pytest.fixture(scope="module")
def sandbox():
    _require_docker()
    backend = DockerSandbox(command=["python3", "-I", "-B", "/sub/sandbox_standin.py"])
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def engine():
    _require_docker()
    client = connect()
    yield client
    client.close()


def _ours(engine) -> list[dict]:
    found = engine.api.containers(all=True, filters={"label": f"{CONTAINER_LABEL}=1"})
    return [c for c in found if (c.get("Labels") or {}).get(OWNER_LABEL) == current_owner()]


@pytest.fixture(autouse=True)
def no_leftover_containers(request):
    """After every test, no container labelled backprop-grader=1 from this process remains."""
    yield
    if "engine" not in request.fixturenames:
        return
    engine = request.getfixturevalue("engine")
    left = _ours(engine)
    for container in left:
        engine.api.remove_container(container["Id"], force=True)
    assert not left, f"containers left behind: {[c['Names'] for c in left]}"


@pytest.fixture
def submission(tmp_path) -> Path:
    folder = tmp_path / "submission"
    folder.mkdir()
    shutil.copy(STANDIN, folder / STANDIN.name)
    folder.chmod(0o755)
    (folder / STANDIN.name).chmod(0o644)
    return folder


class Client:
    """Speaks the stand-in's framed protocol; drains stderr on a thread like the grader does."""

    def __init__(self, worker):
        self.worker = worker
        self.buffer = bytearray()
        self.stderr = bytearray()
        self._drain = threading.Thread(target=self._read_stderr, daemon=True)
        self._drain.start()

    def _read_stderr(self):
        fd = self.worker.stderr.fileno()
        try:
            while chunk := os.read(fd, 1 << 16):
                self.stderr += chunk
        except OSError:  # closed by worker.close()
            pass

    def send(self, request: dict, blob: bytes | None = None) -> None:
        payload = json.dumps(request).encode()
        self.worker.stdin.write(LENGTH.pack(len(payload)) + payload)
        if blob is not None:
            self.worker.stdin.write(LENGTH.pack(len(blob)))
            self.worker.stdin.write(blob)
        self.worker.stdin.flush()

    def read(self, n: int, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        fd = self.worker.stdout.fileno()
        while len(self.buffer) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise TimeoutError(f"no reply within {timeout} s")
            chunk = os.read(fd, max(1 << 16, n - len(self.buffer)))
            if not chunk:
                raise EOFError("worker closed stdout")
            self.buffer += chunk
        data = bytes(self.buffer[:n])
        del self.buffer[:n]
        return data

    def frame(self, timeout: float = 30) -> bytes:
        return self.read(LENGTH.unpack(self.read(4, timeout))[0], timeout)

    def reply(self, timeout: float = 30) -> dict:
        return json.loads(self.frame(timeout))

    def call(self, timeout: float = 30, **request) -> dict:
        self.send(request)
        return self.reply(timeout)

    def stderr_text(self, wait: float = 2.0) -> str:
        self._drain.join(timeout=wait)
        return self.stderr.decode(errors="replace")


@pytest.fixture
def start(sandbox, submission, engine):
    """Start stand-in workers; every one is closed after the test."""
    workers = []

    def _start(limits: Limits = LIMITS) -> Client:
        worker = sandbox.start(LaunchSpec(submission_dir=submission, limits=limits))
        workers.append(worker)
        client = Client(worker)
        assert client.reply(timeout=60) == {"ready": True}
        return client

    yield _start
    for worker in workers:
        worker.close()


def _gone(engine, container_id: str) -> bool:
    import docker.errors

    try:
        engine.api.inspect_container(container_id)
    except docker.errors.NotFound:
        return True
    return False


def _wait_gone(engine, container_id: str, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while not _gone(engine, container_id):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


pytestmark = pytest.mark.sandbox


def test_large_echo_round_trip_keeps_stdout_and_stderr_apart(start):
    client = start()
    payload = os.urandom(8 * MiB)
    client.send({"op": "echo", "stderr_bytes": 1 * MiB}, payload)
    assert client.reply() == {"ok": True, "size": len(payload)}
    assert client.frame() == payload
    # A second round trip on the same worker still lines up.
    client.send({"op": "echo"}, b"again")
    assert client.reply() == {"ok": True, "size": 5}
    assert client.frame() == b"again"
    # The engine copies a container's stdout and stderr independently: the reply can arrive before
    # the stderr the worker wrote first. Wait for it, or closing would cut it off.
    expected = len("stand-in worker started\n") + 1 * MiB + 2 * len("printed by the student\n")
    deadline = time.monotonic() + 10
    while len(client.stderr) < expected and time.monotonic() < deadline:
        time.sleep(0.02)
    client.worker.close()
    text = client.stderr_text()
    assert "stand-in worker started" in text
    assert text.count("printed by the student") == 2
    assert len(client.stderr) == expected
    assert not client.buffer


def test_closing_stdin_is_eof_inside_and_exit_status_is_reported(start):
    client = start()
    assert client.call(op="cat") == {"ok": True}
    payload = os.urandom(8 * MiB)

    def feed():
        for offset in range(0, len(payload), MiB):
            client.worker.stdin.write(payload[offset : offset + MiB])
        client.worker.stdin.close()

    writer = threading.Thread(target=feed)
    writer.start()
    assert client.read(len(payload), timeout=60) == payload
    writer.join(timeout=30)
    with pytest.raises(EOFError):
        client.read(1, timeout=30)
    deadline = time.monotonic() + 10
    while client.worker.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.worker.poll() == 0


def test_no_network(start):
    client = start()
    result = client.call(op="network")
    assert set(result["connect"].values()) <= {"ENETUNREACH", "EHOSTUNREACH", "TimeoutError"}, result
    assert result["dns"] == "gaierror"
    assert result["interfaces"] == ["lo"]
    assert result["netns"] != os.readlink("/proc/self/ns/net")


def test_root_filesystem_and_submission_are_read_only(start):
    client = start()
    result = client.call(op="filesystem")
    assert "ro" in result["mounts"]["/"]["options"]
    assert "ro" in result["mounts"]["/sub"]["options"]
    for path, outcome in result["writes"].items():
        assert outcome in {"EROFS", "EACCES"}, (path, outcome)


def test_tmp_is_a_size_capped_noexec_tmpfs(start):
    client = start()
    tmp = client.call(op="filesystem")["mounts"]["/tmp"]
    assert tmp["type"] == "tmpfs"
    assert {"rw", "nosuid", "nodev", "noexec", f"size={LIMITS.tmpfs_bytes // 1024}k"} <= set(tmp["options"])
    result = client.call(op="fill_tmp", bytes=2 * LIMITS.tmpfs_bytes)
    assert result["error"] == "ENOSPC"
    assert result["written"] <= LIMITS.tmpfs_bytes


def test_runs_unprivileged_with_no_capabilities(start):
    client = start()
    result = client.call(op="identity")
    assert result["uid"] != 0 and result["euid"] != 0 and result["gid"] != 0
    assert 0 not in result["groups"]
    assert int(result["CapEff"], 16) == 0
    assert int(result["CapPrm"], 16) == 0
    assert int(result["CapBnd"], 16) == 0
    assert result["NoNewPrivs"] == "1"
    assert result["Seccomp"] == "2"  # the engine's default profile is in force
    assert result["pid"] != 1 and "init" in result["pid1"]
    assert result["cwd"] == "/sub"
    assert result["argv"][1:] == ["/sub"]
    assert result["env"]["OMP_NUM_THREADS"] == "1"
    assert result["env"]["PYTHONDONTWRITEBYTECODE"] == "1"
    assert result["rlimits"]["RLIMIT_NOFILE"] == [LIMITS.max_open_files] * 2
    assert result["rlimits"]["RLIMIT_FSIZE"] == [LIMITS.max_file_bytes] * 2
    assert result["rlimits"]["RLIMIT_CORE"] == [0, 0]
    assert result["rlimits"]["RLIMIT_CPU"] == [LIMITS.cpu_seconds] * 2
    assert result["rlimits"]["RLIMIT_DATA"] == [LIMITS.memory_bytes] * 2


def test_fork_bomb_is_bounded_by_the_pids_limit(start):
    client = start()
    result = client.call(op="forkbomb", tries=500, timeout=60)
    assert result["error"] == "EAGAIN"
    assert result["children"] < LIMITS.max_processes
    # The worker itself is still alive and answering.
    assert client.call(op="identity")["uid"] != 0


def test_an_allocation_over_the_memory_limit_is_a_memory_error(start):
    client = start()
    assert client.call(op="alloc", bytes=2 * LIMITS.memory_bytes) == {
        "ok": True,
        "allocated": False,
        "error": "MemoryError",
    }
    assert client.call(op="identity")["uid"] != 0  # the worker lives on


def test_the_memory_cgroup_bounds_all_processes_together(start):
    # Each child stays under the per-process limit; together they are over the container's.
    client = start()
    client.send({"op": "alloc_children", "children": 3, "bytes": LIMITS.memory_bytes // 2})
    try:
        endings = client.reply(timeout=60)["endings"]
    except EOFError:  # the kernel chose the worker itself: it died from SIGKILL, seen through docker-init
        deadline = time.monotonic() + 10
        while client.worker.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.worker.poll() == 128 + signal.SIGKILL
    else:
        assert -signal.SIGKILL in endings, endings


def test_a_hanging_worker_is_killed_and_its_container_removed(start, engine):
    client = start()
    client.send({"op": "hang"})
    with pytest.raises(TimeoutError):
        client.reply(timeout=1)
    worker = client.worker
    worker.kill()
    assert _gone(engine, worker.container_id)
    assert worker.poll() == -9
    with pytest.raises(EOFError):
        client.read(1, timeout=5)
    worker.kill()  # twice is safe
    worker.close()
    worker.close()


def test_a_worker_dropped_without_close_is_removed(sandbox, submission, engine):
    worker = sandbox.start(LaunchSpec(submission_dir=submission, limits=LIMITS))
    container_id = worker.container_id
    assert not _gone(engine, container_id)
    del worker
    gc.collect()
    assert _gone(engine, container_id)


def test_an_unreadable_submission_folder_is_refused_in_one_line(sandbox, tmp_path, engine):
    folder = tmp_path / "private"
    folder.mkdir(mode=0o700)
    with pytest.raises(SandboxUnavailable, match="not readable by the sandbox user") as raised:
        sandbox.start(LaunchSpec(submission_dir=folder, limits=LIMITS))
    assert "\n" not in str(raised.value)


def test_data_folder_is_mounted_read_only_and_passed_as_second_argument(sandbox, submission, tmp_path, engine):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    worker = sandbox.start(LaunchSpec(submission_dir=submission, limits=LIMITS, data_dir=data))
    try:
        client = Client(worker)
        assert client.reply(timeout=60) == {"ready": True}
        assert client.call(op="identity")["argv"][1:] == ["/sub", "/data"]
        result = client.call(op="filesystem")
        assert "ro" in result["mounts"]["/data"]["options"]
    finally:
        worker.close()


# --------------------------------------------------------------------------- without an engine


def test_no_engine_is_one_clear_line(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")
    with pytest.raises(SandboxUnavailable) as raised:
        DockerSandbox.check_available()
    message = str(raised.value)
    assert message == (
        f"no Docker engine answers at unix://{tmp_path}/no-such.sock: start dockerd or choose --sandbox bwrap"
    )


def test_missing_image_is_one_clear_line(engine):
    class Missing(DockerSandbox):
        image = "backprop-grader-worker:no-such-tag"

    with pytest.raises(SandboxUnavailable) as raised:
        Missing.check_available()
    assert str(raised.value) == (
        "the sandbox image backprop-grader-worker:no-such-tag is not built: run `grade image build`"
    )


def test_workers_run_as_the_uid_of_their_slot(sandbox, submission, engine):
    slot = held_slot()
    worker = sandbox.start(LaunchSpec(submission_dir=submission, limits=LIMITS, slot=slot))
    try:
        client = Client(worker)
        assert client.reply(timeout=60) == {"ready": True}
        identity = client.call(op="identity")
        assert (identity["uid"], identity["gid"]) == (UID_BASE + slot, UID_BASE + slot)
    finally:
        worker.close()


def test_a_worker_that_ends_is_removed_by_the_engine(start, engine):
    client = start()
    client.worker.stdin.close()  # end of input: the stand-in returns from main
    with pytest.raises(EOFError):
        client.read(1, timeout=30)
    deadline = time.monotonic() + 10
    while client.worker.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.worker.poll() == 0
    assert _wait_gone(engine, client.worker.container_id), "the engine did not remove the exited container"


KILLED_GRADER = """
import json, os, signal, struct, sys
from pathlib import Path
from grader.sandbox.base import LaunchSpec, Limits
from grader.sandbox.docker import DockerSandbox

sandbox = DockerSandbox(command=["python3", "-I", "-B", "/sub/sandbox_standin.py"])
limits = Limits(memory_bytes=256 * 1024 * 1024, max_processes=24, tmpfs_bytes=4 * 1024 * 1024)
idle = sandbox.start(LaunchSpec(submission_dir=Path(sys.argv[1]), limits=limits))
hung = sandbox.start(LaunchSpec(submission_dir=Path(sys.argv[1]), limits=limits))
for worker in (idle, hung):
    size = struct.unpack(">I", os.read(worker.stdout.fileno(), 4))[0]
    assert json.loads(os.read(worker.stdout.fileno(), size)) == {"ready": True}
request = json.dumps({"op": "hang"}).encode()
hung.stdin.write(struct.pack(">I", len(request)) + request)
hung.stdin.flush()
print(json.dumps({"idle": idle.container_id, "hung": hung.container_id}), flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # no cleanup of any kind runs
"""


def test_containers_of_a_killed_grader_do_not_survive(submission, engine):
    proc = subprocess.run(
        [sys.executable, "-c", KILLED_GRADER, str(submission)], capture_output=True, text=True, timeout=180
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    ids = json.loads(proc.stdout)
    # The hanging worker ignores its input: it runs until the next grader looks for the engine.
    assert not _gone(engine, ids["hung"])
    # The idle worker sees end of input when the grader's connection drops, exits, and is auto-removed.
    assert _wait_gone(engine, ids["idle"]), "the idle worker of a killed grader survived"
    DockerSandbox.check_available()  # what every grader does first (grade run, auto selection)
    assert _gone(engine, ids["hung"])


def test_auto_picks_docker_when_the_engine_and_image_are_there(engine):
    _require_docker(fresh=True)
    chosen = select_sandbox("auto")
    try:
        assert chosen.name == "docker" and chosen.isolated
    finally:
        chosen.close()


def _derived_image(engine, tag: str, files: dict[str, bytes] | None = None) -> None:
    """Commit the sandbox image as ``tag`` with a worker label that matches nothing, optionally with
    some ``/opt/worker`` files replaced (a created container takes files without ever running)."""
    container = engine.api.create_container(DockerSandbox.image, command=["true"])
    try:
        if files:
            archive = io.BytesIO()
            with tarfile.open(fileobj=archive, mode="w") as tar:
                for name, data in files.items():
                    info = tarfile.TarInfo(name)
                    info.size, info.mode = len(data), 0o644
                    tar.addfile(info, io.BytesIO(data))
            engine.api.put_archive(container["Id"], "/opt/worker", archive.getvalue())
        repository, tag_name = tag.split(":")
        engine.api.commit(container["Id"], repository=repository, tag=tag_name, changes=[f"LABEL {WORKER_SHA_LABEL}=0"])
    finally:
        engine.api.remove_container(container["Id"], force=True)


def test_an_image_built_without_the_label_is_judged_by_its_worker_files(engine):
    _require_docker(fresh=True)
    unlabelled = "backprop-grader-worker:test-unlabelled"
    stale = "backprop-grader-worker:test-stale"
    _derived_image(engine, unlabelled)
    _derived_image(engine, stale, {"shim.py": b"# another protocol\n"})

    class Unlabelled(DockerSandbox):
        image = unlabelled

    class Stale(DockerSandbox):
        image = stale

    try:
        Unlabelled.check_available()  # same files as grader/worker: usable, label or not
        with pytest.raises(SandboxUnavailable) as raised:
            Stale.check_available()
        assert str(raised.value) == (
            f"the sandbox image {stale} is stale (grader/worker changed since it was built): run `grade image build`"
        )
    finally:
        engine.api.remove_image(unlabelled)
        engine.api.remove_image(stale)
