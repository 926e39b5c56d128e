"""``grade gradescope build``: the autograder zip, and its ``run_autograder`` in Gradescope's layout.

Gradescope's layout (its autograder specification): the zip unpacked in ``/autograder/source``,
``run_autograder`` at ``/autograder/run_autograder``, the student's files in ``/autograder/submission``,
the result read from ``/autograder/results/results.json``. With Docker, ``setup.sh`` builds that image
from the local sandbox image (offline, with bundled wheels), and ``run_autograder`` grades in it.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli.app import main
from grader.results import HIDDEN_OUTPUT
from grader.sandbox.uids import uid_lock_dir

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "student_template" / "hlcv-ex2"


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("kit") / "autograder.zip"
    done = CliRunner().invoke(main, ["gradescope", "build", "--out", str(out)], prog_name="grade")
    assert done.exit_code == 0, done.output
    return out


def test_the_kit_has_what_gradescope_expects(kit: Path) -> None:
    with zipfile.ZipFile(kit) as archive:
        names = archive.namelist()
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
        scripts = {name: archive.read(name).decode() for name in ("setup.sh", "run_autograder")}
    for name in ("setup.sh", "run_autograder"):
        assert modes[name] & stat.S_IXUSR, f"{name} must be executable"
    assert "backprop-grader/pyproject.toml" in names
    assert "backprop-grader/grader/assignments/hlcv_ex2/assignment.toml" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    for name, text in scripts.items():
        check = subprocess.run(["bash", "-n"], input=text, text=True, capture_output=True, check=False)
        assert check.returncode == 0, f"{name}: {check.stderr}"
    assert "/autograder/results/results.json" in scripts["run_autograder"]
    assert "--format gradescope --include-hidden" in scripts["run_autograder"]


def test_a_kit_needs_wheels_in_the_wheelhouse(tmp_path: Path) -> None:
    done = CliRunner().invoke(
        main, ["gradescope", "build", "--out", str(tmp_path / "k.zip"), "--wheelhouse", str(tmp_path)]
    )
    assert done.exit_code == 2 and "no wheels (*.whl)" in done.stderr


# -- setup.sh in a Docker image ----------------------------------------------------------------------

#: The grader's dependencies that the sandbox image lacks (it has numpy and torch), plus pip to run.
KIT_REQUIREMENTS = ["pydantic>=2.6,<3", "click>=8.1", "pytest>=8", "docker>=7", "setuptools>=69", "pip"]
WHEEL_CACHE = REPO / ".cache" / "gradescope-wheels"


def _wheelhouse() -> Path:
    """Wheels for CPython 3.11 on x86_64, downloaded once into the repository's cache folder."""
    if not any(WHEEL_CACHE.glob("pydantic_core-*.whl")):
        WHEEL_CACHE.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "-d", str(WHEEL_CACHE)]
        command += ["--only-binary=:all:", "--python-version", "3.11", "--platform", "manylinux2014_x86_64"]
        done = subprocess.run(command + KIT_REQUIREMENTS, capture_output=True, text=True, timeout=300, check=False)
        if done.returncode != 0:
            pytest.skip(f"cannot download the kit's wheels: {done.stderr.strip().splitlines()[-1:]}")
    return WHEEL_CACHE


def _docker(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)


@pytest.mark.sandbox
@pytest.mark.slow
def test_setup_sh_builds_an_image_in_which_run_autograder_grades(tmp_path: Path) -> None:
    """setup.sh offline (bundled wheels) on the local sandbox image, committed as the autograder image;
    then run_autograder grades a submission in /autograder/submission with no network."""
    from sandbox_backends import require_backend

    require_backend("docker")
    kit = tmp_path / "autograder.zip"
    done = CliRunner().invoke(main, ["gradescope", "build", "--out", str(kit), "--wheelhouse", str(_wheelhouse())])
    assert done.exit_code == 0, done.output
    name = f"backprop-grader-gradescope-test-{os.getpid()}"
    unpack = (
        "mkdir -p /autograder/source && cd /autograder/source"
        " && python3 -c 'import zipfile; zipfile.ZipFile(\"/kit/autograder.zip\").extractall()'"
        " && chmod 755 setup.sh run_autograder && cp run_autograder /autograder/run_autograder && bash setup.sh"
    )
    built = _docker(
        "run", "--name", name, "--network", "none", "--user", "0", "--entrypoint", "/bin/bash",
        "-v", f"{tmp_path}:/kit:ro", "backprop-grader-worker", "-c", unpack,
    )  # fmt: skip
    try:
        assert built.returncode == 0, (built.stdout + built.stderr)[-3000:]
        assert _docker("commit", name, f"{name}:latest").returncode == 0
        submission, results = tmp_path / "submission", tmp_path / "results"
        shutil.copytree(TEMPLATE, submission, ignore=shutil.ignore_patterns(".*"))
        results.mkdir(mode=0o777)
        # The container's grader runs student code as the host's sandbox uids (no user namespace): it
        # leases them from this host's lock folder, or a test grading beside it would purge its workers.
        uids = uid_lock_dir()
        graded = _docker(
            "run", "--rm", "--network", "none", "--user", "0", "--entrypoint", "/autograder/run_autograder",
            "-v", f"{submission}:/autograder/submission:ro", "-v", f"{results}:/autograder/results",
            "-v", f"{uids}:/tmp/{uids.name}", f"{name}:latest",
        )  # fmt: skip
        assert graded.returncode == 0, (graded.stdout + graded.stderr)[-3000:]
        data = json.loads((results / "results.json").read_text())
        assert data["score"] == 0 and len(data["tests"]) == 18
        assert data["extra_data"]["status"] == "graded", data["extra_data"]
        hidden = [t for t in data["tests"] if t["visibility"] == "hidden"]
        assert hidden, "the rubric has hidden checks"
        # Staff see hidden tests in full on Gradescope: their feedback is kept, not redacted.
        assert all(t["output"] and HIDDEN_OUTPUT not in t["output"] for t in hidden)
        skipped = [t for t in data["tests"] if t["extra_data"]["status"] == "skipped"]
        assert len(skipped) == 2 and all("status" not in t and "--data-dir" not in t["output"] for t in skipped)
    finally:
        _docker("rm", "-f", name)
        _docker("rmi", "-f", f"{name}:latest")
