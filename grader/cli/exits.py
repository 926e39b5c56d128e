"""The exit codes of every ``grade`` command: one enum, stable for scripts and CI."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """What a ``grade`` command's exit status means."""

    #: Done: graded and the result written (or the subcommand succeeded).
    OK = 0
    #: Graded, but below the bar: the score under ``--fail-under``, a visible check failing in
    #: ``grade check``, a finding failing in ``grade pack check``.
    BELOW_THRESHOLD = 1
    #: Usage error: bad option, missing path, unknown assignment, unusable roster or data folder.
    USAGE = 2
    #: The sandbox (or the Dask cluster) asked for cannot run here; the message says how to fix it.
    SANDBOX_UNAVAILABLE = 3
    #: The grader itself failed (``BACKPROP_GRADER_DEBUG=1`` shows the traceback); in ``grade batch``:
    #: some submissions could not be graded (listed; a rerun retries them).
    INTERNAL_ERROR = 4
    #: Interrupted (Ctrl-C); ``grade batch`` resumes where it stopped when run again.
    INTERRUPTED = 130


#: The text ``--help`` shows under the commands.
EPILOG = (
    "Exit codes: 0 done, 1 below --fail-under, 2 usage error, 3 sandbox unavailable, 4 internal error, 130 interrupted."
)
