"""The sandbox image and ``grade image build``: what the image holds, what a build reads, when it is reused.

Tests that need the engine and a built, up-to-date image skip with the reason when there is none,
and fail instead when ``BACKPROP_GRADER_REQUIRE_DOCKER=1`` (CI builds the image before the tests).
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
import textwrap
from pathlib import Path

import pytest

from grader.sandbox.base import WORKER_DIR, SandboxUnavailable
from grader.sandbox.docker import DEFAULT_IMAGE, DockerSandbox, connect
from grader.sandbox.image import (
    _context_tar,
    apt_mirror,
    build_image,
    image_fingerprint,
    worker_digest,
)

REPO = Path(__file__).resolve().parents[1]

#: Runs inside the image as the sandbox user; argv[1] maps file sizes to SHA-256 digests of the
#: grader's trusted files. Prints what it finds as JSON.
PROBE = textwrap.dedent(
    """
    import hashlib, importlib.util, json, os, sys
    import numpy, torch
    trusted = {int(size): set(digests) for size, digests in json.loads(sys.argv[1]).items()}
    found = []
    for root, dirs, files in os.walk("/"):
        dirs[:] = [d for d in dirs if os.path.join(root, d) not in ("/proc", "/sys", "/dev")]
        for name in files:
            path = os.path.join(root, name)
            try:
                if os.path.islink(path) or os.path.getsize(path) not in trusted:
                    continue
                with open(path, "rb") as handle:
                    if hashlib.sha256(handle.read()).hexdigest() in trusted[os.path.getsize(path)]:
                        found.append(path)
            except OSError:
                continue
    worker = {}
    for name in sorted(os.listdir("/opt/worker")):
        with open(os.path.join("/opt/worker", name), "rb") as handle:
            worker[name] = hashlib.sha256(handle.read()).hexdigest()
    print(json.dumps({
        "uid": os.getuid(),
        "numpy": numpy.__version__,
        "torch": torch.__version__,
        "cuda": torch.cuda.is_available(),
        "grader": importlib.util.find_spec("grader") is not None,
        "reference": importlib.util.find_spec("reference") is not None,
        "trusted_files": found,
        "worker": worker,
    }))
    """
)


def _trusted_files() -> dict[int, list[str]]:
    """Sizes and digests of every file of the grader that must stay outside: all but the worker shim."""
    by_size: dict[int, list[str]] = {}
    for folder in (REPO / "grader", REPO / "reference"):
        for path in folder.rglob("*"):
            if not path.is_file() or WORKER_DIR in path.parents or "__pycache__" in path.parts:
                continue
            data = path.read_bytes()
            if len(data) > 200:  # tiny files (empty __init__.py) say nothing about where they came from
                by_size.setdefault(len(data), []).append(hashlib.sha256(data).hexdigest())
    return by_size


def _require_fresh_image() -> None:
    try:
        DockerSandbox.check_available()
    except SandboxUnavailable as error:
        if os.environ.get("BACKPROP_GRADER_REQUIRE_DOCKER") == "1":
            pytest.fail(f"BACKPROP_GRADER_REQUIRE_DOCKER=1 but {error}")
        pytest.skip(str(error))


@pytest.fixture(scope="module")
def engine():
    _require_fresh_image()
    client = connect()
    yield client
    client.close()


pytestmark = pytest.mark.sandbox


def test_image_holds_the_worker_numpy_and_cpu_torch_and_nothing_of_the_grader(engine):
    output = engine.containers.run(
        DEFAULT_IMAGE,
        ["python3", "-I", "-B", "-c", PROBE, json.dumps(_trusted_files())],
        network_mode="none",
        read_only=True,
        remove=True,
    )
    found = json.loads(output.decode().strip().splitlines()[-1])
    assert found["uid"] != 0  # the image's own user is unprivileged too
    import numpy

    assert found["numpy"] == numpy.__version__  # both sides compute with the same numpy
    assert found["torch"].endswith("+cpu") and found["cuda"] is False
    assert found["grader"] is False and found["reference"] is False
    assert found["trusted_files"] == []
    # The probe does see trusted files where they are: the same run with reference/ mounted finds them.
    output = engine.containers.run(
        DEFAULT_IMAGE,
        ["python3", "-I", "-B", "-c", PROBE, json.dumps(_trusted_files())],
        network_mode="none",
        read_only=True,
        remove=True,
        volumes={str(REPO / "reference"): {"bind": "/mnt/planted", "mode": "ro"}},
    )
    planted = json.loads(output.decode().strip().splitlines()[-1])["trusted_files"]
    assert planted and all(path.startswith("/mnt/planted/") for path in planted)
    expected = {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(WORKER_DIR.iterdir())
        if path.is_file() and path.suffix == ".py"
    }
    assert found["worker"] == expected


def test_an_unchanged_image_is_reused_without_building(engine):
    log: list[str] = []
    report = build_image(log=log.append)
    assert report.reused, log
    assert report.tag == DEFAULT_IMAGE
    assert report.image_id == engine.images.get(DEFAULT_IMAGE).id
    assert report.versions["torch"].endswith("+cpu")
    assert not any("downloading" in line or "debootstrap" in line for line in log), log
    assert report.summary().startswith(f"reused {DEFAULT_IMAGE} = backprop-grader-worker:")


# --------------------------------------------------------------------------- without an engine


def test_build_context_holds_only_the_dockerfile_the_worker_and_the_wheels(tmp_path):
    wheelhouse = tmp_path / "wheelhouse"
    wheelhouse.mkdir()
    (wheelhouse / "numpy-0-py3-none-any.whl").write_bytes(b"wheel")
    (wheelhouse / "stray.txt").write_bytes(b"not listed, not sent")
    context = tmp_path / "context.tar"
    _context_tar(context, wheelhouse, ["numpy-0-py3-none-any.whl"])
    with tarfile.open(context) as tar:
        names = sorted(tar.getnames())
        owners = {(member.uid, member.gid) for member in tar.getmembers()}
    worker = sorted(
        f"grader/worker/{p.relative_to(WORKER_DIR).as_posix()}"
        for p in WORKER_DIR.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in {".pyc", ".pyo"}
    )
    assert names == sorted(["docker/Dockerfile", "wheelhouse/numpy-0-py3-none-any.whl", *worker])
    assert owners == {(0, 0)}


def test_the_repository_docker_context_excludes_everything_but_the_image_inputs():
    # `docker build -f docker/Dockerfile .` by hand must not send reference/ or the rubric either.
    rules = [line for line in (REPO / ".dockerignore").read_text().splitlines() if line and line[0] != "#"]
    assert rules[0] == "*"
    assert set(rules[1:]) == {"!docker/Dockerfile", "!grader/worker/", "grader/worker/**/__pycache__", "!wheelhouse/"}


def test_worker_digest_follows_names_and_contents(tmp_path):
    (tmp_path / "shim.py").write_text("a")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "shim.cpython-311.pyc").write_bytes(b"ignored")
    first = worker_digest(tmp_path)
    (tmp_path / "__pycache__" / "shim.cpython-311.pyc").write_bytes(b"still ignored")
    assert worker_digest(tmp_path) == first
    (tmp_path / "shim.py").write_text("b")
    assert worker_digest(tmp_path) != first
    (tmp_path / "shim.py").write_text("a")
    (tmp_path / "protocol.py").write_text("")
    assert worker_digest(tmp_path) != first


def test_fingerprint_changes_with_every_input():
    base = (b"FROM x", "sha", ["numpy==2", "torch==2.13.0+cpu"], "debootstrap bookworm", {"BASE": "b"})
    reference = image_fingerprint(*base)
    assert image_fingerprint(b"FROM x", "sha", ["torch==2.13.0+cpu", "numpy==2"], *base[3:]) == reference
    variants = [
        (b"FROM y", *base[1:]),
        (base[0], "other", *base[2:]),
        (*base[:2], ["numpy==3", "torch==2.13.0+cpu"], *base[3:]),
        (*base[:3], "python:3.11-slim-bookworm", base[4]),
        (*base[:4], {"BASE": "c"}),
    ]
    assert len({image_fingerprint(*v) for v in variants} | {reference}) == len(variants) + 1


def test_apt_mirror_is_read_from_one_line_and_deb822_sources(tmp_path):
    apt = tmp_path / "apt"
    (apt / "sources.list.d").mkdir(parents=True)
    (apt / "sources.list").write_text("# deb http://commented.example/debian bookworm main\n")
    (apt / "sources.list.d" / "debian.sources").write_text(
        "Types: deb-src\nURIs: http://source-only.example/debian\nSuites: bookworm\n\n"
        "Types: deb\nURIs: http://disabled.example/debian\nSuites: bookworm\nEnabled: no\n\n"
        "Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\nComponents: main\n"
    )
    assert apt_mirror("bookworm", apt) == "http://mirror.example/debian"
    (apt / "sources.list").write_text("deb [arch=amd64 signed-by=/k.gpg] http://one.example/debian bookworm main\n")
    assert apt_mirror("bookworm", apt) == "http://one.example/debian"
    assert apt_mirror("trixie", apt) is None
