"""A pack's background threads cannot break the checks running at the same time.

hlcv-ex2 imports torch in a thread while its numpy checks run, and importing torch (with
``torch._dynamo``) creates hundreds of loggers. pytest's log capture walks every logger around each
check without the logging lock, so a logger created meanwhile ended a check as "internal error
(RuntimeError: dictionary changed size during iteration)": a rare, load-dependent false error seen in
a batch. The pack below creates loggers without pause while forty checks run; every check must pass.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from grader.engine.grading import GradeOptions, grade
from grader.engine.scaffold import new_pack
from grader.sandbox import Sandbox

#: Appended to the scaffolded pack's fixtures.py: a thread that keeps creating loggers, as an import does.
LOGGERS_IN_BACKGROUND = """

import logging
import sys
import threading

_stop = threading.Event()


def _create_loggers():
    # Loggers come and go (forgotten again so the registry stays small), so its size keeps changing.
    registry = logging.Logger.manager.loggerDict
    count = 0
    while not _stop.is_set():
        logging.getLogger(f"background.import.{count % 2000}")
        registry.pop(f"background.import.{(count + 1000) % 2000}", None)
        count += 1


@pytest.fixture(scope="session", autouse=True)
def _importing_in_background():
    # Threads switch far more often than the default 5 ms, so a race shows up in every grading.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    thread = threading.Thread(target=_create_loggers, daemon=True)
    thread.start()
    yield
    _stop.set()
    thread.join()
    sys.setswitchinterval(interval)
"""

CHECKS = 40


def _many_checks() -> str:
    lines = ["from grader.pack import points", ""]
    for number in range(CHECKS):
        lines += ["", "@points(1)", f"def test_quick_{number}():", "    assert sum(range(1000)) == 499500", ""]
    return "\n".join(lines)


def test_checks_pass_while_a_pack_thread_creates_loggers(tmp_path: Path, grading_sandbox: Sandbox) -> None:
    pack = tmp_path / "threads-pack"
    new_pack(pack)
    with (pack / "fixtures.py").open("a") as fixtures:
        fixtures.write(LOGGERS_IN_BACKGROUND)
    (pack / "test_2_quick.py").write_text(_many_checks())
    submission = tmp_path / "submission"
    submission.mkdir()
    shutil.copyfile(pack / "reference" / "solution.py", submission / "solution.py")

    result = grade(submission, GradeOptions(assignment=str(pack), sandbox=grading_sandbox))

    quick = [t for t in result.tests if t.name.startswith("test_quick_")]
    assert len(quick) == CHECKS
    assert [(t.name, t.output) for t in quick if t.status != "passed"] == []
    assert result.status == "graded" and result.score == result.max_score
