"""The ``docker`` backend: one hardened container per worker (SECURITY-NOTES 4.1).

The container runs the image built by ``grade image build`` (Python, numpy, CPU torch and
``grader/worker`` at ``/opt/worker``, nothing else of the grader) with no network, a read-only root,
a size-capped ``noexec`` tmpfs at ``/tmp``, every capability dropped, ``no-new-privileges``, pids,
memory (no swap) and CPU limits, rlimits for data size, open files, file size, core dumps and CPU time,
``docker-init`` as pid 1 and no log driver. It runs as uid ``60000 + slot`` (like the bwrap and
process backends of a root grader), so a host-side ``pgrep -u`` finds whatever a slot left running.
The submission is bind-mounted read-only at ``/sub`` (and a data folder, when given, at ``/data``).

There is no tty, so the engine multiplexes the worker's stdout and stderr on one attach socket
(8-byte frame headers: stream type, three zero bytes, big-endian length). A thread splits them into
two OS pipes, so :class:`DockerWorker` offers real ``fileno()`` streams exactly like a subprocess.

No container outlives its grading: :meth:`DockerWorker.kill` force-removes it; the engine removes it
by itself when the worker exits (``AutoRemove``), which also covers a grader that dies while the
worker is idle (closing the attach connection closes the worker's stdin); and every container is
labelled with its grader process, so the next :class:`DockerSandbox` removes containers whose grader
is gone (a worker that ignores end of input cannot outlive that).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import struct
import threading
import uuid
import weakref
from pathlib import Path
from typing import Any

try:
    import docker.errors
    import requests.exceptions
    from docker.types import LogConfig, Ulimit

    import docker
except ImportError:  # the SDK is a dependency; this only keeps a broken install to one clear line
    docker = None

from grader.sandbox.base import LaunchSpec, Limits, Sandbox, SandboxUnavailable, WorkerProcess
from grader.sandbox.owners import current_owner, owner_alive
from grader.sandbox.runtime import UID_BASE, worker_env

IMAGE_REPOSITORY = "backprop-grader-worker"
DEFAULT_IMAGE = f"{IMAGE_REPOSITORY}:latest"
#: Image label holding the SHA-256 of the ``grader/worker`` files it was built from.
WORKER_SHA_LABEL = "backprop-grader.worker-sha256"
#: Every container this backend creates carries ``backprop-grader=1``, so leftovers can be found.
CONTAINER_LABEL = "backprop-grader"
#: ``<hostname>:<pid>:<process start time>`` of the grader process that created the container.
OWNER_LABEL = "backprop-grader.owner"

INSIDE_SUBMISSION = "/sub"
INSIDE_DATA = "/data"
#: The worker command before its positional arguments (``/sub`` and, with a data folder, ``/data``).
WORKER_COMMAND = ("python3", "-I", "-B", "/opt/worker/shim.py")
#: Seconds to wait for an engine while probing availability (a hung engine must not hang ``auto``).
PROBE_TIMEOUT_S = 15
#: Seconds for ordinary API calls once connected (container removal can take a while under load).
API_TIMEOUT_S = 120
#: Bigger pipes let the worker run further ahead of a slow reader; the default is 64 KiB.
PIPE_BYTES = 1024 * 1024
F_SETPIPE_SZ = 1031

_HEADER = struct.Struct(">BxxxI")


def docker_host() -> str:
    """The engine address the SDK will use, for messages."""
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def _require_sdk() -> None:
    if docker is None:
        raise SandboxUnavailable("the Docker SDK for Python is not installed: `pip install docker`")


def connect(timeout: int = API_TIMEOUT_S) -> docker.DockerClient:
    """A client for the engine named by the environment; :class:`SandboxUnavailable` if none answers."""
    _require_sdk()
    try:
        # The SDK negotiates the API version here, which is a round trip: it proves the engine answers.
        return docker.from_env(timeout=timeout)
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as error:
        if "Permission denied" in str(error) or "PermissionError" in str(error):
            raise SandboxUnavailable(
                f"permission denied on the Docker engine at {docker_host()}: add this user to the "
                "`docker` group or choose --sandbox bwrap"
            ) from None
        raise SandboxUnavailable(
            f"no Docker engine answers at {docker_host()}: start dockerd or choose --sandbox bwrap"
        ) from None


def _inspect_image(client: docker.DockerClient, image: str) -> dict[str, Any]:
    try:
        return client.api.inspect_image(image)
    except docker.errors.ImageNotFound:
        raise SandboxUnavailable(f"the sandbox image {image} is not built: run `grade image build`") from None
    except (docker.errors.APIError, requests.exceptions.RequestException) as error:
        raise SandboxUnavailable(f"cannot inspect the sandbox image {image}: {_explain(error)}") from None


class DockerSandbox(Sandbox):
    """Starts each worker in a fresh hardened container of the sandbox image.

    ``image`` names the image (default ``backprop-grader-worker:latest``); ``command`` replaces the
    worker command before its positional arguments (tests start a stand-in worker this way).
    """

    name = "docker"
    isolated = True
    image = DEFAULT_IMAGE

    def __init__(
        self,
        image: str | None = None,
        command: list[str] | tuple[str, ...] | None = None,
        client: docker.DockerClient | None = None,
    ) -> None:
        self.image_ref = image or type(self).image
        self.command = list(command or WORKER_COMMAND)
        self._client = client
        self._image_id: str | None = None
        self._lock = threading.Lock()
        #: How many leftover containers of dead graders the first start removed.
        self.removed_leftovers = 0

    @classmethod
    def check_available(cls) -> None:
        """Raise :class:`SandboxUnavailable` when no engine answers, or the image is missing or stale.

        Also removes containers left behind by graders that were killed. Stale means the image's
        worker files differ from ``grader/worker``: the two sides would not speak the same protocol.
        An image from ``grade image build`` says which files it holds in a label; any other image (a
        plain ``docker build``, a registry) is opened and its files compared.
        """
        client = connect(timeout=PROBE_TIMEOUT_S)
        try:
            # A grader that was killed may have left workers running; the next grader to look for
            # the engine removes them, even if it then grades nothing in a container.
            with contextlib.suppress(docker.errors.APIError, requests.exceptions.RequestException):
                remove_leftover_containers(client)
            if not image_is_current(client, _inspect_image(client, cls.image)):
                raise SandboxUnavailable(
                    f"the sandbox image {cls.image} is stale (grader/worker changed since it was built): "
                    "run `grade image build`"
                )
        finally:
            client.close()

    def _resolve(self) -> tuple[docker.DockerClient, str]:
        """Connect and pin the image to its id, once: later starts make no extra round trips.

        The first call also removes containers left behind by graders that were killed.
        """
        with self._lock:
            if self._client is None:
                self._client = connect()
            if self._image_id is None:
                self._image_id = _inspect_image(self._client, self.image_ref)["Id"]
                with contextlib.suppress(docker.errors.APIError, requests.exceptions.RequestException):
                    self.removed_leftovers = remove_leftover_containers(self._client)
            return self._client, self._image_id

    @property
    def image_id(self) -> str:
        """The image id (``sha256:...``) every worker of this sandbox runs."""
        return self._resolve()[1]

    def start(self, spec: LaunchSpec) -> DockerWorker:
        """Create, attach and start one worker container for ``spec``."""
        client, image_id = self._resolve()
        api = client.api
        argv = [*self.command, INSIDE_SUBMISSION]
        binds = {_readable_dir(spec.submission_dir, "submission"): {"bind": INSIDE_SUBMISSION, "mode": "ro"}}
        if spec.data_dir is not None:
            binds[_readable_dir(spec.data_dir, "data")] = {"bind": INSIDE_DATA, "mode": "ro"}
            argv.append(INSIDE_DATA)
        uid = UID_BASE + spec.slot
        name = f"grade-{uuid.uuid4().hex[:16]}"
        try:
            created = api.create_container(
                image=image_id,
                command=argv,
                name=name,
                hostname="sandbox",
                user=f"{uid}:{uid}",
                working_dir=INSIDE_SUBMISSION,
                environment=_environment(spec.limits, spec.preload),
                labels={CONTAINER_LABEL: "1", OWNER_LABEL: current_owner()},
                stdin_open=True,  # also sets StdinOnce: when our attach connection ends, stdin is EOF inside
                tty=False,
                network_disabled=True,
                host_config=_host_config(api, spec.limits, binds),
            )
        except docker.errors.ImageNotFound:
            raise SandboxUnavailable(
                f"the sandbox image {self.image_ref} ({image_id}) is gone: run `grade image build`"
            ) from None
        except (docker.errors.APIError, requests.exceptions.RequestException) as error:
            raise SandboxUnavailable(f"docker could not create a worker container: {_explain(error)}") from None
        container_id = created["Id"]
        attach = waiter = None
        try:
            # Attach before start, or the first bytes the worker writes could be lost; register the
            # exit wait before start too, or a worker that ends at once could be removed unseen.
            attach = api.attach_socket(container_id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
            waiter = _register_exit_wait(api, container_id)
            worker = DockerWorker(api, container_id, name, attach, waiter)
            api.start(container_id)
        except BaseException as error:
            if waiter is not None:
                waiter.close()
            _remove_container(api, container_id, attach)
            if isinstance(error, (docker.errors.APIError, requests.exceptions.RequestException)):
                raise SandboxUnavailable(f"docker could not start a worker container: {_explain(error)}") from None
            raise
        return worker

    def close(self) -> None:
        """Close the engine connection (workers already started keep theirs)."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


def image_is_current(client: docker.DockerClient, attrs: dict[str, Any]) -> bool:
    """True when the image (``inspect`` output) holds the same worker files as ``grader/worker``."""
    from grader.sandbox.image import worker_digest  # image.py imports this module

    wanted = worker_digest()
    if ((attrs.get("Config") or {}).get("Labels") or {}).get(WORKER_SHA_LABEL) == wanted:
        return True
    return _image_worker_digest(client, attrs["Id"]) == wanted


def _image_worker_digest(client: docker.DockerClient, image_id: str) -> str | None:
    """The digest of ``/opt/worker`` in an image, read from a container that is created, never started."""
    from grader.sandbox.image import archive_digest

    api = client.api
    try:
        container = api.create_container(
            image_id,
            command=["true"],
            network_disabled=True,
            labels={CONTAINER_LABEL: "1", OWNER_LABEL: current_owner()},
        )
    except (docker.errors.APIError, requests.exceptions.RequestException):
        return None
    try:
        stream, _ = api.get_archive(container["Id"], "/opt/worker")
        return archive_digest(b"".join(stream))
    except (docker.errors.APIError, requests.exceptions.RequestException):
        return None  # no /opt/worker: not a sandbox image at all
    finally:
        _remove_container(api, container["Id"])


def _readable_dir(path: Path | str, what: str) -> str:
    """The absolute path of a folder the container's unprivileged user can list and read."""
    real = Path(path).resolve()
    if not real.is_dir():
        raise SandboxUnavailable(f"the {what} folder {real} does not exist or is not a folder")
    mode = real.stat().st_mode
    if mode & 0o005 != 0o005:
        raise SandboxUnavailable(
            f"the {what} folder {real} is not readable by the sandbox user (mode {mode & 0o777:o}): "
            "make it world-readable (chmod -R o+rX)"
        )
    return str(real)


def _environment(limits: Limits, preload: tuple[str, ...] = ()) -> dict[str, str]:
    env = worker_env(home="/tmp", preload=preload)
    # The image's PATH leads to its virtual environment; the host-style PATH would not.
    env.pop("PATH", None)
    threads = str(max(1, limits.threads))
    env.update(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads)
    return env


def _host_config(api: docker.APIClient, limits: Limits, binds: dict[str, dict[str, str]]) -> dict[str, Any]:
    """SECURITY-NOTES 4.1, flag for flag, plus ``RLIMIT_CPU`` from the limits and ``AutoRemove``."""
    return api.create_host_config(
        binds=binds,
        auto_remove=True,
        network_mode="none",
        read_only=True,
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        pids_limit=limits.max_processes,
        mem_limit=limits.memory_bytes,
        memswap_limit=limits.memory_bytes,  # equal to the memory limit: no swap
        nano_cpus=max(1, limits.threads) * 1_000_000_000,
        ulimits=[
            # The same per-process memory limit as the other backends: an oversized allocation is a
            # MemoryError the student sees in their traceback; the cgroup above bounds the whole tree.
            Ulimit(name="data", soft=limits.memory_bytes, hard=limits.memory_bytes),
            Ulimit(name="nofile", soft=limits.max_open_files, hard=limits.max_open_files),
            Ulimit(name="fsize", soft=limits.max_file_bytes, hard=limits.max_file_bytes),
            Ulimit(name="core", soft=0, hard=0),
            Ulimit(name="cpu", soft=limits.cpu_seconds, hard=limits.cpu_seconds),
        ],
        tmpfs={"/tmp": f"rw,nosuid,nodev,noexec,size={limits.tmpfs_bytes}"},
        shm_size=limits.tmpfs_bytes,
        init=True,  # docker-init is pid 1: the worker is not, so its default signal handling holds (M13)
        ipc_mode="private",
        log_config=LogConfig(type="none"),  # the engine keeps no copy of what the student prints
        privileged=False,
    )


def _explain(error: Exception) -> str:
    text = str(getattr(error, "explanation", None) or error).strip()
    return text.splitlines()[0] if text else repr(error)


# --------------------------------------------------------------------------- attach socket


def _raw_socket(attach: Any) -> socket.socket | None:
    """The socket under the SDK's attach object (a ``SocketIO`` on unix and plain TCP connections)."""
    return attach._sock if isinstance(attach, socket.SocketIO) else attach


def _close_attach(attach: Any, sock: socket.socket | None) -> None:
    """Shut the attach connection in both directions and close it; safe to call twice."""
    for target in (sock, attach):
        if target is None:
            continue
        with contextlib.suppress(Exception):
            if target is sock:
                target.shutdown(socket.SHUT_RDWR)
            target.close()


def _remove_container(api: docker.APIClient, container_id: str, attach: Any = None, sock: Any = None) -> None:
    """Force-remove a container and wait until it is gone (gone already is fine); close its attach socket."""
    if attach is not None:
        _close_attach(attach, sock if sock is not None else _raw_socket(attach))
    try:
        api.remove_container(container_id, force=True)
    except docker.errors.NotFound:
        return
    except docker.errors.APIError as error:
        # 409: the engine is already removing it (AutoRemove after the worker exited). Anything
        # else is left to the leftover cleanup of the next grader, never raised at a student.
        if getattr(error, "status_code", None) != 409:
            return
    except requests.exceptions.RequestException:
        return
    with contextlib.suppress(docker.errors.APIError, requests.exceptions.RequestException):
        api.wait(container_id, timeout=API_TIMEOUT_S, condition="removed")


def _finalize(api: docker.APIClient, container_id: str, attach: Any, sock: Any, waiter: _ExitWait) -> None:
    """Last resort when a worker is dropped or the grader exits without ``close()``."""
    with contextlib.suppress(Exception):
        _remove_container(api, container_id, attach, sock)
    waiter.close()


class _ExitWait:
    """The engine's answer to ``POST /containers/ID/wait?condition=next-exit``, read on a thread.

    The engine registers the wait, then sends the response headers at once and the body (the exit
    status) when the container exits. So once :func:`_register_exit_wait` returns, the exit cannot be
    missed, even though ``AutoRemove`` deletes the container right after.
    """

    def __init__(self, response: Any) -> None:
        self._response = response
        self.status: int | None = None
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._read, name="docker-exit-wait", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            body = json.loads(self._response.raw.read(1 << 16) or b"{}")
            code = body.get("StatusCode")
            if isinstance(code, int):
                self.status = code
        except Exception:  # noqa: BLE001 - a lost answer only means "status unknown"
            pass
        finally:
            self.done.set()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._response.close()


def _register_exit_wait(api: docker.APIClient, container_id: str) -> _ExitWait:
    # The SDK's wait() blocks until the exit; the same request with stream=True returns after the
    # headers, which the engine sends only once the wait is registered.
    response = api._post(
        api._url("/containers/{0}/wait", container_id),
        params={"condition": "next-exit"},
        stream=True,
        timeout=None,
    )
    api._raise_for_status(response)
    return _ExitWait(response)


def _demultiplex(sock: socket.socket, out_fd: int, err_fd: int, done: threading.Event) -> None:
    """Copy the attach stream's stdout and stderr frames into two pipes until the stream ends.

    Payload bytes are passed on as they arrive, so memory stays at one ``recv`` buffer whatever the
    frame sizes. A full pipe blocks this thread, which stops reading the socket: back pressure
    reaches the worker exactly as with a subprocess's pipes.
    """
    targets: dict[int, int | None] = {1: out_fd, 2: err_fd}
    header = bytearray()
    kind, remaining = 0, 0
    try:
        while True:
            try:
                chunk = sock.recv(1 << 16)
            except OSError:
                break
            if not chunk:
                break
            view = memoryview(chunk)
            while view:
                if remaining == 0:
                    need = _HEADER.size - len(header)
                    header += view[:need]
                    view = view[need:]
                    if len(header) == _HEADER.size:
                        kind, remaining = _HEADER.unpack(header)
                        header.clear()
                    continue
                payload, view = view[:remaining], view[remaining:]
                remaining -= len(payload)
                fd = targets.get(kind)
                try:
                    while fd is not None and payload:
                        payload = payload[os.write(fd, payload) :]
                except OSError:
                    # The reader closed its end: drop this stream, keep serving the other one.
                    targets[kind] = None
    finally:
        done.set()
        for fd in (out_fd, err_fd):
            with contextlib.suppress(OSError):
                os.close(fd)


class _SocketWriter(io.RawIOBase):
    """The write half of the attach socket; ``close()`` half-closes it, which is EOF on the worker's stdin."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._sock.sendall(data)
        return len(data)

    def close(self) -> None:
        if not self.closed:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_WR)
        super().close()


def _pipe() -> tuple[int, int]:
    read_fd, write_fd = os.pipe()
    with contextlib.suppress(OSError):
        import fcntl

        fcntl.fcntl(write_fd, F_SETPIPE_SZ, PIPE_BYTES)
    return read_fd, write_fd


class DockerWorker(WorkerProcess):
    """A worker in a running container: ``stdin`` writes to the attach socket, ``stdout``/``stderr``
    are pipes fed from it. ``kill()`` force-removes the container."""

    def __init__(self, api: docker.APIClient, container_id: str, name: str, attach: Any, waiter: _ExitWait) -> None:
        self._api = api
        self.container_id = container_id
        self.name = name
        self._attach = attach  # holds the HTTP response, which owns the connection
        self._sock = _raw_socket(attach)
        self._waiter = waiter
        out_r, out_w = _pipe()
        err_r, err_w = _pipe()
        self.stdin = io.BufferedWriter(_SocketWriter(self._sock), buffer_size=1 << 16)
        self.stdout = os.fdopen(out_r, "rb")
        self.stderr = os.fdopen(err_r, "rb")
        self._stream_ended = threading.Event()
        self._killed = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(
            target=_demultiplex,
            args=(self._sock, out_w, err_w, self._stream_ended),
            name=f"demux-{name}",
            daemon=True,
        )
        self._thread.start()
        self._finalizer = weakref.finalize(self, _finalize, api, container_id, attach, self._sock, waiter)

    def poll(self) -> int | None:
        """The exit status once the container has stopped (``-9`` after :meth:`kill`), else None.

        Makes no API call: the engine's answer to the exit wait arrives on its own. Through
        ``docker-init``, death by signal N reads ``128 + N`` (a memory-limit kill is 137).
        """
        if self._killed:
            return -signal.SIGKILL
        return self._waiter.status if self._waiter.done.is_set() else None

    def kill(self) -> None:
        """Force-remove the container (the engine kills every process in it first); safe to call twice."""
        with self._lock:
            if self._killed:
                return
            self._killed = True
            self._finalizer.detach()
            try:
                _remove_container(self._api, self.container_id, self._attach, self._sock)
            finally:
                self._waiter.close()
                self._stream_ended.set()
        self._thread.join(timeout=5)

    def close(self) -> None:
        """Kill the worker and close its streams."""
        self.kill()
        for stream in (self.stdin, self.stdout, self.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.close()


# --------------------------------------------------------------------------- leftovers


def leftover_containers(client: docker.DockerClient | None = None, *, all_owners: bool = False) -> list[str]:
    """Ids of containers labelled ``backprop-grader=1`` whose grader process is gone (or all of them)."""
    own_client = client is None
    client = client or connect()
    try:
        found = client.api.containers(all=True, filters={"label": f"{CONTAINER_LABEL}=1"})
    finally:
        if own_client:
            client.close()
    return [
        container["Id"]
        for container in found
        if all_owners or not owner_alive((container.get("Labels") or {}).get(OWNER_LABEL, ""))
    ]


def remove_leftover_containers(client: docker.DockerClient | None = None, *, all_owners: bool = False) -> int:
    """Force-remove leftover worker containers (see :func:`leftover_containers`); returns how many."""
    own_client = client is None
    client = client or connect()
    try:
        ids = leftover_containers(client, all_owners=all_owners)
        for container_id in ids:
            _remove_container(client.api, container_id)
    finally:
        if own_client:
            client.close()
    return len(ids)
