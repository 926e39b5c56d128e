"""The exit codes of every ``grade`` command, stable for scripts and CI.

- 0: done (graded, and the result written).
- 1: graded, but the score is below ``--fail-under`` (or ``grade pack check`` found a problem).
- 2: usage error (bad option, missing path, unknown assignment, unusable data folder).
- 3: the sandbox asked for explicitly cannot run here (the message says how to fix it).
- 4: an internal error of the grader (``BACKPROP_GRADER_DEBUG=1`` shows the traceback).
"""

OK = 0
BELOW_THRESHOLD = 1
USAGE = 2
SANDBOX_UNAVAILABLE = 3
INTERNAL_ERROR = 4

#: The text ``--help`` shows under the commands.
EPILOG = "Exit codes: 0 done, 1 below --fail-under, 2 usage error, 3 sandbox unavailable, 4 internal error."
