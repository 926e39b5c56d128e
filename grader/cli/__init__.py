"""The ``grade`` command line: every subcommand, option and exit code."""

from grader.cli.app import main

__all__ = ["main"]
