"""Output formats: Gradescope JSON, JUnit XML, Markdown, native JSON and the console summary."""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

import pytest
from junit_schema import violations

from grader.cli.console import format_summary
from grader.results import HIDDEN_OUTPUT, CheckResult, GradeResult
from grader.writers import FORMATS, render
from grader.writers._text import strip_xml_invalid

SECRET = "hidden-input-0.8123456"
ADD_SECRET = "after-due-0.55501"
HOSTILE = (
    "dW1: max relative error 3.2e-02 at [0, 3] (limit 1e-08)\n"
    "::error file=grader.py::ALL PASSED\n"
    "  ::set-output name=score::100\n"
    "##[error]forged\n"
    "</failure><script>alert(1)</script> & | `code` ![x](http://evil/)\n"
    "\x1b[2J\x1b[32mALL PASSED\ufffe\uffff"
)


def make_result(**fields) -> GradeResult:
    tests = [
        CheckResult(
            name="test_loss.py::test_toy_loss",
            title="Toy loss | batch `mean`",
            score=4,
            max_score=4,
            status="passed",
            output="loss 1.30378789 matches",
            duration_s=0.25,
            tags=["loss"],
        ),
        CheckResult(
            name="test_grad.py::test_toy_grads",
            title="Toy gradients",
            score=1.5,
            max_score=6,
            status="failed",
            output=HOSTILE,
            diagnosis="gradients summed over the batch instead of averaged",
            duration_s=1.0,
        ),
        CheckResult(
            name="test_grad.py::test_hidden_grads",
            title="Hidden gradients",
            score=0,
            max_score=5,
            status="error",
            output=f"worker crashed on X = {SECRET}",
            visibility="hidden",
            diagnosis=f"mistake seen on {SECRET}",
            duration_s=3.5,
        ),
        CheckResult(
            name="test_train.py::test_accuracy",
            title="Validation accuracy",
            score=2,
            max_score=5,
            status="failed",
            output=f"accuracy {ADD_SECRET}",
            visibility="after_due_date",
        ),
        CheckResult(
            name="test_torch.py::test_mlp",
            title="PyTorch MLP",
            score=0,
            max_score=3,
            status="skipped",
            output="torch part not submitted",
        ),
    ]
    values = {
        "assignment": "hlcv-ex2",
        "assignment_version": "1.0",
        "grader_version": "0.1.0",
        "submission_sha256": "ab" * 32,
        "sandbox": "docker",
        "isolated": True,
        "status": "graded",
        "message": "Graded 5 checks.",
        "started_at": datetime(2026, 11, 23, 9, 30, tzinfo=timezone.utc),
        "duration_s": 9.75,
        "output": "student print: hello\n::warning::from student",
    }
    values.update(fields)
    return GradeResult.build(tests=tests, **values)


def test_every_format_renders_and_unknown_formats_fail():
    r = make_result()
    for fmt in FORMATS:
        assert render(r, fmt)
    with pytest.raises(ValueError, match="unknown format"):
        render(r, "yaml")


def test_writers_refuse_a_result_edited_into_nan():
    r = make_result()
    r.tests[0].duration_s = math.nan
    for fmt in FORMATS:
        with pytest.raises(ValueError):
            render(r, fmt)


# --- native JSON ---------------------------------------------------------------------------------------


def test_native_json_keeps_everything_and_round_trips():
    r = make_result()
    text = render(r, "json")
    assert text.startswith('{\n  "schema_version": 1,')
    assert SECRET in text and ADD_SECRET in text
    assert GradeResult.model_validate(json.loads(text)) == r


def test_native_json_student_copy_hides():
    text = render(make_result(), "json", include_hidden=False)
    assert SECRET not in text and ADD_SECRET not in text
    assert GradeResult.model_validate_json(text).score == make_result().score


# --- Gradescope ----------------------------------------------------------------------------------------


def test_gradescope_has_the_documented_shape():
    data = json.loads(render(make_result(), "gradescope"))
    assert isinstance(data["score"], float) and data["score"] == pytest.approx(7.5)
    assert data["visibility"] == "visible" and data["stdout_visibility"] == "hidden"
    assert isinstance(data["execution_time"], int)
    assert "Graded 5 checks." in data["output"]
    assert len(data["tests"]) == 5
    for test in data["tests"]:
        assert {"name", "score", "max_score", "output", "visibility"} <= set(test)
        assert isinstance(test["score"], float) and isinstance(test["max_score"], float)
        assert test.get("status", "not run") in ("passed", "failed", "not run")
        assert test["visibility"] in ("visible", "hidden", "after_due_date", "after_published")
        assert test["output_format"] == "text"
    assert math.fsum(t["score"] for t in data["tests"]) == data["score"]


def test_gradescope_names_titles_and_keeps_ids_in_tags():
    first = json.loads(render(make_result(), "gradescope"))["tests"][0]
    assert first["name"] == "Toy loss | batch `mean`"
    assert first["tags"] == ["test_loss.py::test_toy_loss", "loss"]


def test_gradescope_maps_error_to_failed_and_leaves_skipped_without_a_status():
    tests = json.loads(render(make_result(), "gradescope"))["tests"]
    skipped = tests[4]
    assert "status" not in skipped and skipped["score"] == 0  # neither passed nor failed: it did not run
    assert skipped["output"] == "Not run: torch part not submitted"
    assert tests[2]["status"] == "failed" and tests[2]["output"].startswith("Error")
    assert tests[1]["output"].startswith("Likely mistake: gradients summed over the batch")


def test_gradescope_skipped_checks_drop_the_command_line_hint():
    result = GradeResult.build(
        tests=[
            CheckResult(
                name="test_5_accuracy.py::test_mlp_accuracy",
                title="PyTorch MLP: CIFAR-10 validation accuracy > 48%",
                score=0,
                max_score=5,
                status="skipped",
                output="CIFAR-10 is not available: pass --data-dir or set BACKPROP_GRADER_DATA_DIR",
            )
        ],
        **make_result().model_dump(exclude={"tests", "score", "max_score"}),
    )
    test = json.loads(render(result, "gradescope"))["tests"][0]
    assert test["output"] == "Not run: CIFAR-10 is not available"


def test_gradescope_leaderboard_numbers_and_after_published():
    checks = [
        CheckResult(
            name="test_5_accuracy.py::test_two_layer_accuracy",
            title="Two-layer net: CIFAR-10 validation accuracy > 48%",
            score=5,
            max_score=5,
            status="passed",
            output="validation accuracy 51.3% on 1000 images (measured by the grader)",
            tags=["training"],
        ),
        CheckResult(
            name="test_1_forward.py::test_toy_loss",
            title="Toy loss",
            score=0.1 + 0.2,  # 0.30000000000000004
            max_score=6,
            status="failed",
            output="loss 1.303787891330000000000000000000000000000000012 expected 1.30378789133",
            visibility="after_published",
        ),
    ]
    result = GradeResult.build(tests=checks, **make_result().model_dump(exclude={"tests", "score", "max_score"}))
    data = json.loads(render(result, "gradescope"))
    assert data["leaderboard"] == [
        {"name": "Two-layer net: CIFAR-10 validation accuracy > 48%", "value": 51.3, "order": "desc"}
    ]
    toy = data["tests"][1]
    assert toy["score"] == 0.3 and data["score"] == 5.3
    assert toy["output"] == "loss 1.30378789133 expected 1.30378789133"
    assert toy["visibility"] == "after_published"
    # Gradescope holds after_published tests back itself; the other formats redact them.
    assert "1.30378789133" not in render(result, "markdown")


def test_gradescope_hides_hidden_checks_but_leaves_due_date_to_gradescope():
    text = render(make_result(), "gradescope")
    assert SECRET not in text
    tests = json.loads(text)["tests"]
    assert tests[2]["output"].endswith(HIDDEN_OUTPUT) and tests[2]["visibility"] == "hidden"
    assert tests[2]["extra_data"]["execution_time"] == 0
    assert ADD_SECRET in tests[3]["output"] and tests[3]["visibility"] == "after_due_date"
    assert SECRET in render(make_result(), "gradescope", include_hidden=True)


# --- JUnit ---------------------------------------------------------------------------------------------

_XML_VALID = re.compile("[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*")


def test_junit_parses_and_counts_add_up():
    text = render(make_result(), "junit")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag == "testsuites"
    suites = list(root)
    assert [s.tag for s in suites] == ["testsuite"]
    suite = suites[0]
    cases = suite.findall("testcase")
    outcome = {"failure": 0, "error": 0, "skipped": 0}
    for case in cases:
        kinds = [c.tag for c in case if c.tag in outcome]
        assert len(kinds) <= 1
        for kind in kinds:
            outcome[kind] += 1
    for node in (root, suite):
        assert int(node.get("tests")) == len(cases) == 5
        assert int(node.get("failures")) == outcome["failure"] == 2
        assert int(node.get("errors")) == outcome["error"] == 1
        assert float(node.get("time")) == pytest.approx(9.75)
    assert int(suite.get("skipped")) == outcome["skipped"] == 1  # the schema counts skips per suite only


def test_junit_structure_is_what_ci_tools_read():
    # Which elements go where, with which attributes: the rules of junit-10.xsd (tests/junit_schema.py).
    root = ET.fromstring(render(make_result(), "junit").encode("utf-8"))
    suite = root.find("testsuite")
    assert {"name", "tests", "failures", "errors", "skipped", "time", "timestamp"} <= set(suite.attrib)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", suite.get("timestamp"))
    assert [c.tag for c in suite] == ["properties"] + ["testcase"] * 5 + ["system-out"]
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert float(props["score"]) == 7.5 and float(props["max_score"]) == 23.0
    # Per-check points where the schema allows them: suite properties, and each case's system-out.
    assert props["points.test_loss.py::test_toy_loss"] == "4.0/4.0"
    assert props["points.test_grad.py::test_toy_grads"] == "1.5/6.0"
    for case in suite.findall("testcase"):
        assert set(case.attrib) == {"classname", "name", "time"}
        float(case.get("time"))
        children = [c.tag for c in case]
        assert children[-1] == "system-out" and case[-1].text.startswith("points: ")
        assert set(children[:-1]) <= {"failure", "error", "skipped"} and len(children) <= 2
        for child in case[:-1]:
            assert child.get("message")
    first = suite.find("testcase")
    assert first.get("classname") == "hlcv-ex2.test_loss" and first.get("name") == "Toy loss | batch `mean`"
    assert first.find("system-out").text == "points: 4.0 / 4.0"


@pytest.mark.parametrize("include_hidden", [False, True])
def test_junit_is_valid_against_junit_10_xsd(include_hidden: bool):
    assert violations(render(make_result(), "junit", include_hidden=include_hidden)) == []


def test_the_schema_checker_catches_what_the_schema_forbids():
    # What a JUnit writer commonly emits and junit-10.xsd does not allow: the checker must say so.
    bad = (
        '<testsuites skipped="1"><testsuite name="a" tests="1" failures="0">'
        '<testcase name="t" file="x.py" line="3"><properties/></testcase></testsuite></testsuites>'
    )
    found = "\n".join(violations(bad))
    assert "/testsuites: attributes ['skipped'] are not allowed" in found
    assert "required attributes ['errors'] are missing" in found
    assert "attributes ['file', 'line'] are not allowed" in found
    assert "<properties> may not appear in <testcase>" in found
    assert violations('<testsuites time="1.5s"/>') == ["/testsuites: time '1.5s' does not match SUREFIRE_TIME"]


def test_a_failure_in_the_students_code_points_at_the_file_and_line():
    located = CheckResult(
        name="test_1_forward.py::test_toy_scores",
        title="Toy problem: class probabilities",
        score=0,
        max_score=7,
        status="failed",
        output="your code raised ValueError: shapes do not match (two_layernet.py, line 89, in loss)",
    )
    result = make_result()
    result = GradeResult.build(
        tests=[located, *result.tests], **result.model_dump(exclude={"tests", "score", "max_score"})
    )
    text = render(result, "junit")
    assert violations(text) == []
    case = ET.fromstring(text.encode("utf-8")).find("testsuite/testcase")
    assert case.get("classname") == "two_layernet.py"
    assert case.find("failure").text.splitlines()[0] == "two_layernet.py:89"
    # A failure without a location keeps the rubric's grouping.
    assert ET.fromstring(text.encode("utf-8")).findall("testsuite/testcase")[2].get("classname") == "hlcv-ex2.test_grad"


def test_junit_keeps_hostile_text_as_text_and_drops_invalid_characters():
    text = render(make_result(), "junit")
    assert _XML_VALID.fullmatch(text)
    assert "\x1b" not in text and "\ufffe" not in text and "\uffff" not in text
    failure = ET.fromstring(text.encode("utf-8")).find("testsuite/testcase[2]/failure")
    assert "</failure><script>alert(1)</script>" in failure.text
    assert failure.get("message").startswith("Likely mistake")


def test_strip_xml_invalid():
    assert strip_xml_invalid("a\x00b\x08c\x0bd\x0ce\x1ff\ud800g\ufffeh\uffffi\tj\nk\rl😀") == "abcdefghi\tj\nk\rl😀"


def test_junit_hides_hidden_and_due_date_checks():
    text = render(make_result(), "junit")
    assert SECRET not in text and ADD_SECRET not in text
    hidden = ET.fromstring(text.encode("utf-8")).find("testsuite/testcase[3]")
    assert hidden.get("time") == "0.000"
    assert SECRET in render(make_result(), "junit", include_hidden=True)


# --- Markdown ------------------------------------------------------------------------------------------


def _cells(row: str) -> list[str]:
    return re.split(r"(?<!\\)\|", row.strip())[1:-1]


def test_markdown_title_and_table():
    text = render(make_result(), "markdown")
    assert text.splitlines()[0] == "## hlcv-ex2: 7.5 / 23.0 points"
    rows = [line for line in text.splitlines() if line.startswith("|")]
    assert len(rows) == 2 + 5
    assert all(len(_cells(row)) == 4 for row in rows)
    assert _cells(rows[2])[0].strip() == r"Toy loss \| batch \`mean\`"
    assert [_cells(r)[2].strip() for r in rows[2:]] == ["passed", "failed", "error", "failed", "skipped"]


def test_markdown_escapes_html_and_links():
    text = render(make_result(), "markdown")
    assert "<script>" not in text and "</failure>" not in text
    assert "&lt;script&gt;" in text
    assert "](http://evil/)" not in text.split("<details>")[0]  # no live image in the table
    assert "<details>" in text and "Likely mistake: gradients summed" in text


def test_markdown_neutralises_workflow_commands():
    text = render(make_result(), "markdown")
    for line in text.splitlines():
        assert not line.lstrip().startswith("::"), line
        assert "##[" not in line
    assert "&#58;:error file=grader.py::ALL PASSED" in text


def test_markdown_hides_hidden_and_due_date_checks():
    text = render(make_result(), "markdown")
    assert SECRET not in text and ADD_SECRET not in text
    assert HIDDEN_OUTPUT in text
    shown = render(make_result(), "markdown", include_hidden=True)
    assert SECRET in shown and ADD_SECRET in shown


# --- console -------------------------------------------------------------------------------------------


def test_console_summary_is_plain_and_fits_the_width():
    text = format_summary(make_result(), width=80)
    assert all(ord(ch) >= 32 or ch == "\n" for ch in text)
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "Total: 7.5 / 23.0 points" in text and "Graded 5 checks." in text
    assert "4.0/4.0" in text and "Toy loss | batch `mean`" in text


def test_console_never_shows_control_characters_even_from_unvalidated_objects():
    r = make_result()
    r.tests[1].output = "\x1b[2J\x1b[31mALL PASSED\x07"  # bypasses validation; the console cleans again
    text = format_summary(r, width=120)
    assert "\x1b" not in text and "\x07" not in text
    assert not any(line.lstrip().startswith("::") for line in text.splitlines())


def test_console_hides_hidden_checks_unless_asked():
    assert SECRET not in format_summary(make_result(), width=200)
    assert ADD_SECRET not in format_summary(make_result(), width=200)
    assert SECRET in format_summary(make_result(), width=200, show_hidden=True)


def test_console_colour_only_on_request():
    coloured = format_summary(make_result(), width=100, color=True)
    assert "\x1b[" in coloured
    assert "\x1b" not in format_summary(make_result(), width=100)
