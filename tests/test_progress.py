"""Batch progress on a terminal and in a CI log."""

from __future__ import annotations

import io
import re
import time

from grader.batch.progress import Progress, format_duration


def test_log_output_is_one_plain_line_per_submission_with_count_rate_and_time_left() -> None:
    stream = io.StringIO()
    progress = Progress(3, stream, interactive=False)
    progress.start()
    progress.advance("alice", "already graded, skipped", worked=False)
    time.sleep(0.05)
    progress.advance("bob", "\x1b[31m80/100 in 9.0 s", worked=True)
    progress.finish()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "[1/3] alice: already graded, skipped (1/3  -/min  time left unknown)"
    assert re.fullmatch(r"\[2/3\] bob: 80/100 in 9\.0 s \(2/3  [0-9.]+/min  \d+s left\)", lines[1])
    assert "\x1b" not in stream.getvalue()  # no terminal codes in a log, not even from a name


def test_terminal_output_redraws_one_bar_below_the_finished_lines() -> None:
    stream = io.StringIO()
    progress = Progress(4, stream, interactive=True)
    progress.start()
    progress.advance("alice", "90/100 in 8.0 s", worked=True)
    progress.finish()
    text = stream.getvalue()
    assert text.startswith("\r\x1b[2K[------------------------] 0/4")
    assert "\r\x1b[2Kalice: 90/100 in 8.0 s\n" in text
    last_bar = text.rsplit("\r\x1b[2K", 1)[1]
    assert last_bar.startswith("[######------------------] 1/4")
    assert "/min" in last_bar and "left" in last_bar
    assert text.endswith("\n")


def test_durations_read_naturally() -> None:
    assert [format_duration(s) for s in (0, 42, 185, 3720)] == ["0s", "42s", "3m05s", "1h02m"]
