"""Where a command writes its result: a file checked before grading starts, or ``-`` (standard output).

Grading a submission takes minutes; a result file that cannot be written must be refused before
that, not after, so the check creates (and removes) a temporary file exactly where the atomic write
will (:func:`grader.results.write_atomic` writes beside the target and renames).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click

#: ``--out -``: the result goes to standard output (and the summary to standard error).
STDOUT = "-"


def is_stdout(out: Path | str | None) -> bool:
    """Whether ``out`` means standard output."""
    return out is not None and str(out) == STDOUT


def check_writable(out: Path, option: str = "--out") -> None:
    """Raise a one-line usage error (exit 2) when a result cannot be written to ``out``."""
    if is_stdout(out):
        return
    out = Path(out)
    parent = out.parent if str(out.parent) else Path(".")
    if out.is_dir():
        problem = f"{out} is a folder; give a file name"
    elif not parent.is_dir():
        problem = f"folder {parent} does not exist" if not parent.exists() else f"{parent} is not a folder"
    else:
        try:
            fd, probe = tempfile.mkstemp(dir=parent, prefix=f".{out.name}.", suffix=".probe")
        except OSError as exc:
            problem = f"cannot write in {parent} ({exc.strerror or exc})"
        else:
            os.close(fd)
            os.unlink(probe)
            return
    raise click.BadParameter(problem, param_hint=f"'{option}'")
