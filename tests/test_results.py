"""The result model: invariants, sanitising, atomic writing and safe reading of result files."""

from __future__ import annotations

import json
import math
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

from grader.results import (
    HIDDEN_OUTPUT,
    TEXT_LIMIT,
    TRUNCATION_MARKER,
    CheckResult,
    GradeResult,
    json_schema,
    load_result,
    write_atomic,
)

SHA = "0123456789abcdef" * 4


def check(name: str = "test_loss.py::test_toy_loss", **fields) -> CheckResult:
    values = {"title": "Toy loss", "score": 4.0, "max_score": 4.0, "status": "passed", "output": "ok"}
    values.update(fields)
    return CheckResult(name=name, **values)


def result(tests: list[CheckResult] | None = None, **fields) -> GradeResult:
    values = {
        "assignment": "hlcv-ex2",
        "assignment_version": "1.0",
        "grader_version": "0.1.0",
        "submission_sha256": SHA,
        "sandbox": "bwrap",
        "isolated": True,
        "status": "graded",
        "started_at": datetime(2026, 11, 23, 9, 30, tzinfo=timezone.utc),
        "duration_s": 12.5,
        "timings": {"unpack": 0.1, "checks": 12.0},
        "versions": {"python": "3.11.7", "numpy": "2.4.6"},
    }
    values.update(fields)
    if tests is None:
        tests = [check(), check("test_grad.py::test_dw1", title="dW1", score=1, max_score=6, status="failed")]
    return GradeResult.build(tests=tests, **values)


# --- numbers -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("field", ["score", "max_score", "duration_s"])
def test_check_refuses_non_finite_numbers(field, bad):
    with pytest.raises(ValueError, match="finite"):
        check(**{field: bad})


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_grade_result_refuses_non_finite_numbers(bad):
    with pytest.raises(ValueError):
        result(duration_s=bad)
    with pytest.raises(ValueError):
        result(timings={"checks": bad})


def test_score_is_clamped_into_range():
    assert check(score=7.5, max_score=4).score == 4.0
    assert check(score=-2, max_score=4).score == 0.0
    assert check(score=2.5, max_score=4).score == 2.5


def test_skipped_check_scores_zero():
    assert check(score=3, max_score=4, status="skipped").score == 0.0


def test_negative_max_score_is_rejected():
    with pytest.raises(ValueError):
        check(score=0, max_score=-1)


# --- text ----------------------------------------------------------------------------------------------


def test_terminal_escapes_and_controls_are_removed():
    c = check(
        title="Loss\x1b]0;pwned\x07",
        output="\x1b[2J\x1b[32mALL PASSED\x1b[0m\r\nline\ttwo\x00\x07\x9b31m\x85end\u202eevil",
        diagnosis="missing 1/N\x1b[1m",
    )
    for text in (c.title, c.output, c.diagnosis):
        assert not any(ord(ch) < 32 and ch not in "\n\t" for ch in text)
        assert not any(0x7F <= ord(ch) <= 0x9F for ch in text)
        assert "\u202e" not in text
    assert c.output.startswith("ALL PASSED\nline\ttwo")
    assert c.title == "Loss"
    assert c.diagnosis == "missing 1/N"


def test_html_is_kept_as_literal_text_in_the_model():
    # Escaping belongs to each output format; the model stores what was said.
    assert check(output="<script>alert(1)</script>").output == "<script>alert(1)</script>"


def test_long_output_is_truncated_with_a_marker():
    c = check(output="x" * 50_000, title="t" * 9_000)
    assert len(c.output) <= TEXT_LIMIT and c.output.endswith(TRUNCATION_MARKER)
    assert len(c.title) <= TEXT_LIMIT and c.title.endswith(TRUNCATION_MARKER)


def test_one_line_fields_stay_on_one_line():
    c = check(title="two\nlines", diagnosis="a\n\nb")
    assert c.title == "two lines" and c.diagnosis == "a b"
    assert "\n" not in result(message="rejected:\n../../etc/passwd").message


# --- totals and names ----------------------------------------------------------------------------------


def test_build_computes_totals():
    r = result([check("a", score=0.1, max_score=1), check("b", score=0.2, max_score=1)])
    assert r.score == pytest.approx(0.3) and r.max_score == 2.0


def test_build_refuses_caller_totals():
    with pytest.raises(TypeError):
        GradeResult.build(tests=[], score=1.0)


def test_totals_must_match_the_checks():
    data = result().model_dump()
    data["score"] += 0.5
    with pytest.raises(ValueError, match="sum"):
        GradeResult.model_validate(data)
    data = result().model_dump()
    data["max_score"] = 100.0
    with pytest.raises(ValueError, match="sum"):
        GradeResult.model_validate(data)


def test_check_names_must_be_unique():
    with pytest.raises(ValueError, match="unique"):
        result([check("same"), check("same", title="Other")])


def test_rejected_submission_lists_every_check_with_zero():
    reason = "zip entry escapes the submission folder: ../x.py"
    tests = [check("a", score=0, status="error", output=reason), check("b", score=0, status="error")]
    assert result(tests, status="rejected", message=reason).score == 0
    with pytest.raises(ValueError, match="rejected"):
        result([check("a")], status="rejected")


def test_unknown_fields_are_rejected():
    with pytest.raises(ValueError):
        CheckResult(name="a", title="a", score=0, max_score=1, status="failed", output="", points=3)


def test_student_view_hides_feedback_of_hidden_checks():
    r = result([check("v"), check("h", visibility="hidden", output="X = 0.8123", diagnosis="d", duration_s=4)])
    hidden = r.student_view().tests[1]
    assert hidden.output == HIDDEN_OUTPUT and hidden.diagnosis is None and hidden.duration_s == 0
    assert r.tests[1].output == "X = 0.8123"  # the original is untouched


# --- JSON ----------------------------------------------------------------------------------------------


def test_to_json_round_trips_and_has_no_nan():
    r = result()
    text = r.to_json()
    assert "NaN" not in text and text.endswith("\n")
    assert GradeResult.model_validate(json.loads(text)) == r


def test_to_json_refuses_nan_set_after_construction():
    r = result()
    r.tests[0].score = math.nan  # plain attribute assignment skips validation
    with pytest.raises(ValueError):
        r.to_json()


def test_to_json_refuses_totals_broken_after_construction():
    r = result()
    r.tests.append(check("late", score=1, max_score=1))
    with pytest.raises(ValueError, match="sum"):
        r.to_json()


def test_json_schema_is_exportable():
    schema = json_schema()
    text = json.dumps(schema, allow_nan=False)
    assert json.loads(text)["type"] == "object"
    expected = {"schema_version", "assignment", "score", "max_score", "tests", "status", "started_at"}
    assert expected <= set(schema["properties"])
    assert {"name", "title", "score", "max_score", "status", "output", "visibility"} <= set(
        schema["$defs"]["CheckResult"]["properties"]
    )


# --- writing -------------------------------------------------------------------------------------------


def test_write_atomic_writes_and_replaces(tmp_path: Path):
    target = tmp_path / "result.json"
    write_atomic(target, "first")
    write_atomic(target, "second ✓")
    assert target.read_text(encoding="utf-8") == "second ✓"
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_write_atomic_replaces_a_symlink_not_its_target(tmp_path: Path):
    victim = tmp_path / "victim.txt"
    victim.write_text("do not touch")
    link = tmp_path / "result.json"
    link.symlink_to(victim)
    write_atomic(link, "result")
    assert victim.read_text() == "do not touch"
    assert not link.is_symlink()
    assert link.read_text() == "result"


def test_write_atomic_leaves_no_temporary_file_on_failure(tmp_path: Path):
    with pytest.raises(IsADirectoryError):
        (tmp_path / "taken").mkdir()
        write_atomic(tmp_path / "taken", "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_write_atomic_of_unencodable_text_leaves_nothing(tmp_path: Path):
    with pytest.raises(UnicodeEncodeError):
        write_atomic(tmp_path / "r.json", "\ud800")
    assert list(tmp_path.iterdir()) == []


# --- reading -------------------------------------------------------------------------------------------


def test_load_result_reads_what_was_written(tmp_path: Path):
    r = result()
    write_atomic(tmp_path / "r.json", r.to_json())
    assert load_result(tmp_path / "r.json") == r


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "invalid JSON"),
        ("", "invalid JSON"),
        ("[" * 100_000 + "]" * 100_000, "nested"),
        ('{"score": 1}', "not a valid grade result"),
    ],
)
def test_load_result_rejects_invalid_files(tmp_path: Path, content: str, reason: str):
    path = tmp_path / "r.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=reason):
        load_result(path)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_load_result_rejects_nan_literals(tmp_path: Path, constant: str):
    data = json.loads(result().to_json())
    text = json.dumps(data).replace('"duration_s": 12.5', f'"duration_s": {constant}')
    assert constant in text
    path = tmp_path / "r.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=f"{constant} is not allowed"):
        load_result(path)


def test_load_result_rejects_large_files(tmp_path: Path):
    path = tmp_path / "r.json"
    path.write_text(result().to_json())
    with pytest.raises(ValueError, match="larger than"):
        load_result(path, max_bytes=100)
    big = tmp_path / "big.json"
    with open(big, "wb") as f:
        f.truncate(16 * 1024 * 1024 + 1)
    with pytest.raises(ValueError, match="larger than"):
        load_result(big)


def test_load_result_rejects_bad_utf8_missing_files_and_fifos(tmp_path: Path):
    (tmp_path / "latin1.json").write_bytes(b'{"assignment": "\xe9"}')
    with pytest.raises(ValueError, match="UTF-8"):
        load_result(tmp_path / "latin1.json")
    with pytest.raises(ValueError, match="cannot read"):
        load_result(tmp_path / "missing.json")
    os.mkfifo(tmp_path / "fifo.json")
    with pytest.raises(ValueError, match="not a regular file"):
        load_result(tmp_path / "fifo.json")  # must not block waiting for a writer
