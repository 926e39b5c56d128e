"""How a ``grade`` process ends: as Python would end it, minus the interpreter's own teardown.

At exit, Python joins the threads that are not daemons, runs the exit handlers, and then tears every
module down. With torch imported, that last part alone took about 0.9 s at the end of every ``grade``
(measured on 2 cores: ``import torch, torch._dynamo`` then a normal exit, against ``os._exit``), while
nothing of the grader needs it: results are written and closed before the command returns, and the
exit handlers stop the sandboxes' workers and zygote.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from collections.abc import Callable
from typing import NoReturn


def run_command(command: Callable[..., object]) -> NoReturn:
    """Run a click command line as the ``grade`` executable, then end the process with its status."""
    try:
        command(prog_name="grade")
    except SystemExit as done:
        exit_now(done.code)
    exit_now(0)


def exit_now(code: object = 0) -> NoReturn:
    """End the process with ``code`` as ``sys.exit(code)`` would, skipping the teardown when torch is in.

    Without torch the teardown takes milliseconds, and the normal way is kept.
    """
    if "torch" not in sys.modules:
        sys.exit(code)
    current = threading.current_thread()
    for thread in threading.enumerate():
        if thread is not current and not thread.daemon:
            thread.join()
    # What Python runs next at exit; only the module teardown after it is skipped.
    atexit._run_exitfuncs()
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = int(code)
    else:
        print(code, file=sys.stderr)
        status = 1
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed pipe (grade ... | head) must not change the status
            stream.flush()
    os._exit(status)
