"""The hlcv-ex2 student bundle, built once per test run and shared by the files that install it.

Building records every visible check against a dozen submissions (half a minute on a quiet machine).
``tests/test_student_bundle.py`` and ``tests/test_student_ci.py`` both need the same bundle, and under
pytest-xdist they run in different worker processes: the first to ask builds it, under a file lock in
the folder every worker of the run shares, and the other waits for it. Each caller gets its own copy,
since installing from a folder may write into it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from filelock import FileLock

REPO = Path(__file__).resolve().parents[1]
PACK = "hlcv-ex2"
#: Set while building: a value that must never reach a bundle (``test_student_bundle.py`` looks for it).
SECRET = "bundle-test-secret-8c1f2a"


def _shared_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.getbasetemp()
    # Under xdist each worker's basetemp is a folder of the run's own: its parent is shared.
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def student_bundle_copy(tmp_path_factory: pytest.TempPathFactory, sandbox: str, dest: Path) -> str:
    """Copy the bundle, built as docs/student-bundle.md says, to ``dest``; return the build's output.

    ``grade pack bundle hlcv-ex2 --student --out DIR`` runs once per test run and sandbox.
    """
    built = _shared_folder(tmp_path_factory) / f"{PACK}-student-bundle-{sandbox}"
    with FileLock(f"{built}.lock"):
        if not (built / "output.txt").exists():
            shutil.rmtree(built, ignore_errors=True)
            built.mkdir()
            env = {**os.environ, "PYTHONPATH": str(REPO), "BACKPROP_GRADER_SECRET": SECRET}
            command = [sys.executable, "-m", "grader.cli", "pack", "bundle", PACK, "--student"]
            command += ["--out", str(built / "bundle"), "--sandbox", sandbox]
            done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False)
            assert done.returncode == 0, done.stdout + done.stderr
            (built / "output.txt").write_text(done.stdout)
    shutil.copytree(built / "bundle", dest)
    return (built / "output.txt").read_text()
