"""A check that fails by itself ("internal error") names only the error in the result, which students
read; with ``BACKPROP_GRADER_DEBUG=1`` its traceback goes to standard error for the maintainers."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader.engine.grading import GradeOptions, grade
from grader.engine.scaffold import new_pack
from grader.sandbox import Sandbox

BROKEN_CHECK = """
from grader.pack import points


def _lookup_of_the_pack(table):
    return table["missing key"]


@points(1)
def test_a_check_with_a_bug():
    _lookup_of_the_pack({})
"""


@pytest.mark.parametrize("debug", ["1", None])
def test_an_internal_error_shows_its_traceback_only_when_asked(
    tmp_path: Path,
    grading_sandbox: Sandbox,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    debug: str | None,
) -> None:
    pack = tmp_path / "buggy-pack"
    new_pack(pack)
    (pack / "test_2_bug.py").write_text(BROKEN_CHECK)
    submission = tmp_path / "submission"
    submission.mkdir()
    shutil.copyfile(pack / "reference" / "solution.py", submission / "solution.py")
    if debug:
        monkeypatch.setenv("BACKPROP_GRADER_DEBUG", debug)
    else:
        monkeypatch.delenv("BACKPROP_GRADER_DEBUG", raising=False)

    result = grade(submission, GradeOptions(assignment=str(pack), sandbox=grading_sandbox))

    (bug,) = [t for t in result.tests if t.name == "test_a_check_with_a_bug"]
    assert bug.status == "error" and "internal error in this check (KeyError" in bug.output
    assert "Traceback" not in bug.output and "_lookup_of_the_pack" not in bug.output
    printed = capfd.readouterr().err
    if debug:
        assert "internal error in test_2_bug.py::test_a_check_with_a_bug" in printed
        assert "_lookup_of_the_pack" in printed and "KeyError: 'missing key'" in printed
    else:
        assert "_lookup_of_the_pack" not in printed
