"""Gradings at the same time on one machine give the grades each would get alone.

Two ``grade`` commands and a ``grade batch --jobs 2`` run at once, with hostile submissions among
them: one holds most of its process limit for as long as it is graded (with a shared uid, that limit
is also the others'), one tries to stash its source in the kernel keyring and in shared memory, one
kills its parent. Every result must equal the result of grading the same submission alone.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from classroom import grade_command, grade_env, require_bwrap, require_corpus

from grader.engine.grading import GradeOptions, grade
from grader.results import GradeResult, load_result

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

#: Appended to a correct two_layernet.py: every worker that imports it holds 12 more processes for as
#: long as it lives (a grading's workers share its uid: several of them hold most of its process limit).
HOG = """

import subprocess as _subprocess
_HELD = [_subprocess.Popen(["/usr/bin/sleep", "600"]) for _ in range(12)]
"""

#: Appended to a correct two_layernet.py: leaves its source where a later or parallel grading could look.
STASH = """

import ctypes as _ctypes
_libc = _ctypes.CDLL(None, use_errno=True)
_source = open(__file__, "rb").read()
_libc.syscall(248, b"user", b"stash", _source, len(_source), -4)  # add_key to the uid's keyring
try:
    open("/dev/shm/stash", "wb").write(_source)
except OSError:
    pass
"""


def _outcome(result: GradeResult) -> tuple[str, float, list[tuple[str, str, float]]]:
    """What must not depend on what else runs on the machine."""
    return result.status, result.score, [(t.name, t.status, t.score) for t in result.tests]


@pytest.fixture(scope="module")
def submissions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    require_bwrap()
    corpus = require_corpus()
    root = tmp_path_factory.mktemp("concurrent")
    made = {}
    for name, extra in (("hog", HOG), ("stash", STASH)):
        folder = root / name
        shutil.copytree(corpus / "good", folder)
        with open(folder / "two_layernet.py", "a") as handle:
            handle.write(extra)
        made[name] = folder
    made["good"] = corpus / "good"
    made["kill-parent"] = corpus / "hostile" / "kill-parent"
    return made


def test_parallel_gradings_equal_gradings_alone(submissions: dict[str, Path], tmp_path: Path) -> None:
    alone = {name: _outcome(grade(path, GradeOptions(sandbox="bwrap"))) for name, path in submissions.items()}
    assert alone["good"][1] > 0 and alone["kill-parent"][1] == 0

    klass = tmp_path / "class"
    klass.mkdir()
    for name in ("good", "stash"):
        shutil.copytree(submissions[name], klass / name)
    out = tmp_path / "batch"
    env = grade_env()
    commands = {
        "hog": grade_command(str(submissions["hog"]), "--sandbox", "bwrap", "--out", str(tmp_path / "hog.json")),
        "kill-parent": grade_command(
            str(submissions["kill-parent"]), "--sandbox", "bwrap", "--out", str(tmp_path / "kill-parent.json")
        ),
        "batch": grade_command("batch", str(klass), "--out", str(out), "--jobs", "2", "--sandbox", "bwrap"),
    }
    running = {
        name: subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name, argv in commands.items()
    }
    for name, process in running.items():
        stdout, stderr = process.communicate(timeout=900)
        assert process.returncode == 0, f"{name}: {stderr[-2000:]}"

    together = {
        "hog": load_result(tmp_path / "hog.json"),
        "kill-parent": load_result(tmp_path / "kill-parent.json"),
        "good": load_result(out / "good.json"),
        "stash": load_result(out / "stash.json"),
    }
    for name, result in together.items():
        assert _outcome(result) == alone[name], name
    assert not Path("/dev/shm/stash").exists()
