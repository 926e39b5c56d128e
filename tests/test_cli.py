"""The ``grade`` command line: subcommands, exit codes, one-line errors and the files it writes.

Quick commands run in-process through click's ``CliRunner``; grading runs are real ``grade``
processes with the bwrap sandbox, on the student template (a cheap submission: most checks fail at
once with "not implemented yet") and on the built-in example (``grade demo``). Each grading runs once
per module and several tests read what it wrote. Exit codes are those in ``grader/cli/exits.py``'s
docstring: 0 graded, 1 below ``--fail-under``, 2 usage error, 3 sandbox unavailable.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from held_slots import held_slot
from junit_schema import violations
from sandbox_backends import require_backend, wait_until_gone

from grader.cli.app import main
from grader.results import GradeResult, load_result
from grader.sandbox import SandboxUnavailable, backend_class

try:
    import jsonschema
except ImportError:  # optional: the schema test then checks the required keys only
    jsonschema = None

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "student_template" / "hlcv-ex2"
ASSIGNMENT = "hlcv-ex2"
#: A sandbox slot of this module's own (uid 60000 + slot when the tests run as root).
SLOT = held_slot()
#: Wall-clock ceiling for one grading run; far above what the template and the demo take.
RUN_TIMEOUT_S = 600

#: A finished grading run and the result it wrote (read back), or the path of a non-JSON result file.
Graded = tuple[subprocess.CompletedProcess[str], GradeResult]
Written = tuple[subprocess.CompletedProcess[str], Path]


def invoke(*args: str) -> Result:
    """Run ``grade ARGS`` in this process."""
    return CliRunner().invoke(main, list(args), prog_name="grade")


def one_line_error(stderr: str) -> str:
    """The single line a user error prints (no usage block, no traceback)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in stderr
    return lines[0]


# --------------------------------------------------------------------------- quick commands


def test_schema_prints_a_json_schema() -> None:
    result = invoke("schema")
    assert result.exit_code == 0, result.stderr
    schema = json.loads(result.stdout)
    assert schema["type"] == "object"
    assert {"score", "max_score", "tests", "status", "assignment"} <= set(schema["required"])
    assert schema["$schema"].startswith("https://json-schema.org/")


def test_assignments_lists_the_assignment() -> None:
    result = invoke("assignments")
    assert result.exit_code == 0, result.stderr
    assert ASSIGNMENT in result.stdout.split()


@pytest.mark.parametrize("words", [["run"], []], ids=["run", "without-run"])
def test_a_missing_path_is_a_usage_error(tmp_path: Path, words: list[str]) -> None:
    missing = tmp_path / "no-such-submission.zip"
    out = tmp_path / "result.json"
    result = invoke(*words, str(missing), "--out", str(out))
    assert result.exit_code == 2
    assert str(missing) in one_line_error(result.stderr)
    assert not out.exists()


def test_an_unknown_assignment_is_a_usage_error(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    result = invoke("run", str(TEMPLATE), "--assignment", "no-such-assignment", "--out", str(out))
    assert result.exit_code == 2
    line = one_line_error(result.stderr)
    assert "no-such-assignment" in line and ASSIGNMENT in line
    assert not out.exists()


def test_an_unavailable_sandbox_exits_3_without_a_result(tmp_path: Path) -> None:
    try:
        backend_class("process").check_available()
    except SandboxUnavailable as exc:
        reason = str(exc)
    else:
        pytest.skip("the process sandbox can run here, so it cannot be shown to be unavailable")
    out = tmp_path / "result.json"
    result = invoke("run", str(TEMPLATE), "--sandbox", "process", "--out", str(out))
    assert result.exit_code == 3
    assert one_line_error(result.stderr) == f"error: {reason}"
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # nor a temporary file beside it


@pytest.mark.parametrize(
    "where, says",
    [
        ("missing-folder/results.json", "does not exist"),
        (".", "is a folder"),
        ("/proc/results.json", "cannot write in /proc"),
    ],
)
def test_an_unwritable_out_is_refused_before_grading(tmp_path: Path, where: str, says: str) -> None:
    out = Path(where) if where.startswith("/") else tmp_path / where
    result = invoke("run", str(TEMPLATE), "--out", str(out))
    assert result.exit_code == 2
    line = one_line_error(result.stderr)
    assert "--out" in line and says in line
    assert "Grading" not in result.stderr  # refused before grading started
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("words, expected", [("grade ba", "batch"), ("grade run --sa", "--sandbox")])
def test_shell_completion_as_the_readme_documents_it(words: str, expected: str) -> None:
    """The README's completion lines rely on click's ``_GRADE_COMPLETE`` protocol; ask it as bash does."""
    assert "_GRADE_COMPLETE=bash_source grade" in (REPO / "README.md").read_text(encoding="utf-8")
    env = dict(os.environ, _GRADE_COMPLETE="bash_complete", COMP_WORDS=words, COMP_CWORD=str(len(words.split()) - 1))
    done = subprocess.run(
        [sys.executable, "-c", "from grader.cli import main; main(prog_name='grade')"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert f"plain,{expected}" in done.stdout.splitlines()


# --------------------------------------------------------------------------- grading runs


def grade(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the real ``grade`` command line in its own process."""
    return subprocess.run(
        [sys.executable, "-m", "grader.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_backend("bwrap")
    return tmp_path_factory.mktemp("cli-runs")


@pytest.fixture(scope="module")
def template_run(runs_dir: Path) -> Graded:
    """``grade run TEMPLATE`` with the default (json) format."""
    out = runs_dir / "template.json"
    done = grade("run", str(TEMPLATE), "--sandbox", "bwrap", "--slot", str(SLOT), "--out", str(out), cwd=runs_dir)
    assert done.returncode == 0, done.stderr
    return done, load_result(out)


def _format_run(
    runs_dir: Path, template_run: Graded, fmt: str, fail_under: Callable[[float], float], *words: str
) -> Written:
    """Grade the template in format ``fmt`` with ``--fail-under`` set relative to its known score."""
    score = template_run[1].score
    out = runs_dir / f"template-{fmt}.out"
    args = [*words, str(TEMPLATE), "--sandbox", "bwrap", "--slot", str(SLOT), "--format", fmt, "--out", str(out)]
    done = grade(*args, f"--fail-under={fail_under(score)}", cwd=runs_dir)
    return done, out


@pytest.fixture(scope="module")
def junit_run(runs_dir: Path, template_run: Graded) -> Written:
    """``grade TEMPLATE`` (no ``run`` word), junit, threshold just above the score."""
    return _format_run(runs_dir, template_run, "junit", lambda score: score + 0.5)


@pytest.fixture(scope="module")
def markdown_run(runs_dir: Path, template_run: Graded) -> Written:
    """``grade run TEMPLATE``, markdown, threshold equal to the score."""
    return _format_run(runs_dir, template_run, "markdown", lambda score: score, "run")


@pytest.fixture(scope="module")
def gradescope_run(runs_dir: Path, template_run: Graded) -> Written:
    """``grade run TEMPLATE``, gradescope, threshold below the score."""
    return _format_run(runs_dir, template_run, "gradescope", lambda score: score - 0.5, "run")


@pytest.fixture(scope="module")
def demo_run(runs_dir: Path) -> Graded:
    out = runs_dir / "demo.json"
    done = grade("demo", "--sandbox", "bwrap", "--out", str(out), cwd=runs_dir)
    assert done.returncode == 0, done.stderr
    return done, load_result(out)


@pytest.fixture(scope="module")
def stdout_run(runs_dir: Path) -> subprocess.CompletedProcess[str]:
    """``grade run TEMPLATE --out -``: the result on standard output."""
    return grade("run", str(TEMPLATE), "--sandbox", "bwrap", "--slot", str(SLOT), "--out", "-", cwd=runs_dir)


@pytest.mark.sandbox
def test_out_dash_writes_the_result_to_stdout_and_the_rest_to_stderr(
    stdout_run: subprocess.CompletedProcess[str], template_run: Graded, runs_dir: Path
) -> None:
    assert stdout_run.returncode == 0, stdout_run.stderr
    result = GradeResult.model_validate_json(stdout_run.stdout)  # nothing but the result on stdout
    assert [check.name for check in result.tests] == [check.name for check in template_run[1].tests]
    assert result.score == template_run[1].score
    assert "Total:" in stdout_run.stderr and "Result written to" not in stdout_run.stderr
    assert not (runs_dir / "-").exists()


@pytest.mark.sandbox
def test_run_writes_a_result_and_says_where(template_run: Graded) -> None:
    done, result = template_run
    assert result.assignment == ASSIGNMENT and result.status == "graded"
    assert result.sandbox == "bwrap" and result.isolated
    assert "Result written to" in done.stdout
    assert "Traceback" not in done.stderr


@pytest.mark.sandbox
def test_the_schema_validates_a_real_result(template_run: Graded, demo_run: Graded) -> None:
    schema = json.loads(invoke("schema").stdout)
    for _, result in (template_run, demo_run):
        document = json.loads(result.to_json())
        broken = {key: value for key, value in document.items() if key != "score"}
        if jsonschema is None:  # without the validator, at least the required keys
            assert set(schema["required"]) <= set(document)
            assert not set(schema["required"]) <= set(broken)
            continue
        validator = jsonschema.Draft202012Validator(schema)
        validator.validate(document)
        assert not validator.is_valid(broken)
        assert not validator.is_valid(dict(document, score="full marks"))


@pytest.mark.sandbox
def test_fail_under_above_the_score_exits_1(junit_run: Written, template_run: Graded) -> None:
    done, out = junit_run
    assert done.returncode == 1, done.stderr
    assert re.search(r"below --fail-under", done.stderr)
    assert out.exists(), "the result is written even when the score is too low"


@pytest.mark.sandbox
@pytest.mark.parametrize("run", ["markdown_run", "gradescope_run"], ids=["at-the-score", "below-the-score"])
def test_fail_under_at_or_below_the_score_exits_0(run: str, request: pytest.FixtureRequest) -> None:
    done, out = request.getfixturevalue(run)
    assert done.returncode == 0, done.stderr
    assert "below --fail-under" not in done.stderr
    assert out.exists()


@pytest.mark.sandbox
def test_grading_without_the_run_word(junit_run: Written) -> None:
    done, out = junit_run
    assert f"Result written to {out}" in done.stdout


@pytest.mark.sandbox
def test_junit_output_parses(junit_run: Written, template_run: Graded) -> None:
    _, out = junit_run
    result = template_run[1]
    assert violations(out.read_bytes()) == []  # junit-10.xsd
    root = ET.parse(out).getroot()
    assert root.tag == "testsuites"
    cases = list(root.iter("testcase"))
    assert [case.get("name") for case in cases] == [check.title for check in result.tests]
    failing = [case for case in cases if case.find("failure") is not None or case.find("error") is not None]
    assert len(failing) == sum(check.status in ("failed", "error") for check in result.tests)


@pytest.mark.sandbox
def test_markdown_output_parses(markdown_run: Written, template_run: Graded) -> None:
    _, out = markdown_run
    result = template_run[1]
    text = out.read_text(encoding="utf-8")
    assert text.splitlines()[0].startswith(f"## {ASSIGNMENT}")
    rows = [line for line in text.splitlines() if line.startswith("|")]
    cells = [re.split(r"(?<!\\)\|", row.strip())[1:-1] for row in rows]
    assert len({len(row) for row in cells}) == 1, "every table row has the same number of cells"
    assert len(rows) == 2 + len(result.tests)  # header, separator, one row per check


@pytest.mark.sandbox
def test_gradescope_output_parses(gradescope_run: Written, template_run: Graded) -> None:
    _, out = gradescope_run
    result = template_run[1]
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["score"] == result.score
    assert len(data["tests"]) == len(result.tests)
    assert sum(test["max_score"] for test in data["tests"]) == result.max_score
    assert {test["status"] for test in data["tests"] if "status" in test} <= {"passed", "failed"}
    # A check that did not run (no CIFAR-10 here) is neither passed nor failed: it has no status.
    not_run = [check.title for check in result.tests if check.status == "skipped"]
    assert [test["name"] for test in data["tests"] if "status" not in test] == not_run


@pytest.mark.sandbox
def test_demo_passes_every_numeric_check(demo_run: Graded) -> None:
    """The built-in example is the reference solution: every check passes, except that the accuracy
    checks (tagged "training") are skipped when CIFAR-10 is not at hand."""
    _, result = demo_run
    assert result.status == "graded" and result.sandbox == "bwrap"
    numeric = [check for check in result.tests if "training" not in check.tags]
    assert len(numeric) >= 10
    assert [check.name for check in numeric if check.status != "passed"] == []
    assert all(check.score == check.max_score for check in numeric)
    assert all(check.status in ("passed", "skipped") for check in result.tests if "training" in check.tags)


@pytest.mark.sandbox
def test_no_process_survives_the_runs(
    template_run: Graded, junit_run: Written, markdown_run: Written, stdout_run: subprocess.CompletedProcess[str]
) -> None:
    assert wait_until_gone(SLOT) == []
