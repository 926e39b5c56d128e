"""What a submission can see and do inside the bubblewrap sandbox, asked of student code itself.

A probe module (``probes.py``, below) runs in a real bwrap worker and reports what it finds through
its return values: network reachability, the grader's files and packages, the submission folder,
``/tmp``, the environment, its own credentials. The tests compare those reports with facts the test
sets up on the host: a listening port, a file in the host's ``/tmp``, a secret in the grader's
environment, the paths of the grader's own code.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from held_slots import held_slot
from sandbox_backends import require_backend

import grader
import reference
from grader.boundary.rpc import WorkerSession
from grader.sandbox.base import WORKER_DIR, LaunchSpec, Limits
from grader.sandbox.runtime import UID_BASE, sandbox_uid
from grader.sandbox.zygote import ZYGOTE_ENV

pytestmark = pytest.mark.sandbox

#: A sandbox slot of this module's own (uid 60000 + slot when the tests run as root).
SLOT = held_slot()
CALL_TIMEOUT_S = 60.0
#: A random token per test run: put in the grader's environment and in host files, looked for inside.
TOKEN = secrets.token_hex(8)
SECRET_VARIABLE = "BACKPROP_GRADER_SECRET"
GRADER_DIR = Path(grader.__file__).resolve().parent
RUBRIC_DIR = GRADER_DIR / "assignments"
REFERENCE_DIR = Path(reference.__file__).resolve().parent

PROBES = '''
"""Probes of the sandbox; each reports what it saw as plain data."""

import errno
import hashlib
import importlib
import os
import socket


def _error(exc):
    return type(exc).__name__ + ":" + errno.errorcode.get(getattr(exc, "errno", None) or 0, "")


def connect(host, port, kind):
    family_type = socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM
    try:
        with socket.socket(socket.AF_INET, family_type) as sock:
            sock.settimeout(5)
            if kind == "tcp":
                sock.connect((host, port))
            else:
                sock.sendto(b"probe", (host, port))
    except OSError as exc:
        return _error(exc)
    return "reached"


def resolve(name):
    try:
        return [a[4][0] for a in socket.getaddrinfo(name, 80)]
    except OSError as exc:
        return _error(exc)


def interfaces():
    with open("/proc/net/dev") as f:
        return sorted(line.split(":")[0].strip() for line in f.readlines()[2:])


def imports(names):
    found = {}
    for name in names:
        try:
            module = importlib.import_module(name)
        except BaseException as exc:
            found[name] = "refused:" + type(exc).__name__
        else:
            found[name] = "imported:" + str(getattr(module, "__file__", None))
    return found


def exists(paths):
    return {path: os.path.lexists(path) for path in paths}


def listdir(path):
    try:
        return sorted(os.listdir(path))
    except OSError as exc:
        return _error(exc)


def find_files(names):
    """Walk everything visible (but the kernel's pseudo file systems) for files with these names;
    return each one's SHA-256."""
    hits = {}
    for root, dirs, files in os.walk("/"):
        if root == "/":
            dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev")]
        for name in files:
            path = os.path.join(root, name)
            if name in names and os.path.isfile(path):
                try:
                    with open(path, "rb") as f:
                        hits[path] = hashlib.sha256(f.read()).hexdigest()
                except OSError:
                    pass
    return hits


def write_submission():
    here = os.path.dirname(os.path.abspath(__file__))
    outcomes = {}
    for label, path, mode in (("new file", os.path.join(here, "planted.py"), "w"), ("own file", __file__, "a")):
        try:
            with open(path, mode) as f:
                f.write("planted = True\\n")
        except OSError as exc:
            outcomes[label] = _error(exc)
        else:
            outcomes[label] = "written"
    try:
        os.mkdir(os.path.join(here, "__pycache__planted"))
    except OSError as exc:
        outcomes["folder"] = _error(exc)
    else:
        outcomes["folder"] = "written"
    return outcomes


def use_tmp(host_file, marker):
    with open(marker, "w") as f:
        f.write("written inside\\n")
    with open(marker) as f:
        read_back = f.read()
    return {
        "host file visible": os.path.lexists(host_file),
        "read back": read_back,
        "listing": sorted(os.listdir("/tmp")),
    }


def environment():
    texts = {"os.environ": repr(dict(os.environ))}
    for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
        for what in ("cmdline", "environ"):
            try:
                with open(f"/proc/{pid}/{what}", "rb") as f:
                    texts[f"/proc/{pid}/{what}"] = f.read().decode("utf-8", "replace")
            except OSError as exc:
                texts[f"/proc/{pid}/{what}"] = _error(exc)
    return texts


def credentials():
    with open("/proc/self/status") as f:
        status = dict(line.split(":", 1) for line in f if ":" in line)
    return {
        "uid": os.getuid(),
        "euid": os.geteuid(),
        "gid": os.getgid(),
        "groups": os.getgroups(),
        "CapEff": int(status["CapEff"].strip(), 16),
        "NoNewPrivs": int(status["NoNewPrivs"].strip()),
    }


def processes():
    found = []
    for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                found.append(f.read().replace(b"\\0", b" ").decode("utf-8", "replace"))
        except OSError:
            pass
    return found
'''


@pytest.fixture(scope="module")
def submission(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("isolation") / "submission"
    folder.mkdir()
    (folder / "probes.py").write_text(PROBES)
    return folder


@pytest.fixture(scope="module", params=["zygote", "fresh"])
def session(submission: Path, request: pytest.FixtureRequest) -> Iterator[WorkerSession]:
    """One bwrap worker per way of starting one (forked from the zygote, or a fresh interpreter, as a
    grader that is not root or gives each worker a cgroup starts them), while the grader's environment
    holds a secret."""
    backend = require_backend("bwrap")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(ZYGOTE_ENV, "1" if request.param == "zygote" else "0")
        if request.param == "zygote" and not backend.uses_zygote():
            pytest.skip("workers are forked from the zygote only when the grader runs as root")
        patch.setenv(SECRET_VARIABLE, f"canary-{TOKEN}")
        with WorkerSession(backend, LaunchSpec(submission, Limits(cpu_seconds=120), slot=SLOT)) as worker:
            call(worker, "credentials")  # start it now, with the secret in our environment
            yield worker


def call(session: WorkerSession, func: str, *args: Any) -> Any:
    body = {"op": "call", "module": "probes", "path": [func], "args": list(args)}
    value, _ = session.request(body, CALL_TIMEOUT_S, what=f"{func}(...)")
    return value


# --------------------------------------------------------------------------- network


def test_no_route_to_the_internet(session: WorkerSession) -> None:
    for kind in ("tcp", "udp"):
        assert call(session, "connect", "1.1.1.1", 53, kind) != "reached", kind
    assert isinstance(call(session, "resolve", "example.com"), str)  # an error, not addresses
    assert call(session, "interfaces") == ["lo"]


def test_no_route_to_a_port_on_the_host(session: WorkerSession) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        outcome = call(session, "connect", "127.0.0.1", port, "tcp")
        assert outcome != "reached"
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing ever arrived from the sandbox


# --------------------------------------------------------------------------- the grader's files


def _trusted_files() -> dict[str, Path]:
    """SHA-256 -> path of every non-empty file of the grader and the reference, except the worker
    shim, which the sandbox holds by design."""
    found = {}
    for top in (GRADER_DIR, REFERENCE_DIR):
        for path in top.rglob("*"):
            if "__pycache__" in path.parts or WORKER_DIR in path.parents or not path.is_file():
                continue
            data = path.read_bytes()
            if data:
                found[hashlib.sha256(data).hexdigest()] = path
    return found


def test_grader_rubric_and_reference_are_not_importable(session: WorkerSession) -> None:
    names = ["grader", "grader.boundary.rpc", "grader.assignments", "reference", "reference.hlcv_ex2.two_layernet"]
    found = call(session, "imports", names)
    assert set(found) == set(names)
    assert all(outcome.startswith("refused:") for outcome in found.values()), found


def test_grader_rubric_and_reference_are_not_visible(session: WorkerSession) -> None:
    paths = [
        GRADER_DIR / "__init__.py",
        GRADER_DIR / "boundary" / "rpc.py",
        RUBRIC_DIR,
        *sorted(RUBRIC_DIR.glob("*/assignment.toml")),
        REFERENCE_DIR,
        REFERENCE_DIR / "hlcv_ex2" / "two_layernet.py",
    ]
    assert all(path.exists() for path in paths)  # on the host they are there
    seen = call(session, "exists", [str(path) for path in paths])
    assert not any(seen.values()), seen

    # Nor a copy anywhere else, in whatever folder: no visible file has the bytes of a trusted file.
    trusted = _trusted_files()
    assert len(trusted) > 20
    hits = call(session, "find_files", sorted({path.name for path in trusted.values()}))
    assert hits, "the walk should at least find files of the same names (__init__.py, ...)"
    assert {path: trusted[digest] for path, digest in hits.items() if digest in trusted} == {}


def test_the_submission_is_read_only(session: WorkerSession, submission: Path) -> None:
    before = {path.name: path.read_bytes() for path in submission.iterdir()}
    outcomes = call(session, "write_submission")
    assert set(outcomes) == {"new file", "own file", "folder"}
    assert all(outcome.split(":")[-1] in ("EROFS", "EACCES", "EPERM") for outcome in outcomes.values()), outcomes
    assert {path.name: path.read_bytes() for path in submission.iterdir()} == before


# --------------------------------------------------------------------------- /tmp


def test_tmp_is_private_and_writable(session: WorkerSession) -> None:
    host_file = Path("/tmp") / f"backprop-grader-host-{TOKEN}"
    marker = Path("/tmp") / f"backprop-grader-inside-{TOKEN}"
    host_file.write_text("on the host\n")
    try:
        seen = call(session, "use_tmp", str(host_file), str(marker))
    finally:
        host_file.unlink()
    assert seen["host file visible"] is False
    assert seen["read back"] == "written inside\n"
    assert marker.name in seen["listing"] and host_file.name not in seen["listing"]
    assert not marker.exists()
    assert [path for path in Path("/tmp").iterdir() if TOKEN in path.name] == []


# --------------------------------------------------------------------------- environment and identity


def test_the_grader_environment_does_not_reach_the_worker(session: WorkerSession) -> None:
    assert os.environ[SECRET_VARIABLE] == f"canary-{TOKEN}"  # the grader holds the secret all along
    texts = call(session, "environment")
    assert "os.environ" in texts and "/proc/1/cmdline" in texts
    assert SECRET_VARIABLE not in texts["os.environ"]
    assert [where for where, text in texts.items() if TOKEN in text or SECRET_VARIABLE in text] == []


def test_the_worker_is_not_root(session: WorkerSession) -> None:
    seen = call(session, "credentials")
    assert seen["uid"] != 0 and seen["euid"] != 0 and seen["gid"] != 0 and 0 not in seen["groups"]
    if sandbox_uid(SLOT) is not None:
        assert seen["uid"] == seen["euid"] == UID_BASE + SLOT
        assert seen["groups"] == []
    assert seen["CapEff"] == 0
    assert seen["NoNewPrivs"] == 1


def test_the_grader_processes_are_not_visible(session: WorkerSession) -> None:
    seen = call(session, "processes")
    # Its own PID namespace: bwrap's init, the worker, nothing of the host such as this test process.
    assert 0 < len(seen) < 10
    assert Path("/proc/self/cmdline").read_bytes().replace(b"\0", b" ").decode() not in seen


def test_site_packages_holds_only_the_allow_list(session: WorkerSession) -> None:
    """The worker's environment is numpy, torch and their requirements: the grader's own
    dependencies, installed beside them on the host, are not in the worker's file system."""
    from grader.sandbox.allowlist import allowed_entries, site_dirs

    allowed = {os.path.basename(entry) for entry in allowed_entries()}
    assert {"numpy", "torch"} <= allowed
    for site_dir in site_dirs():
        host = set(os.listdir(site_dir))
        assert {"pydantic", "click", "_pytest", "docker"} <= host  # installed beside them on the host
        seen = call(session, "listdir", site_dir)
        assert set(seen) <= allowed, set(seen) - allowed
    found = call(session, "imports", ["numpy", "torch", "pydantic", "click", "pytest", "docker"])
    assert found["numpy"].startswith("imported:") and found["torch"].startswith("imported:"), found
    assert all(found[name].startswith("refused:") for name in ("pydantic", "click", "pytest", "docker")), found
