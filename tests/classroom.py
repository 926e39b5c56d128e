"""Helpers for the batch tests: real submissions in a class folder, and the ``grade`` command run for real.

Submissions are the handout (``student_template/``: every function raises NotImplementedError, so a
grading is quick and scores little) and files that are not zips at all (rejected at intake), plus,
when the shared corpus is present, its cases.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "student_template" / "hlcv-ex2"
CORPUS = REPO.parent / "shared" / "corpus"
SUBMISSION_FILES = ("two_layernet.py", "ex2_pytorch.py", "hyperparams.json")


def require_bwrap() -> None:
    """Skip unless bubblewrap runs here; with BACKPROP_GRADER_REQUIRE_BWRAP=1 (CI) fail instead."""
    from grader.sandbox import SandboxUnavailable, select_sandbox

    try:
        select_sandbox("bwrap")
    except SandboxUnavailable as exc:
        if os.environ.get("BACKPROP_GRADER_REQUIRE_BWRAP") == "1":
            pytest.fail(f"BACKPROP_GRADER_REQUIRE_BWRAP=1 but bwrap cannot run: {exc}")
        pytest.skip(f"grading needs a sandbox and bwrap cannot run here: {exc}")


def require_corpus() -> Path:
    """The shared submission corpus, or a skip saying it is absent."""
    if not (CORPUS / "good").is_dir():
        pytest.skip(f"the submission corpus is not at {CORPUS}")
    return CORPUS


def add_template(folder: Path, name: str, *, marker: str = "") -> Path:
    """A folder submission ``folder/name`` holding the handout; ``marker`` changes its content."""
    target = folder / name
    target.mkdir(parents=True)
    for file in SUBMISSION_FILES:
        shutil.copy(TEMPLATE / file, target / file)
    if marker:
        with open(target / "two_layernet.py", "a", encoding="utf-8") as handle:
            handle.write(f"\n# {marker}\n")
    return target


def add_not_a_zip(folder: Path, name: str) -> Path:
    """``folder/name.zip`` that is not a zip archive: rejected at intake, no student code runs."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.zip"
    target.write_bytes(b"this is not a zip archive\n")
    return target


def grade_env(**extra: str) -> dict[str, str]:
    """The environment for a ``grade`` subprocess: no CIFAR-10 (accuracy checks would train for
    minutes), unbuffered output."""
    env = {k: v for k, v in os.environ.items() if k != "BACKPROP_GRADER_DATA_DIR"}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def grade_command(*args: str) -> list[str]:
    """``grade ARGS`` through this interpreter, so the test runs the installed code under test."""
    return [sys.executable, "-m", "grader.cli", *args]


def run_grade(*args: str, timeout: float = 600, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``grade ARGS`` to the end and return what it printed and its exit status."""
    return subprocess.run(
        grade_command(*args), capture_output=True, text=True, timeout=timeout, env=grade_env(**env), cwd=REPO
    )


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (Linux: /proc/PID/task/*/children)."""
    found: set[int] = set()
    stack = [pid]
    while stack:
        current = stack.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    stack.append(child)
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
