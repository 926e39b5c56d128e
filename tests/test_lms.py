"""LMS downloads in (Canvas, Moodle, Gradescope, GitHub Classroom) and gradebooks and feedback out.

The fixtures are built here from each system's documented layout:

- Canvas "Download Submissions": ``<name>_[LATE_]<user id>_<attachment id>_<file>`` in one flat folder,
  ``-1`` before the extension for a file uploaded again;
- Moodle "Download all submissions": ``<Full Name>_<participant id>_assignsubmission_<plugin>_`` folders
  (or that prefix on each file);
- Gradescope "Export Submissions": ``submission_metadata.yml`` (Ruby-style ``:key:`` mapping) beside
  ``submission_<id>/`` folders;
- GitHub Classroom ``gh classroom clone student-repos``: ``<assignment>-<username>/`` repositories.

Expected gradebook columns are the ones those systems document for import.
"""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest
from classroom import TEMPLATE, require_bwrap, run_grade

from grader.batch.lms import StudentsFile, detect, read_lms, read_students, write_students
from grader.batch.roster import RosterError
from grader.report.build import write_report
from grader.results import CheckResult, GradeResult, write_atomic

TWO = b"# two_layernet.py\n"
TORCH = b"# ex2_pytorch.py\n"


def canvas_download(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "lovelaceada_1001_5001_two_layernet.py").write_bytes(TWO)
    (folder / "lovelaceada_1001_5002_ex2_pytorch.py").write_bytes(TORCH)
    (folder / "turingalan_LATE_1002_5003_hw2.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    (folder / "hoppergrace_1003_5004_two_layernet-1.py").write_bytes(TWO + b"# again\n")
    (folder / "hoppergrace_1003_5005_ex2_pytorch.py").write_bytes(TORCH)
    (folder / "instructions.txt").write_text("not a submission\n")
    return folder


def moodle_download(folder: Path) -> Path:
    ada = folder / "Ada Lovelace_2001_assignsubmission_file_"
    ada.mkdir(parents=True)
    (ada / "two_layernet.py").write_bytes(TWO)
    (ada / "ex2_pytorch.py").write_bytes(TORCH)
    text = folder / "Ada Lovelace_2001_assignsubmission_onlinetext_"
    text.mkdir()
    (text / "onlinetext.html").write_text("<p>see files</p>")
    alan = folder / "Alan Turing_2002_assignsubmission_file_"
    alan.mkdir()
    (alan / "two_layernet.py").write_bytes(TWO)
    return folder


GRADESCOPE_METADATA = """\
submission_31415926:
  :submitters:
  - :name: Ada Lovelace
    :sid: '0042'
    :email: ada@example.edu
  :created_at: 2026-11-20 10:00:00.000000000 -08:00
  :score: 0.0
submission_27182818:
  :submitters:
  - :name: Alan Turing
    :sid: ''
    :email: alan@example.edu
  :created_at: 2026-11-20 11:00:00.000000000 -08:00
  :score: 0.0
"""


def gradescope_export(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "submission_metadata.yml").write_text(GRADESCOPE_METADATA)
    for name in ("submission_31415926", "submission_27182818", "submission_99"):
        (folder / name).mkdir()
        (folder / name / "two_layernet.py").write_bytes(TWO)
    return folder


def test_canvas_download_groups_each_students_files_under_the_canvas_id(tmp_path: Path) -> None:
    download = canvas_download(tmp_path / "canvas")
    assert detect(download) == "canvas"
    found = read_lms(download, "canvas", tmp_path / "staging")
    assert [e.student_id for e in found.entries] == ["1001", "1002", "1003"]
    ada, alan, grace = found.entries
    assert sorted(p.name for p in ada.path.iterdir()) == ["ex2_pytorch.py", "two_layernet.py"]
    assert (ada.path / "two_layernet.py").read_bytes() == TWO
    assert alan.path == download / "turingalan_LATE_1002_5003_hw2.zip"  # a lone archive is used as is
    assert (grace.path / "two_layernet.py").read_bytes() == TWO + b"# again\n"  # "-1" of a re-upload dropped
    students = {s.student_id: s for s in found.students}
    assert students["1002"].late and not students["1001"].late
    assert students["1001"].handle == "lovelaceada_1001_5001_"
    assert [(s.path.name, s.reason) for s in found.skipped] == [
        ("instructions.txt", "not named like a canvas download file")
    ]


def test_moodle_download_takes_participant_folders_and_lists_online_text(tmp_path: Path) -> None:
    download = moodle_download(tmp_path / "moodle")
    assert detect(download) == "moodle"
    found = read_lms(download, "moodle", tmp_path / "staging")
    assert [(e.student_id, e.path.name) for e in found.entries] == [
        ("2001", "Ada Lovelace_2001_assignsubmission_file_"),
        ("2002", "Alan Turing_2002_assignsubmission_file_"),
    ]
    assert [s.name for s in found.students] == ["Ada Lovelace", "Alan Turing"]
    assert [s.path.name for s in found.skipped] == ["Ada Lovelace_2001_assignsubmission_onlinetext_"]


def test_moodle_flat_download_is_grouped_by_participant(tmp_path: Path) -> None:
    download = tmp_path / "flat"
    download.mkdir()
    (download / "Ada Lovelace_2001_assignsubmission_file_two_layernet.py").write_bytes(TWO)
    (download / "Ada Lovelace_2001_assignsubmission_file_ex2_pytorch.py").write_bytes(TORCH)
    found = read_lms(download, detect(download) or "moodle", tmp_path / "staging")
    assert [e.student_id for e in found.entries] == ["2001"]
    assert sorted(p.name for p in found.entries[0].path.iterdir()) == ["ex2_pytorch.py", "two_layernet.py"]


def test_gradescope_export_uses_the_student_id_else_the_email(tmp_path: Path) -> None:
    pytest.importorskip("yaml", reason="reading Gradescope's metadata needs PyYAML")
    export = gradescope_export(tmp_path / "gradescope")
    assert detect(export) == "gradescope"
    found = read_lms(export, "gradescope", tmp_path / "staging")
    assert [(e.student_id, e.path.name) for e in found.entries] == [
        ("alan@example.edu", "submission_27182818"),
        ("0042", "submission_31415926"),
    ]
    assert [s.path.name for s in found.skipped] == ["submission_99"]


def test_github_classroom_clones_are_named_by_username(tmp_path: Path) -> None:
    clones = tmp_path / "hw2-submissions"
    for repo in ("hw2-ada-l", "hw2-alan"):
        (clones / repo / ".git").mkdir(parents=True)
        (clones / repo / "two_layernet.py").write_bytes(TWO)
    assert detect(clones) is None  # never guessed
    found = read_lms(clones, "github-classroom", tmp_path / "staging")
    assert [e.student_id for e in found.entries] == ["ada-l", "alan"]


def test_an_empty_download_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(RosterError, match="no moodle submissions found"):
        read_lms(tmp_path / "empty", "moodle", tmp_path / "staging")


# -- out ------------------------------------------------------------------------------------------


def _result(score: float, status: str = "graded") -> GradeResult:
    checks = [
        CheckResult(
            name="t_a",
            title="Forward",
            score=score,
            max_score=6,
            status="passed" if score == 6 else "failed",
            output="",
        ),
        CheckResult(name="t_b", title="Backprop", score=1.5, max_score=4, status="failed", output="dW1 off"),
    ]
    return GradeResult.build(
        assignment="hlcv-ex2",
        assignment_version="1.0.0",
        grader_version="0.1.0",
        submission_sha256="cd" * 32,
        sandbox="bwrap",
        isolated=True,
        tests=checks,
        status=status,
        message="1 of 2 checks passed",
        started_at=datetime(2026, 11, 23, tzinfo=timezone.utc),
        duration_s=3.0,
    )


def _rows(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert b"\r\n" in raw and not raw.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))


def _graded_download(tmp_path: Path, lms: str, download: Path) -> tuple[Path, StudentsFile]:
    results = tmp_path / "results"
    results.mkdir()
    found = read_lms(download, lms, results / ".lms-staging")
    for index, entry in enumerate(found.entries):
        write_atomic(results / f"{entry.student_id}.json", _result(6 - index * 2).to_json())
    write_students(results, found)
    return results, read_students(results)


def test_canvas_gradebook_and_reupload_zip(tmp_path: Path) -> None:
    results, students = _graded_download(tmp_path, "canvas", canvas_download(tmp_path / "canvas"))
    files = write_report(results, results / "report")
    assert [p.name for p in files.lms] == ["grades.csv", "gradebook-canvas.csv", "feedback-canvas.zip"]
    rows = _rows(results / "report" / "gradebook-canvas.csv")
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "hlcv-ex2"]
    assert rows[1] == ["    Points Possible", "", "", "", "", "10"]
    assert rows[2:] == [
        ["lovelaceada", "1001", "", "", "", "7.5"],
        ["turingalan", "1002", "", "", "", "5.5"],
        ["hoppergrace", "1003", "", "", "", "3.5"],
    ]
    with zipfile.ZipFile(results / "report" / "feedback-canvas.zip") as archive:
        names = archive.namelist()
        assert names == [
            "lovelaceada_1001_5001_feedback.md",
            "turingalan_1002_5003_feedback.md",
            "hoppergrace_1003_5004_feedback.md",
        ]
        assert archive.read(names[0]).decode().startswith("# Feedback for 1001\n")
    assert students.lms == "canvas"


def test_moodle_worksheet_and_feedback_zip(tmp_path: Path) -> None:
    results, _ = _graded_download(tmp_path, "moodle", moodle_download(tmp_path / "moodle"))
    files = write_report(results, results / "report")
    assert [p.name for p in files.lms] == ["grades.csv", "grading-worksheet-moodle.csv", "feedback-moodle.zip"]
    rows = _rows(results / "report" / "grading-worksheet-moodle.csv")
    assert rows[0] == [
        "Identifier",
        "Full name",
        "Email address",
        "Status",
        "Grade",
        "Maximum Grade",
        "Grade can be changed",
        "Last modified (submission)",
        "Last modified (grade)",
        "Feedback comments",
    ]
    assert [row[:2] + row[4:7] for row in rows[1:]] == [
        ["Participant 2001", "Ada Lovelace", "7.50", "10.00", "Yes"],
        ["Participant 2002", "Alan Turing", "5.50", "10.00", "Yes"],
    ]
    with zipfile.ZipFile(results / "report" / "feedback-moodle.zip") as archive:
        assert archive.namelist() == [
            "Ada Lovelace_2001_assignsubmission_file_feedback.md",
            "Alan Turing_2002_assignsubmission_file_feedback.md",
        ]
    plain = _rows(results / "report" / "grades.csv")
    assert plain == [
        ["student_id", "name", "score", "max_score", "status"],
        ["2001", "Ada Lovelace", "7.5", "10", "graded"],
        ["2002", "Alan Turing", "5.5", "10", "graded"],
    ]


@pytest.mark.sandbox
@pytest.mark.slow
def test_grade_batch_reads_a_canvas_download_and_report_writes_its_gradebook(tmp_path: Path) -> None:
    require_bwrap()
    download = tmp_path / "canvas"
    download.mkdir()
    for name in ("two_layernet.py", "ex2_pytorch.py", "hyperparams.json"):
        (download / f"lovelaceada_1001_500{len(name) % 7}_{name}").write_bytes((TEMPLATE / name).read_bytes())
    (download / "turingalan_1002_5009_hw2.zip").write_bytes(b"this is not a zip\n")
    out = tmp_path / "results"
    done = run_grade("batch", str(download), "--out", str(out), "--jobs", "1", "--sandbox", "bwrap")
    assert done.returncode == 0, done.stderr
    assert "Read a canvas download: 2 students" in done.stderr
    assert sorted(p.name for p in out.glob("*.json")) == [
        "1001.json",
        "1002.json",
        "_batch-summary.json",
        "_fingerprints.json",
        "_students.json",
    ]
    report = run_grade("report", str(out))
    assert report.returncode == 0, report.stderr
    rows = _rows(out / "report" / "gradebook-canvas.csv")
    assert [row[1] for row in rows[2:]] == ["1001", "1002"]
    assert rows[3][5] == "0"  # the rejected archive scores 0
