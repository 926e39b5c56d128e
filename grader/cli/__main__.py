"""``python -m grader.cli``: the ``grade`` command."""

import os

from grader.cli import main

os.environ.setdefault("PYTHONUNBUFFERED", "1")
main(prog_name="grade")
