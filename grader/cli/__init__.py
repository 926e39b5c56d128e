"""The ``grade`` command line: every subcommand, option and exit code."""

from typing import NoReturn

from grader.cli.app import main
from grader.cli.shutdown import run_command

__all__ = ["console_main", "main"]


def console_main() -> NoReturn:
    """The ``grade`` executable: run the command line, then end the process with its exit status."""
    run_command(main)
