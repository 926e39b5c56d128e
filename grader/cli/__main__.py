"""``python -m grader.cli``: the ``grade`` command."""

import os

from grader.cli import console_main

os.environ.setdefault("PYTHONUNBUFFERED", "1")
console_main()
