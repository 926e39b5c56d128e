"""Publish one grading result in a GitHub Actions job: ``python -m grader.cli.ci RESULT.json [options]``.

The student repository's workflow (``student_template/hlcv-ex2/.github/workflows/grade.yml``) grades once with
``grade run`` into the grader's own JSON, then calls this to turn that one result into everything the job
shows, so nothing is graded twice:

- the Markdown summary, appended to ``$GITHUB_STEP_SUMMARY``;
- a student copy of the JSON (hidden checks' feedback removed) for the artifact, and JUnit XML for a
  test-report action, both through the grader's writers;
- step outputs in ``$GITHUB_OUTPUT``: ``score``, ``max_score``, ``passed`` and ``result``, the last in GitHub
  Classroom's runner format (base64 JSON: ``version``, ``status``, ``max_score``, ``tests`` with ``name``,
  ``status``, ``score``, ``message``), which ``classroom-resources/autograding-grading-reporter`` reads to
  report points awarded and available;
- exit status 1 when the score is below ``--fail-under`` or the result is not ``graded``, so the job fails;
  2 for bad options or a file that is not a valid grade result.

Everything student-facing goes through the student view of the result; only numbers reach workflow
commands, so no student text can act as one.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from grader.cli.exits import ExitCode
from grader.results import GradeResult, load_result, write_atomic
from grader.writers import render
from grader.writers._text import feedback, shorten

#: Characters of feedback kept per check in the Classroom result (its console shows one message per test).
MESSAGE_CHARS = 500
_CLASSROOM_STATUS = {"passed": "pass", "failed": "fail", "error": "error", "skipped": "fail"}


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def meets(result: GradeResult, fail_under: float | None) -> bool:
    """Whether the job should pass: the submission was graded and scored at least ``fail_under``."""
    return result.status == "graded" and (fail_under is None or result.score >= fail_under)


def classroom_result(result: GradeResult, fail_under: float | None = None) -> dict[str, Any]:
    """``result`` (student view) in the runner format GitHub Classroom's grading reporter reads.

    Each check is one test with its own (partial) score; ``max_score`` is the points available. The
    overall status is "pass" exactly when the job passes (see :func:`meets`), "error" when the grader
    could not grade, else "fail". Skipped checks score 0 and count as "fail", with the reason.
    """
    view = result.student_view()
    tests = []
    for check in view.tests:
        tests.append(
            {
                "name": check.title or check.name,
                "status": _CLASSROOM_STATUS[check.status],
                "score": check.score,
                "max_score": check.max_score,
                "message": shorten(feedback(check), MESSAGE_CHARS) if check.status != "passed" else "",
                "test_code": check.name,
                "filename": "",
                "line_no": 0,
                "duration": check.duration_s,
            }
        )
    if result.status != "graded":
        status = "error"
    else:
        status = "pass" if meets(result, fail_under) else "fail"
    return {"version": 1, "status": status, "max_score": view.max_score, "tests": tests}


def _append(path: Path, text: str) -> None:
    # GitHub collects these files after the step; every step appends to its own copy.
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text)


def publish(
    result: GradeResult,
    *,
    fail_under: float | None = None,
    json_out: Path | None = None,
    junit_out: Path | None = None,
    summary: Path | None = None,
    github_output: Path | None = None,
) -> bool:
    """Write every output asked for; return whether the job should pass (:func:`meets`)."""
    passed = meets(result, fail_under)
    if json_out is not None:
        write_atomic(json_out, render(result, "json", include_hidden=False))
    if junit_out is not None:
        write_atomic(junit_out, render(result, "junit"))
    if summary is not None:
        text = render(result, "markdown")
        if fail_under is not None:
            verdict = "met" if passed else "**not met**"
            text += f"\nMinimum score for this job: {_num(fail_under)} points ({verdict}).\n"
        _append(summary, text)
    if github_output is not None:
        encoded = base64.b64encode(json.dumps(classroom_result(result, fail_under)).encode("utf-8")).decode("ascii")
        _append(
            github_output,
            f"score={_num(result.score)}\nmax_score={_num(result.max_score)}\n"
            f"passed={'true' if passed else 'false'}\nresult={encoded}\n",
        )
    return passed


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("result_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--fail-under", type=float, default=None, help="Exit 1 when the score is lower.")
@click.option("--json", "json_out", type=click.Path(path_type=Path), help="Write the student copy of the JSON.")
@click.option("--junit", "junit_out", type=click.Path(path_type=Path), help="Write JUnit XML.")
@click.option(
    "--summary",
    type=click.Path(path_type=Path),
    default=None,
    help="Append the Markdown summary here [default: $GITHUB_STEP_SUMMARY].",
)
@click.option(
    "--github-output",
    type=click.Path(path_type=Path),
    default=None,
    help="Append step outputs here [default: $GITHUB_OUTPUT].",
)
def main(
    result_file: Path,
    fail_under: float | None,
    json_out: Path | None,
    junit_out: Path | None,
    summary: Path | None,
    github_output: Path | None,
) -> None:
    """Publish RESULT_FILE (the JSON of 'grade run') in a GitHub Actions job."""
    try:
        result = load_result(result_file)
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(ExitCode.USAGE)
    passed = publish(
        result,
        fail_under=fail_under,
        json_out=json_out,
        junit_out=junit_out,
        summary=summary or _env_path("GITHUB_STEP_SUMMARY"),
        github_output=github_output or _env_path("GITHUB_OUTPUT"),
    )
    points = f"{_num(result.score)}/{_num(result.max_score)}"
    in_actions = os.environ.get("GITHUB_ACTIONS") == "true"
    # Only numbers and fixed words go into these workflow commands.
    if in_actions:
        click.echo(f"::notice title=Autograding::Points {points}")
    click.echo(f"Points {points}" + (f" (minimum {_num(fail_under)})" if fail_under is not None else ""))
    if passed:
        return
    if result.status != "graded":
        reason = f"the submission was not graded (status {result.status}); see the job summary"
    else:
        reason = f"score {_num(result.score)} is below the minimum of {_num(fail_under or 0)} points"
    if in_actions:
        click.echo(f"::error title=Autograding::{reason}")
    click.echo(f"error: {reason}", err=True)
    sys.exit(ExitCode.BELOW_THRESHOLD)


if __name__ == "__main__":
    main(prog_name="python -m grader.cli.ci")
