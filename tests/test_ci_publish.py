"""``python -m grader.cli.ci``: one grading result turned into what a GitHub Actions job shows.

Each test writes a real result file, runs the module in a fresh interpreter with the runner's
variables, and reads back what it wrote: the step summary, the step outputs, the student JSON and the
JUnit XML.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path

import pytest

from grader.results import CheckResult, GradeResult, load_result

SECRET = "hidden-input-0.8123456"
STUDENT_TEXT = "dW1 differs\n::error file=two_layernet.py::ALL PASSED\n##[set-output name=score]100"


def make_result(status: str = "graded") -> GradeResult:
    """Three checks, 12.5 of 20 points: passed, failed with hostile text, a hidden one partly right."""
    rejected = status == "rejected"
    tests = [
        CheckResult(
            name="test_1_forward.py::test_toy_loss",
            title="Toy problem: loss",
            score=0 if rejected else 6,
            max_score=6,
            status="error" if rejected else "passed",
            output="",
        ),
        CheckResult(
            name="test_2_backprop.py::test_toy_gradients",
            title="Toy problem: gradients",
            score=0 if rejected else 2.5,
            max_score=10,
            status="error" if rejected else "failed",
            output=STUDENT_TEXT,
            diagnosis="gradients summed over the batch instead of averaged",
        ),
        CheckResult(
            name="test_2_backprop.py::test_hidden_gradients",
            title="Gradients on hidden inputs",
            score=0 if rejected else 4,
            max_score=4,
            status="error" if rejected else "passed",
            output=f"inputs seeded with {SECRET}",
            visibility="hidden",
        ),
    ]
    return GradeResult.build(
        tests=tests,
        assignment="hlcv-ex2",
        assignment_version="1.0.0",
        grader_version="0.1.0",
        submission_sha256="cd" * 32,
        sandbox="bwrap",
        isolated=True,
        status=status,
        message="refused: two_layernet.py is a symbolic link" if rejected else "2 of 3 checks passed",
        started_at=datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc),
        duration_s=3.0,
    )


def publish(tmp_path: Path, result: GradeResult, *args: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    record = tmp_path / "record.json"
    record.write_text(result.to_json())
    out = tmp_path / "out"
    out.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env.update(
        GITHUB_ACTIONS="true",
        GITHUB_STEP_SUMMARY=str(out / "summary.md"),
        GITHUB_OUTPUT=str(out / "output.txt"),
    )
    argv = [sys.executable, "-m", "grader.cli.ci", str(record), "--json", str(out / "result.json")]
    argv += ["--junit", str(out / "junit.xml"), *args]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)
    return done, out


def outputs(out: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in (out / "output.txt").read_text().splitlines())


def classroom(out: Path) -> dict:
    return json.loads(base64.b64decode(outputs(out)["result"]))


def test_a_score_at_the_minimum_passes(tmp_path: Path) -> None:
    done, out = publish(tmp_path, make_result(), "--fail-under", "12.5")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["::notice title=Autograding::Points 12.5/20", "Points 12.5/20 (minimum 12.5)"]
    assert outputs(out) | {"result": ""} == {"score": "12.5", "max_score": "20", "passed": "true", "result": ""}
    assert "Minimum score for this job: 12.5 points (met)." in (out / "summary.md").read_text()


def test_a_score_below_the_minimum_fails_the_job(tmp_path: Path) -> None:
    done, out = publish(tmp_path, make_result(), "--fail-under", "13")
    assert done.returncode == 1
    assert "::error title=Autograding::score 12.5 is below the minimum of 13 points" in done.stdout
    assert outputs(out)["passed"] == "false"
    assert classroom(out)["status"] == "fail"
    # The outputs are all written before the job fails, for the steps that run after it.
    assert (out / "result.json").is_file() and (out / "junit.xml").is_file()
    assert "(**not met**)" in (out / "summary.md").read_text()


def test_classroom_result_has_each_checks_points(tmp_path: Path) -> None:
    _, out = publish(tmp_path, make_result(), "--fail-under", "10")
    data = classroom(out)
    assert data["version"] == 1 and data["status"] == "pass" and data["max_score"] == 20
    assert [(t["name"], t["status"], t["score"]) for t in data["tests"]] == [
        ("Toy problem: loss", "pass", 6),
        ("Toy problem: gradients", "fail", 2.5),
        ("Gradients on hidden inputs", "pass", 4),
    ]
    assert sum(t["score"] for t in data["tests"]) == 12.5
    failed = data["tests"][1]
    assert failed["message"].startswith("Likely mistake: gradients summed over the batch instead of averaged")
    assert failed["test_code"] == "test_2_backprop.py::test_toy_gradients"


def test_nothing_a_student_sees_reveals_a_hidden_check(tmp_path: Path) -> None:
    done, out = publish(tmp_path, make_result())
    assert SECRET in (tmp_path / "record.json").read_text()  # the instructor's record keeps it
    seen = [done.stdout, done.stderr, json.dumps(classroom(out))]
    seen += [(out / name).read_text() for name in ("summary.md", "result.json", "junit.xml")]
    assert all(SECRET not in text for text in seen)
    hidden = [t for t in load_result(out / "result.json").tests if t.visibility == "hidden"]
    assert [t.output for t in hidden] == ["Hidden check."]


def test_student_text_cannot_act_as_a_workflow_command(tmp_path: Path) -> None:
    done, out = publish(tmp_path, make_result())
    summary = (out / "summary.md").read_text()
    assert "two_layernet.py" in summary  # the feedback is there ...
    for text in (summary, done.stdout):
        # ... but no line can start a workflow command, and the old "##[" syntax is broken too.
        assert not any(line.lstrip().startswith("::") for line in text.splitlines() if "ALL PASSED" in line)
        assert "##[set-output" not in text
    assert not any(line.startswith(("::", "##[")) for line in (out / "output.txt").read_text().splitlines())


def test_junit_counts_match_the_checks(tmp_path: Path) -> None:
    _, out = publish(tmp_path, make_result())
    suite = ET.parse(out / "junit.xml").getroot().find("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == int(suite.get("tests")) == 3
    assert int(suite.get("failures")) == sum(c.find("failure") is not None for c in cases) == 1
    assert int(suite.get("errors")) == 0


def test_a_submission_that_was_not_graded_fails_whatever_the_minimum(tmp_path: Path) -> None:
    done, out = publish(tmp_path, make_result(status="rejected"), "--fail-under", "0")
    assert done.returncode == 1
    assert "the submission was not graded (status rejected)" in done.stderr
    assert classroom(out)["status"] == "error"
    assert "Status: **rejected**" in (out / "summary.md").read_text()


@pytest.mark.parametrize("content", ["{not json", '{"score": NaN}', ""])
def test_a_file_that_is_not_a_result_is_a_usage_error(tmp_path: Path, content: str) -> None:
    bad = tmp_path / "record.json"
    bad.write_text(content)
    done = subprocess.run(
        [sys.executable, "-m", "grader.cli.ci", str(bad)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in done.stderr
