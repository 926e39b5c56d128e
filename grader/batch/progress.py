"""Batch progress: a redrawn bar on a terminal, one plain line per submission elsewhere (CI logs).

Both show how many submissions are done, the grading rate and the time left. The rate counts only
submissions graded in this run (skipped ones cost nothing), so the estimate stays honest on a rerun.
"""

from __future__ import annotations

import shutil
import time
from typing import TextIO

from grader.results import clean_text

BAR_WIDTH = 24


def format_duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``1h02m``: short enough for a progress line."""
    seconds = max(int(round(seconds)), 0)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Progress:
    """Tracks a batch of ``total`` submissions and reports each one as it finishes."""

    def __init__(self, total: int, stream: TextIO, *, interactive: bool | None = None) -> None:
        self.total = total
        self.stream = stream
        self.interactive = bool(stream.isatty()) if interactive is None else interactive
        self.done = 0
        self.worked = 0  # graded or failed in this run: the ones that took time
        self._start = time.monotonic()
        self._bar_shown = False

    def rate_per_minute(self) -> float | None:
        """Submissions graded per minute so far, or None before the first one."""
        elapsed = time.monotonic() - self._start
        return self.worked / elapsed * 60 if self.worked and elapsed > 0 else None

    def eta_seconds(self) -> float | None:
        """Estimated seconds until every submission is done, or None when unknown."""
        rate = self.rate_per_minute()
        if rate is None:
            return None
        return (self.total - self.done) / rate * 60

    def _stats(self) -> str:
        rate = self.rate_per_minute()
        eta = self.eta_seconds()
        parts = [f"{self.done}/{self.total}"]
        parts.append(f"{rate:.1f}/min" if rate is not None else "-/min")
        if self.done >= self.total:
            parts.append("done")
        else:
            parts.append(f"{format_duration(eta)} left" if eta is not None else "time left unknown")
        return "  ".join(parts)

    def advance(self, student_id: str, text: str, *, worked: bool) -> None:
        """One submission finished: ``text`` says how (``85/100 graded in 9.1 s``, ``skipped``)."""
        self.done += 1
        self.worked += worked
        line = clean_text(f"{student_id}: {text}", one_line=True)
        if self.interactive:
            # Finished submissions scroll above the bar; the bar stays on the last line.
            self.stream.write("\r\x1b[2K" + line + "\n")
            self._draw_bar()
        else:
            self.stream.write(f"[{self.done}/{self.total}] {line} ({self._stats()})\n")
        self.stream.flush()

    def note(self, text: str) -> None:
        """A line that is not about one submission (a warning, the executor in use)."""
        if self.interactive and self._bar_shown:
            self.stream.write("\r\x1b[2K")
        self.stream.write(clean_text(text, one_line=True) + "\n")
        if self.interactive and self._bar_shown:
            self._draw_bar()
        self.stream.flush()

    def start(self) -> None:
        """Draw the empty bar (terminal only)."""
        if self.interactive:
            self._draw_bar()
            self.stream.flush()

    def _draw_bar(self) -> None:
        filled = BAR_WIDTH * self.done // self.total if self.total else BAR_WIDTH
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        line = f"[{bar}] {self._stats()}"
        self.stream.write("\r\x1b[2K" + line[: shutil.get_terminal_size().columns - 1])
        self._bar_shown = True

    def finish(self) -> None:
        """Leave the terminal on a fresh line."""
        if self.interactive and self._bar_shown:
            self.stream.write("\n")
            self.stream.flush()
            self._bar_shown = False
