"""The ``grade`` command line: every subcommand, option and exit code."""

from typing import NoReturn

from grader.cli.app import main
from grader.cli.shutdown import exit_now

__all__ = ["console_main", "main"]


def console_main() -> NoReturn:
    """The ``grade`` executable: run the command line, then end the process with its exit status."""
    try:
        main(prog_name="grade")
    except SystemExit as done:
        exit_now(done.code)
    exit_now(0)
