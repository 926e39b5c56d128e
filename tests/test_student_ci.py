"""The student repository's workflow (``student_template/.github/workflows/grade.yml``), run for real.

The quick tests read the workflow with PyYAML. The slow ones make a student repository the way GitHub
Classroom does (the handout, then the student's files, in a fresh git repository), and run every ``run:``
step of the job as written, in order, with ``bash --noprofile --norc -eo pipefail`` (GitHub's ``shell:
bash``) and the variables a runner sets (``RUNNER_TEMP``, ``GITHUB_OUTPUT``, ``GITHUB_STEP_SUMMARY``, ...).
``python`` is a plain interpreter, as after ``actions/setup-python``. Only the install source changes:
``GRADER_SPEC`` points at the hlcv-ex2 student bundle built with ``grade pack bundle`` (what an instructor
publishes) instead of a URL, and ``TORCH_INDEX`` is
empty so torch comes from this machine's package index (pinned to the CPU build by ``PIP_CONSTRAINT``).
The ``uses:`` steps (checkout, artifact upload, test report, Classroom reporter) are GitHub's own actions;
for them the test checks that what they are pointed at exists and has the shape they read.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from classroom import SUBMISSION_FILES, TEMPLATE, require_bwrap, require_corpus
from student_bundles import student_bundle_copy

from grader.results import GradeResult, load_result

yaml = pytest.importorskip("yaml", reason="PyYAML is in the dev extra: pip install -e '.[dev]'")

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = TEMPLATE / ".github" / "workflows" / "grade.yml"
#: Wall-clock ceiling for one step; installing torch into a fresh venv is the long one.
STEP_TIMEOUT_S = 900
#: ``${{ vars.NAME || 'default' }}``: a setting an instructor may override with a repository variable.
_SETTING = re.compile(r"^\$\{\{\s*vars\.(\w+)\s*\|\|\s*'([^']*)'\s*\}\}$")
#: The ``if:`` conditions this runner understands, and whether they run after a failed step.
_ALWAYS = {"${{ !cancelled() }}", "always()", "${{ always() }}"}


def load_workflow() -> dict[str, Any]:
    data = yaml.safe_load(WORKFLOW.read_text())
    # YAML 1.1 reads the key "on" as the boolean True.
    if True in data:
        data["on"] = data.pop(True)
    return data


def the_job(data: dict[str, Any]) -> dict[str, Any]:
    (job,) = data["jobs"].values()
    return job


def settings(data: dict[str, Any]) -> dict[str, str]:
    """The workflow's env with each ``vars.X || 'default'`` setting at its default."""
    values = {}
    for scope in (data.get("env", {}), the_job(data).get("env", {})):
        for key, value in scope.items():
            value = str(value)
            match = _SETTING.match(value)
            if match:
                value = match.group(2)
            assert "${{" not in value, f"{key}: an expression this test cannot evaluate: {value}"
            values[key] = value
    return values


# --------------------------------------------------------------------------- the file itself


def test_workflow_is_valid_yaml_with_one_grading_job() -> None:
    data = load_workflow()
    assert data["name"] and {"push", "workflow_dispatch"} <= set(data["on"])
    job = the_job(data)
    # GitHub Classroom's bot commits the template when it makes a student's repository: not graded.
    assert job["if"] == "github.actor != 'github-classroom[bot]'"
    assert job["runs-on"].startswith("ubuntu-") and job["timeout-minutes"] <= 60
    assert data["defaults"]["run"]["shell"] == "bash"
    for step in job["steps"]:
        assert ("run" in step) != ("uses" in step), step
        if "uses" in step:
            # Third-party code runs with the job's token: every action is pinned to a release.
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), step["uses"]


def test_run_steps_use_no_expressions() -> None:
    # Expressions in a script are pasted in before bash runs (script injection); values come from env.
    for step in the_job(load_workflow())["steps"]:
        if "run" in step:
            assert "${{" not in step["run"], step["name"]


def test_settings_have_defaults_an_instructor_can_override() -> None:
    data = load_workflow()
    overridable = {key for key, value in data["env"].items() if _SETTING.match(str(value))}
    assert {"GRADER_SPEC", "GRADE_FAIL_UNDER", "GRADE_SANDBOX", "TORCH_INDEX"} <= overridable
    values = settings(data)
    float(values["GRADE_FAIL_UNDER"])
    assert values["GRADE_SANDBOX"] in ("auto", "docker", "bwrap", "process")


def test_permissions_are_the_few_the_reports_need() -> None:
    assert load_workflow()["permissions"] == {"contents": "read", "checks": "write", "actions": "read"}


def test_classroom_reporter_reads_the_grade_steps_result() -> None:
    steps = the_job(load_workflow())["steps"]
    grade = next(s for s in steps if s.get("id") == "grade")
    reporter = next(s for s in steps if "autograding-grading-reporter" in s.get("uses", ""))
    runner = reporter["with"]["runners"]
    assert runner == grade["id"]
    # The reporter reads <RUNNER>_RESULTS, upper-cased.
    assert reporter["env"][f"{runner.upper()}_RESULTS"] == "${{ steps.grade.outputs.result }}"
    assert reporter.get("continue-on-error") is True


def test_actions_run_on_node_24_and_pip_downloads_are_cached() -> None:
    steps = the_job(load_workflow())["steps"]
    # The first majors of each that run on Node 24 (Node 20 actions are deprecated and removed).
    minimum = {"actions/checkout": 5, "actions/setup-python": 6, "actions/upload-artifact": 6}
    minimum["mikepenz/action-junit-report"] = 6
    used = {s["uses"].split("@")[0]: int(s["uses"].split("@v")[1]) for s in steps if "uses" in s}
    for action, major in minimum.items():
        assert used[action] >= major, f"{action}@v{used[action]} is deprecated"
    python = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python"))
    assert python["with"]["cache"] == "pip"
    assert python["with"]["cache-dependency-path"] == ".github/workflows/grade.yml"


def test_job_is_named_as_classrooms_reporter_expects() -> None:
    jobs = load_workflow()["jobs"]
    assert list(jobs) == ["run-autograding-tests"]
    assert jobs["run-autograding-tests"].get("name", "run-autograding-tests") == "run-autograding-tests"


def test_unset_grader_spec_stops_the_install_with_a_clear_message(tmp_path: Path) -> None:
    data = load_workflow()
    assert settings(data)["GRADER_SPEC"] == "", "no default: an unowned package name must never be installed"
    install = next(s for s in the_job(data)["steps"] if s.get("name") == "Install the grader")
    script = tmp_path / "install.sh"
    script.write_text(install["run"])
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "RUNNER_TEMP": str(tmp_path), **settings(data)}
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "::error title=No grader configured::set the repository or organisation variable GRADER_SPEC" in done.stdout
    assert not (tmp_path / "grader-venv").exists()


# --------------------------------------------------------------------------- running it


@dataclass
class StepRun:
    name: str
    returncode: int | None  # None: not run (a ``uses:`` step, or skipped after a failure)
    output: str = ""


@dataclass
class WorkflowRun:
    repo: Path
    runner_temp: Path
    env: dict[str, str]
    steps: list[StepRun] = field(default_factory=list)
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    summary: str = ""

    @property
    def failed(self) -> bool:
        return any(s.returncode not in (None, 0) for s in self.steps)

    def step(self, name: str) -> StepRun:
        return next(s for s in self.steps if s.name == name)

    def with_paths(self, text: str) -> list[Path]:
        """Paths in a ``uses:`` step's input, with ``${{ runner.temp }}`` filled in."""
        text = text.replace("${{ runner.temp }}", str(self.runner_temp))
        assert "${{" not in text, text
        return [Path(line.strip()) for line in text.splitlines() if line.strip()]


def read_outputs(path: Path) -> dict[str, str]:
    """``name=value`` and ``name<<DELIMITER`` blocks, as the runner reads ``$GITHUB_OUTPUT``."""
    values, lines = {}, path.read_text().splitlines() if path.exists() else []
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, i + 1)
            values[name] = "\n".join(lines[i + 1 : end])
            i = end + 1
            continue
        name, value = line.split("=", 1)
        values[name] = value
        i += 1
    return values


def make_repository(folder: Path, submission: Path) -> Path:
    """A student repository as GitHub Classroom makes it: the template, then the student's commit."""
    repo = folder / "student-repo"
    shutil.copytree(TEMPLATE, repo)
    git = ["git", "-c", "user.name=Student", "-c", "user.email=student@example.org", "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "-C", str(repo), "add", "."], check=True)
    subprocess.run([*git, "-C", str(repo), "commit", "-qm", "Initial commit"], check=True)
    for name in SUBMISSION_FILES:
        shutil.copy(submission / name, repo / name)
    subprocess.run([*git, "-C", str(repo), "commit", "-qam", "My solution"], check=True)
    return repo


def student_bundle(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hlcv-ex2 student bundle, built as docs/student-bundle.md says (once per test run, shared with
    ``test_student_bundle.py``); building never writes into the work tree."""
    bundle = folder / "hlcv-ex2-student"
    student_bundle_copy(tmp_path_factory, "bwrap", bundle)
    for path in [bundle, *bundle.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o005 | (0o050 if path.is_dir() else 0))
    return bundle


def setup_python(folder: Path) -> Path:
    """A folder with ``python`` on it, as ``actions/setup-python`` leaves the PATH."""
    bin_dir = folder / "setup-python" / "bin"
    bin_dir.mkdir(parents=True)
    # A Python outside a private home, so the sandbox's unprivileged user can run the venv made from it.
    python = "/usr/bin/python3.11" if os.access("/usr/bin/python3.11", os.X_OK) else sys.executable
    # A script, not a link: a venv made through a link points back at the link, which lies outside the
    # folders the sandbox mounts; setup-python's interpreter is a real file in the runner's tool cache.
    shim = bin_dir / "python"
    shim.write_text(f'#!/bin/sh\nexec {python} "$@"\n')
    shim.chmod(0o755)
    return bin_dir


def run_workflow(repo: Path, runner_temp: Path, python_bin: Path, install: dict[str, str]) -> WorkflowRun:
    """Every ``run:`` step of the job, in order, the way a GitHub runner runs it."""
    data = load_workflow()
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BACKPROP_GRADER_", "PYTEST_", "GITHUB_", "RUNNER_", "PIP_"))
        and k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
    }
    base["PATH"] = f"{python_bin}{os.pathsep}{base.get('PATH', '/usr/bin:/bin')}"
    base.update(CI="true", GITHUB_ACTIONS="true", GITHUB_ACTOR="student", GITHUB_WORKSPACE=str(repo))
    base.update(RUNNER_OS="Linux", RUNNER_TEMP=str(runner_temp))
    base.update(settings(data))
    base.update(install)
    run = WorkflowRun(repo=repo, runner_temp=runner_temp, env=base)
    for number, step in enumerate(the_job(data)["steps"]):
        name = step.get("name") or step.get("uses", f"step {number}")
        condition = str(step.get("if", "")).strip()
        if "uses" in step or (run.failed and condition not in _ALWAYS):
            run.steps.append(StepRun(name, None))
            continue
        assert not condition or condition in _ALWAYS, f"{name}: a condition this test cannot evaluate: {condition}"
        files = {key: runner_temp / "files" / f"{number}-{key}" for key in ("OUTPUT", "STEP_SUMMARY", "ENV", "PATH")}
        for path in files.values():
            path.parent.mkdir(exist_ok=True)
            path.touch()
        env = {**base, **{f"GITHUB_{key}": str(path) for key, path in files.items()}, **step.get("env", {})}
        script = runner_temp / "files" / f"{number}.sh"
        script.write_text(step["run"])
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=repo,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=STEP_TIMEOUT_S,
            check=False,
        )
        run.steps.append(StepRun(name, done.returncode, done.stdout))
        if "id" in step:
            run.outputs[step["id"]] = read_outputs(files["OUTPUT"])
        run.summary += files["STEP_SUMMARY"].read_text()
        assert files["ENV"].read_text() == "" and files["PATH"].read_text() == "", "GITHUB_ENV/PATH are not replayed"
    return run


@pytest.fixture(scope="module")
def runner_temp() -> Iterator[Path]:
    """``RUNNER_TEMP``: public like a runner's, so the sandbox's user can run the grader's venv in it."""
    folder = Path(tempfile.mkdtemp(prefix="backprop-grader-runner-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def install(runner_temp: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The install source: this project instead of the package index, torch pinned to the CPU build."""
    constraints = runner_temp / "constraints.txt"
    constraints.write_text((REPO / "scripts" / "constraints.txt").read_text())
    return {
        "GRADER_SPEC": str(student_bundle(runner_temp, tmp_path_factory)),
        "TORCH_INDEX": "",
        "PIP_CONSTRAINT": str(constraints),
    }


def workflow_on(submission: Path, runner_temp: Path, install: dict[str, str]) -> WorkflowRun:
    require_bwrap()  # the workflow's default sandbox
    work = runner_temp / submission.name
    work.mkdir()
    # What one job leaves behind in RUNNER_TEMP is not the next job's: only the grader's venv is kept.
    shutil.rmtree(runner_temp / "grade", ignore_errors=True)
    shutil.rmtree(runner_temp / "files", ignore_errors=True)
    return run_workflow(make_repository(work, submission), runner_temp, setup_python(work), install)


@pytest.fixture(scope="module")
def good_run(runner_temp: Path, install: dict[str, str]) -> WorkflowRun:
    return workflow_on(require_corpus() / "good", runner_temp, install)


@pytest.fixture(scope="module")
def buggy_run(runner_temp: Path, install: dict[str, str], good_run: WorkflowRun) -> WorkflowRun:
    # After the good run, which made the venv: the steps are the same, the install step runs again.
    return workflow_on(require_corpus() / "buggy" / "grad-not-averaged", runner_temp, install)


def fail_under() -> float:
    return float(settings(load_workflow())["GRADE_FAIL_UNDER"])


def classroom(run: WorkflowRun) -> dict[str, Any]:
    return json.loads(base64.b64decode(run.outputs["grade"]["result"]))


# --------------------------------------------------------------------------- JUnit as CI tools read it

_DECIMAL = re.compile(r"\d+(\.\d+)?")


def assert_junit_structure(path: Path) -> dict[str, int]:
    """Check the JUnit XML structure CI report tools read; return the totals.

    ``testsuites`` holds ``testsuite`` elements; a ``testsuite`` has ``name``, integer ``tests``,
    ``failures``, ``errors`` (and ``skipped``), a decimal ``time``, and holds ``properties``,
    ``testcase``, ``system-out``/``system-err``; a ``testcase`` has ``name``, ``classname``, a decimal
    ``time`` and at most one of ``failure``, ``error``, ``skipped`` (failure and error with a
    ``message``); ``property`` elements have exactly ``name`` and ``value``. Every count equals the
    number of elements it counts, and the totals of ``testsuites`` are the sums over its suites.
    """
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in root:
        assert suite.tag == "testsuite"
        assert suite.get("name") and _DECIMAL.fullmatch(suite.get("time", "0"))
        assert {c.tag for c in suite} <= {"properties", "testcase", "system-out", "system-err"}
        counted = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for node in suite.iter("property"):
            assert set(node.attrib) == {"name", "value"}
        for case in suite.findall("testcase"):
            counted["tests"] += 1
            assert case.get("name") and case.get("classname") and _DECIMAL.fullmatch(case.get("time"))
            outcomes = [c for c in case if c.tag in ("failure", "error", "skipped")]
            assert len(outcomes) <= 1 and {c.tag for c in case} <= {
                "properties",
                "failure",
                "error",
                "skipped",
                "system-out",
                "system-err",
            }
            for outcome in outcomes:
                if outcome.tag != "skipped":
                    assert outcome.get("message")
                counted[{"failure": "failures", "error": "errors", "skipped": "skipped"}[outcome.tag]] += 1
        for key, value in counted.items():
            assert int(suite.get(key, "0")) == value, (key, suite.attrib)
            totals[key] += value
    for key in ("tests", "failures", "errors"):
        if key in root.attrib:
            assert int(root.get(key)) == totals[key], (key, root.attrib)
    return totals


# --------------------------------------------------------------------------- the good submission


@pytest.mark.slow
def test_every_command_runs_as_written_on_a_good_submission(good_run: WorkflowRun) -> None:
    for step in good_run.steps:
        assert step.returncode in (None, 0), f"{step.name} failed:\n{step.output[-3000:]}"
    ran = [s.name for s in good_run.steps if s.returncode == 0]
    assert ran == ["Install the grader", "Prepare the sandbox", "Grade"]
    assert "backprop-grader-student" in good_run.step("Install the grader").output


@pytest.mark.slow
def test_good_submission_meets_the_minimum_with_its_points_in_every_output(good_run: WorkflowRun) -> None:
    result = load_result(good_run.runner_temp / "grade" / "result.json")
    assert result.status == "graded" and result.score >= fail_under()
    # The 92 visible points, less the three 5-point checks only the instructor's grader runs (the two CIFAR-10
    # checks, and the toy training check, which scores the student's trained weights with the reference).
    assert result.score == 77 and result.max_score == 92
    outputs = good_run.outputs["grade"]
    assert outputs["passed"] == "true" and float(outputs["score"]) == 77 and float(outputs["max_score"]) == 92
    assert "## hlcv-ex2: 77.0 / 92.0 points" in good_run.summary
    assert f"Minimum score for this job: {fail_under():g} points (met)." in good_run.summary
    assert "::notice title=Autograding::Points 77/92" in good_run.step("Grade").output


@pytest.mark.slow
def test_classroom_result_has_points_awarded_and_available(good_run: WorkflowRun) -> None:
    data = classroom(good_run)
    assert data["version"] == 1 and data["status"] == "pass" and data["max_score"] == 92
    assert len(data["tests"]) == 17
    assert sum(t["score"] for t in data["tests"]) == 77
    assert {t["status"] for t in data["tests"]} <= {"pass", "fail", "error"}
    assert all(t["name"] and isinstance(t["score"], (int, float)) for t in data["tests"])


@pytest.mark.slow
def test_uploaded_json_is_the_student_copy(good_run: WorkflowRun) -> None:
    upload = next(s for s in the_job(load_workflow())["steps"] if "upload-artifact" in s.get("uses", ""))
    paths = good_run.with_paths(upload["with"]["path"])
    assert all(path.is_file() for path in paths), paths
    (uploaded,) = [p for p in paths if p.suffix == ".json"]
    student = load_result(uploaded)
    # The bundle has no hidden check: not even its title reaches the run.
    assert student.tests and all(t.visibility == "visible" for t in student.tests)
    # The full record stays on the runner, not in the artifact.
    record = good_run.runner_temp / "grade" / "record.json"
    assert record.is_file() and record not in paths
    assert isinstance(load_result(record), GradeResult)


@pytest.mark.slow
def test_junit_report_validates_and_counts_add_up(good_run: WorkflowRun) -> None:
    reporter = next(s for s in the_job(load_workflow())["steps"] if "junit-report" in s.get("uses", ""))
    (report,) = good_run.with_paths(reporter["with"]["report_paths"])
    totals = assert_junit_structure(report)
    assert totals == {"tests": 17, "failures": 0, "errors": 0, "skipped": 3}


@pytest.mark.slow
def test_self_check_from_the_installed_grader_on_the_repository(good_run: WorkflowRun) -> None:
    """``grade check`` as a student runs it: from the installed grader, in the repository, no options."""
    grade = good_run.runner_temp / "grader-venv" / "bin" / "grade"
    env = {k: v for k, v in good_run.env.items() if k not in ("CI", "GITHUB_ACTIONS")}
    done = subprocess.run(
        [str(grade), "check", "--sandbox", "process"],
        cwd=good_run.repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if "cannot drop root privileges" in done.stderr:
        pytest.skip(f"the process sandbox cannot run here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING: the 'process' sandbox does not isolate the submission" in done.stderr
    assert "Every visible check that ran passes." in done.stdout


# --------------------------------------------------------------------------- a buggy submission


@pytest.mark.slow
def test_buggy_submission_fails_the_job_below_the_minimum(buggy_run: WorkflowRun) -> None:
    grade = buggy_run.step("Grade")
    assert grade.returncode == 1, grade.output[-3000:]
    assert re.search(r"score [\d.]+ is below the minimum of [\d.]+ points", grade.output)
    assert "::error title=Autograding::score" in grade.output
    result = load_result(buggy_run.runner_temp / "grade" / "result.json")
    assert result.status == "graded" and result.score < fail_under()
    assert buggy_run.outputs["grade"]["passed"] == "false"
    assert classroom(buggy_run)["status"] == "fail"
    assert "(**not met**)" in buggy_run.summary


@pytest.mark.slow
def test_buggy_submission_reports_still_get_written(buggy_run: WorkflowRun) -> None:
    # The upload, report and Classroom steps run after a failed grade step (if: !cancelled()).
    conditions = {s.get("name"): s.get("if") for s in the_job(load_workflow())["steps"] if "uses" in s}
    for name in ("Upload the result", "Publish the JUnit report", "Report the points to GitHub Classroom"):
        assert str(conditions[name]).startswith("${{ !cancelled()"), name
    totals = assert_junit_structure(buggy_run.runner_temp / "grade" / "junit.xml")
    assert totals["tests"] == 17 and totals["failures"] >= 1
    gradient = next(t for t in classroom(buggy_run)["tests"] if t["name"].startswith("Toy problem: gradients"))
    assert gradient["status"] == "fail" and gradient["score"] == 0
    assert "instead of averaged" in gradient["message"]
    assert "Toy problem: gradients" in buggy_run.summary
