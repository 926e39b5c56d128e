"""The public API for assignment-pack authors: everything a pack's checks import comes from here.

A check is a pytest function in a pack's ``test_*.py`` that takes the ``student`` fixture (a proxy
to the sandboxed submission) and the ``check`` fixture (points, feedback, the named mistake)::

    from grader.pack import CheckFailed, as_array, close_relative, points, title

    @points(4)
    @title("Forward pass")
    def test_forward(student, check):
        value, _ = student.call("solution", "forward", X)
        scores = as_array(value, "forward(X)", expected.shape)
        ok, error, where = close_relative(scores, expected, 1e-8)
        if not ok:
            raise CheckFailed(f"max relative error {error:.1e} at {where}")

Markers (also usable as ``pytest.mark.<name>``): ``points(n)`` (required on every check),
``title(text)``, ``hidden`` (inputs and details never shown to students; runs in its own worker),
``needs(*files)`` (scores 0 without running when a file is missing), ``training`` (runs with the
training limits and the data folder), ``freezable`` (shipped to students with frozen expected
values by ``grade pack bundle``), ``preload("torch")`` (the check's worker imports torch before it
starts, alongside the grader's own work, instead of inside the check). The engine registers them and
runs with strict markers.

Fixtures the engine provides: ``student``, ``check``, ``assignment``, ``settings`` (the pack's own
validated ``[settings]``), ``submission_files``, ``submission_dir``, ``data_dir``,
``training_data_dir`` and ``hidden_seed``. See ``docs/packs.md`` for the guide.
"""

from __future__ import annotations

import pytest

from grader.boundary.rpc import StudentException, WorkerFailure
from grader.boundary.student import Remote, Student
from grader.engine.compare import (
    CheckFailed,
    as_array,
    as_dict,
    as_float,
    close_relative,
    describe,
    relative_errors,
    require_close,
    require_relative,
    worst,
)
from grader.engine.rubric import Check
from grader.engine.validate import Mistake
from grader.worker.protocol import Ref

#: ``@points(n)``: the check's weight (required).
points = pytest.mark.points
#: ``@title("...")``: the title students see.
title = pytest.mark.title
#: ``@hidden``: a hidden check (inputs and details never shown to students).
hidden = pytest.mark.hidden
#: ``@needs("file.py", ...)``: submission files the check cannot run without.
needs = pytest.mark.needs
#: ``@training``: runs with the training limits (time, memory, data).
training = pytest.mark.training
#: ``@freezable``: a visible check on fixed inputs (or inputs drawn from ``hidden_seed``, which the student
#: bundle fixes to a public seed); the bundle (``grade pack bundle``) ships its code with the trusted values
#: it uses frozen as data. Its trusted calls must never take the student's own output as an argument.
freezable = pytest.mark.freezable
#: ``@preload("torch")``: the check's worker imports torch before it starts, overlapping with the grader's
#: own import of torch. Only libraries the worker may import anyway.
preload = pytest.mark.preload

__all__ = [
    "Check",
    "CheckFailed",
    "Mistake",
    "Ref",
    "Remote",
    "Student",
    "StudentException",
    "WorkerFailure",
    "as_array",
    "as_dict",
    "as_float",
    "close_relative",
    "describe",
    "freezable",
    "hidden",
    "needs",
    "points",
    "preload",
    "relative_errors",
    "require_close",
    "require_relative",
    "title",
    "training",
    "worst",
]
