"""The ``grade`` command of a student bundle: ``grade check`` and the CI publisher, nothing else.

A bundle (``grade pack bundle``) carries one assignment's visible checks with frozen expected values;
this is its whole command line. ``grade check`` is the same self-check as the full grader's, and
``grade ci RESULT.json`` the same publishing step (``python -m grader.cli.ci``) a CI job runs after it.
"""

from __future__ import annotations

import click

from grader import __version__
from grader.cli.ci import main as ci_command
from grader.cli.selfcheck import check_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="backprop-grader-student")
def main() -> None:
    """Self-check an assignment with its visible checks (expected values stored as data).

    \b
    grade check [FOLDER]      check your work (default: the current folder)
    grade ci RESULT.json      CI summary, JUnit and GitHub Classroom outputs from a result
    """


main.add_command(check_command, "check")
main.add_command(ci_command, "ci")
