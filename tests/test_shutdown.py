"""A ``grade`` process ends as Python would end it: threads joined, exit handlers run, output flushed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ENDING = textwrap.dedent(
    """
    import atexit, sys, threading, time
    from pathlib import Path
    if sys.argv[2] == "torch":
        import torch  # noqa: F401 - the case where the teardown is skipped
    from grader.cli.shutdown import exit_now

    folder = Path(sys.argv[1])
    atexit.register(lambda: (folder / "handler").write_text("ran"))

    def late() -> None:
        time.sleep(0.5)
        (folder / "thread").write_text("joined")

    threading.Thread(target=late).start()
    print("buffered, no newline", end="")
    exit_now(int(sys.argv[3]) if sys.argv[3].isdigit() else sys.argv[3])
    """
)


@pytest.mark.parametrize("imported", ["torch", "numpy"])
@pytest.mark.parametrize(("code", "status"), [("0", 0), ("3", 3), ("a message", 1)])
def test_exit_now_joins_threads_runs_exit_handlers_and_keeps_the_status(
    tmp_path: Path, imported: str, code: str, status: int
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", ENDING, str(tmp_path), imported, code], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == status, done.stderr[-2000:]
    assert done.stdout == "buffered, no newline"
    assert (tmp_path / "thread").read_text() == "joined"
    assert (tmp_path / "handler").read_text() == "ran"
    if status == 1:
        assert done.stderr.strip().endswith("a message")
