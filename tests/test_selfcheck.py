"""``grade check``: the student's self-check, run for real on the handout and on corpus submissions.

Each run is a real ``grade check`` process with the ``process`` sandbox when it can run here (what a
student's laptop without Docker or bubblewrap gets), else bubblewrap. Every case runs once per module
and several tests read what it printed and the JSON it wrote with ``--out``.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from classroom import SUBMISSION_FILES, TEMPLATE, require_corpus
from sandbox_backends import require_backend

from grader.cli.selfcheck import Todo, find_todos
from grader.results import GradeResult, load_result
from grader.sandbox import SandboxUnavailable, backend_class

#: Wall-clock ceiling for one self-check; far above what the handout and the good submission take.
RUN_TIMEOUT_S = 600
#: The handout's constructor is GIVEN code, so its check passes before anything is implemented; it
#: carries no points, so the untouched handout scores 0.
GIVEN_CODE_CHECKS = {"Initialisation: seeded weights and zero biases": 0.0}
#: The rubric's 100 points without the 8-point hidden gradient check (test_2_backprop.py).
VISIBLE_POINTS = 92.0
HIDDEN_TITLE = "Gradients on hidden inputs"


@dataclass
class Checked:
    """One finished ``grade check`` run."""

    process: subprocess.CompletedProcess[str]
    result: GradeResult
    seconds: float


def sandbox_name() -> str:
    """``process`` (the laptop case) where it can run, else bubblewrap (or a skip saying why not)."""
    try:
        backend_class("process").check_available()
        return "process"
    except SandboxUnavailable:
        require_backend("bwrap")
        return "bwrap"


def run_check(folder: Path, out: Path, *extra: str, sandbox: str | None = None) -> Checked:
    """``grade check FOLDER`` in a fresh interpreter, from inside FOLDER as a student would run it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BACKPROP_GRADER_DATA", "PYTEST_"))}
    args = [sys.executable, "-m", "grader.cli", "check", "--sandbox", sandbox or sandbox_name(), "--out", str(out)]
    start = time.monotonic()
    done = subprocess.run(
        [*args, *extra], cwd=folder, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False
    )
    seconds = time.monotonic() - start
    assert out.exists(), done.stderr
    return Checked(done, load_result(out), seconds)


def todo_messages(folder: Path) -> list[str]:
    """The handout's TODO messages, read with a plain pattern (independent of the code under test)."""
    found = []
    for name in SUBMISSION_FILES:
        if name.endswith(".py"):
            found += re.findall(r'raise NotImplementedError\("(TODO[^"]*)"\)', (folder / name).read_text())
    return found


def section(stdout: str, heading: str) -> str:
    """The indented lines under a heading of the summary, up to the next heading."""
    match = re.search(rf"^{re.escape(heading)}.*\n((?:(?: .*)?\n)*)", stdout, re.M)
    assert match, f"no {heading!r} section in:\n{stdout}"
    return match.group(1).strip("\n") + "\n"


@pytest.fixture(scope="module")
def template_check(tmp_path_factory: pytest.TempPathFactory) -> Checked:
    work = tmp_path_factory.mktemp("template")
    folder = work / "ex2"
    shutil.copytree(TEMPLATE, folder)
    return run_check(folder, work / "check.json")


@pytest.fixture(scope="module")
def good_check(tmp_path_factory: pytest.TempPathFactory) -> Checked:
    """The good submission in a student's working copy: a venv with links, data and notes beside it."""
    corpus = require_corpus()
    work = tmp_path_factory.mktemp("good")
    folder = work / "ex2"
    folder.mkdir()
    for name in SUBMISSION_FILES:
        shutil.copy(corpus / "good" / name, folder / name)
    (folder / ".venv" / "bin").mkdir(parents=True)
    (folder / ".venv" / "bin" / "python").symlink_to(sys.executable)
    (folder / "cifar-10-batches-py").mkdir()
    (folder / "cifar-10-batches-py" / "data_batch_1").write_bytes(b"\0" * 4096)
    (folder / "notes.ipynb").write_text("{}")
    return run_check(folder, work / "check.json")


@pytest.fixture(scope="module")
def buggy_check(tmp_path_factory: pytest.TempPathFactory) -> Checked:
    corpus = require_corpus()
    work = tmp_path_factory.mktemp("buggy")
    return run_check(corpus / "buggy" / "grad-not-averaged", work / "check.json")


# --------------------------------------------------------------------------- the untouched handout


def test_template_reports_every_todo_as_not_implemented_without_a_traceback(template_check: Checked) -> None:
    done = template_check.process
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    todos = todo_messages(TEMPLATE)
    assert len(todos) >= 8, todos
    waiting = section(done.stdout, "Not implemented yet")
    for message in todos:
        assert message in waiting, message
    # Every line of that section names a TODO left, or a check it stops.
    starts = ("  two_layernet.py, line", "  ex2_pytorch.py, line", "      stops: ")
    assert all(line.startswith(starts) for line in waiting.splitlines()), waiting


def test_template_scores_zero_and_passes_only_the_given_code(template_check: Checked) -> None:
    result = template_check.result
    passed = {t.title: t.score for t in result.tests if t.status == "passed"}
    assert passed == GIVEN_CODE_CHECKS
    assert result.score == 0
    for check in result.tests:
        if check.status != "passed" and check.status != "skipped":
            assert check.status == "failed" and check.output.startswith("not implemented yet"), check
            assert check.score == 0
    assert f"Visible checks: 0 / {VISIBLE_POINTS:g} points" in template_check.process.stdout


def test_template_check_is_fast(template_check: Checked) -> None:
    # Every check stops at its first call into the handout; this is sandbox start-up and one torch import.
    assert template_check.seconds < 120, template_check.seconds


# --------------------------------------------------------------------------- the good submission


def test_good_submission_passes_every_visible_check(good_check: Checked) -> None:
    done, result = good_check.process, good_check.result
    assert done.returncode == 0, done.stdout + done.stderr
    ran = [t for t in result.tests if t.status != "skipped"]
    assert len(ran) >= 14 and all(t.status == "passed" and t.score == t.max_score for t in ran)
    # Only the CIFAR-10 checks need data; without it they are said to be not run, not failed.
    assert all("CIFAR-10" in t.title for t in result.tests if t.status == "skipped")
    assert "Every visible check that ran passes." in done.stdout
    assert "Failing" not in done.stdout and "Not implemented yet" not in done.stdout
    assert result.max_score == VISIBLE_POINTS
    assert f"Visible checks: {result.score:g} / {VISIBLE_POINTS:g} points" in done.stdout


def test_only_the_assignment_files_are_taken_from_the_working_copy(good_check: Checked) -> None:
    # The .venv holds a symbolic link, which a whole-folder intake refuses; the check never looks there.
    assert f"Files checked: {', '.join(SUBMISSION_FILES)}" in good_check.process.stdout
    assert "refused" not in good_check.process.stdout


def test_hidden_checks_are_neither_run_nor_revealed(good_check: Checked, template_check: Checked) -> None:
    for checked in (good_check, template_check):
        assert all(t.visibility == "visible" for t in checked.result.tests)
        assert HIDDEN_TITLE not in checked.process.stdout + checked.process.stderr
        assert not any("hidden" in t.name for t in checked.result.tests)
        assert "Hidden check." not in checked.process.stdout


def test_numeric_checks_take_seconds(good_check: Checked) -> None:
    numpy_checks = [t for t in good_check.result.tests if not t.title.startswith(("MLP", "train_mlp", "PyTorch"))]
    assert len(numpy_checks) >= 10
    assert sum(t.duration_s for t in numpy_checks) < 10, [(t.title, t.duration_s) for t in numpy_checks]


# --------------------------------------------------------------------------- a buggy submission


def test_buggy_submission_says_what_fails_and_why(buggy_check: Checked) -> None:
    done = buggy_check.process
    assert done.returncode == 1
    failing = section(done.stdout, "Failing")
    assert "FAIL  Toy problem: gradients of W1, b1, W2, b2" in failing
    # The corpus case's mistake, in the student's words, and the numbers behind the verdict.
    assert "instead of averaged" in failing and "max relative error" in failing
    assert "Passing" in done.stdout and "Not implemented yet" not in done.stdout


# --------------------------------------------------------------------------- usage


def test_a_folder_without_the_assignment_files_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("nothing to grade here\n")
    done = subprocess.run(
        [sys.executable, "-m", "grader.cli", "check", str(tmp_path), "--sandbox", sandbox_name()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "two_layernet.py" in lines[0], done.stderr
    assert "Traceback" not in done.stderr


def test_find_todos_keeps_only_the_handouts_todo_raises(tmp_path: Path) -> None:
    (tmp_path / "two_layernet.py").write_text(
        "def f(optimizer):\n"
        "    if optimizer == 'lbfgs':\n"
        "        raise NotImplementedError(f'{optimizer} is not supported')\n"
        "    raise NotImplementedError('unsupported')\n"
        "\n"
        "def g():\n"
        '    raise NotImplementedError("TODO: g")\n'
        "    raise NotImplementedError\n"
    )
    (tmp_path / "ex2_pytorch.py").write_text("def broken(:\n    raise NotImplementedError('TODO: never parsed')\n")
    found = find_todos(tmp_path, ["two_layernet.py", "ex2_pytorch.py", "hyperparams.json"])
    assert found == [Todo("two_layernet.py", 7, "TODO: g")]


def test_find_todos_agrees_with_the_handout_source() -> None:
    expected = []
    for name in SUBMISSION_FILES:
        if not name.endswith(".py"):
            continue
        for node in ast.walk(ast.parse((TEMPLATE / name).read_text())):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                if getattr(node.exc.func, "id", None) == "NotImplementedError":
                    expected.append((name, node.lineno))
    found = find_todos(TEMPLATE, list(SUBMISSION_FILES))
    assert sorted((t.file, t.line) for t in found) == sorted(expected)
    assert [t.message for t in found] == todo_messages(TEMPLATE)
