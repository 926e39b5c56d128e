"""What ``grade`` prints on a terminal: live per-check progress, colour rules, wrapped titles, and a
rejected submission's reason said once.

The terminal runs are real ``grade`` processes attached to a pseudo-terminal (so ``isatty()`` is true,
as for a person at a shell). They grade a file that is not a zip: the submission is rejected at intake,
so no student code runs, yet every check of the rubric still reports, which is all the progress needs.
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sandbox_backends import require_backend

from grader.cli.console import format_summary
from grader.engine.grading import GradeOptions, grade
from grader.engine.packs import load_assignment

#: An SGR escape sequence (colour, bold); clearing a line (``ESC [2K``) is not colour.
SGR = re.compile(r"\x1b\[[0-9;]*m")
REASON = "not a zip file"
RUN_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def not_a_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("console") / "homework.zip"
    path.write_bytes(b"this is not a zip archive\n")
    return path


@pytest.fixture(scope="module")
def rejected(not_a_zip: Path):
    """The rejected result of `not_a_zip`, graded once in this process."""
    return grade(not_a_zip, GradeOptions(sandbox=require_backend("bwrap")))


def titles() -> list[str]:
    """Every check title of hlcv-ex2, read from the rubric's source (not from the code under test)."""
    folder = load_assignment("hlcv-ex2").folder
    found = []
    for path in sorted(folder.glob("test_*.py")):
        found += re.findall(r'@pytest\.mark\.title\("([^"]+)"\)', path.read_text(encoding="utf-8"))
    return found


def run_in_terminal(args: list[str], cwd: Path, **env: str) -> tuple[int, str]:
    """Run ``grade ARGS`` with stdin, stdout and stderr on a pseudo-terminal; return (status, all it printed)."""
    leader, follower = pty.openpty()
    environment = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "BACKPROP_GRADER_DATA_DIR")}
    environment.update(env, COLUMNS="100", TERM="xterm")
    process = subprocess.Popen(
        [sys.executable, "-m", "grader.cli", *args],
        cwd=cwd,
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=environment,
        close_fds=True,
    )
    os.close(follower)
    chunks = []
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 1.0)
        if ready:
            try:
                data = os.read(leader, 65536)
            except OSError:  # EIO: the terminal's other end is closed, everything was read
                break
            if not data:
                break
            chunks.append(data)
        elif process.poll() is not None:
            break
    os.close(leader)
    status = process.wait(timeout=30)
    return status, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


@pytest.fixture(scope="module")
def coloured(not_a_zip: Path) -> tuple[int, str]:
    require_backend("bwrap")
    return run_in_terminal(["run", str(not_a_zip), "--sandbox", "bwrap", "--out", "r.json"], not_a_zip.parent)


def test_progress_shows_each_check_live_on_a_terminal(coloured: tuple[int, str]) -> None:
    status, text = coloured
    assert status == 0
    plain = SGR.sub("", text)
    summary_at = plain.index("Total: 0.0 / 100.0 points (rejected)")
    for title in titles():
        # One progress line per check, printed before the summary, with its mark and points.
        match = re.search(r"^\s*(?:\x1b\[2K)?\s*ERROR\s+0\.0/[0-9.]+\s+" + re.escape(title) + "$", plain, re.M)
        assert match is not None, title
        assert match.start() < summary_at


def test_a_terminal_gets_colour(coloured: tuple[int, str]) -> None:
    assert SGR.search(coloured[1])


@pytest.mark.parametrize("how", ["NO_COLOR", "--no-color", "grade --no-color"])
def test_no_color_and_the_flag_turn_colour_off(not_a_zip: Path, how: str) -> None:
    require_backend("bwrap")
    args = ["run", str(not_a_zip), "--sandbox", "bwrap", "--out", "r.json"]
    env = {}
    if how == "NO_COLOR":
        env["NO_COLOR"] = "1"
    elif how == "--no-color":
        args.append("--no-color")
    else:
        args = ["--no-color", *args[1:]]  # before the (implied) subcommand
    status, text = run_in_terminal(args, not_a_zip.parent, **env)
    assert status == 0
    assert "Total: 0.0 / 100.0 points (rejected)" in text
    assert not SGR.search(text), text


def test_a_rejected_submission_gives_its_reason_once(rejected, coloured: tuple[int, str]) -> None:
    assert rejected.status == "rejected"
    summary = format_summary(rejected, width=100)
    assert summary.count(REASON) == 1
    assert SGR.sub("", coloured[1]).count(REASON) == 1  # nor in the progress lines


def test_long_titles_wrap_instead_of_being_cut(rejected) -> None:
    long = [t for t in titles() if len(t) > 40]
    assert long, "the rubric has titles longer than the title column"
    summary = format_summary(rejected, width=80)
    assert "…" not in summary
    assert all(len(line) <= 80 for line in summary.splitlines())
    # Rebuild each row's title from its first cell and the indented continuation lines under it.
    rows: list[str] = []
    for line in summary.split("\n\n")[0].splitlines()[2:]:
        if line.startswith("  "):
            rows[-1] += " " + line.strip()
        else:
            rows.append(re.split(r"\s{2,}", line)[0])
    assert rows == titles()
