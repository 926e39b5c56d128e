"""What ``grade batch`` takes from its inputs: archives of every accepted kind, one student's folder,
``--only``, and a list of everything it does not grade, with the reason.

The roster tests read real folders; the command-line test grades real submissions (the handout, as a
folder and as a ``.tar.gz``) with bubblewrap, four gradings in all.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest
from classroom import SUBMISSION_FILES, TEMPLATE, add_template, require_bwrap, run_grade

from grader.batch.roster import RosterError, Skipped, collect, scan_folder, select
from grader.batch.run import SUMMARY_NAME, BatchSummary
from grader.results import load_result

REQUIRED = ("two_layernet.py", "ex2_pytorch.py")


def make_class(folder: Path) -> Path:
    """alice (a folder), bob.tar.gz, cy.tgz and dee.tar (archives of the handout), plus entries that are
    not submissions: a .rar, a loose file, a hidden file."""
    add_template(folder, "alice")
    for name, mode in (("bob.tar.gz", "w:gz"), ("cy.tgz", "w:gz"), ("dee.tar", "w")):
        with tarfile.open(folder / name, mode) as tf:
            for file in SUBMISSION_FILES:
                tf.add(TEMPLATE / file, arcname=f"hw2/{file}")
    (folder / "eve.rar").write_bytes(b"Rar!\x1a\x07\x00")
    (folder / "grading-notes.txt").write_text("remember the late days\n")
    (folder / ".DS_Store").write_bytes(b"\0")
    return folder


def test_a_class_folder_takes_every_archive_kind_and_lists_the_rest(tmp_path: Path) -> None:
    skipped: list[Skipped] = []
    entries = scan_folder(make_class(tmp_path / "class"), skipped)
    assert [(e.student_id, e.path.name) for e in entries] == [
        ("alice", "alice"),
        ("bob", "bob.tar.gz"),
        ("cy", "cy.tgz"),
        ("dee", "dee.tar"),
    ]
    reasons = {item.path.name: item.reason for item in skipped}
    assert sorted(reasons) == [".DS_Store", "eve.rar", "grading-notes.txt"]
    assert reasons[".DS_Store"].startswith("hidden")
    assert reasons["eve.rar"].startswith("a .rar archive, which the grader does not unpack")
    assert reasons["grading-notes.txt"].startswith("a loose file, not a submission")


def test_one_students_folder_is_a_class_of_one(tmp_path: Path) -> None:
    alice = add_template(tmp_path / "class", "alice")
    assert [(e.student_id, e.path) for e in collect([alice], required=REQUIRED)] == [("alice", alice)]
    # Without the assignment's files at its top, the same folder reads as a class of loose files.
    skipped: list[Skipped] = []
    assert collect([alice], skipped=skipped) == []
    assert {item.path.name for item in skipped} == set(SUBMISSION_FILES)


def test_only_selects_students_and_refuses_an_unknown_id(tmp_path: Path) -> None:
    entries = collect([make_class(tmp_path / "class")], required=REQUIRED)
    assert [e.student_id for e in select(entries, ["BOB", "dee"])] == ["bob", "dee"]
    with pytest.raises(RosterError, match=r"--only zed: no such student in the inputs \(ids: alice, bob, cy, dee\)"):
        select(entries, ["zed"])


def test_an_input_that_is_no_submission_names_what_is_accepted(tmp_path: Path) -> None:
    rar = tmp_path / "eve.rar"
    rar.write_bytes(b"Rar!")
    with pytest.raises(RosterError, match=r"not a class folder, a student's folder, a \.csv roster or a \.zip/"):
        collect([rar])


@pytest.mark.sandbox
@pytest.mark.slow
def test_batch_grades_archives_lists_what_it_skips_and_regrades_one_student(tmp_path: Path) -> None:
    require_bwrap()
    klass = tmp_path / "class"
    add_template(klass, "alice")
    with tarfile.open(klass / "bob.tar.gz", "w:gz") as tf:
        for file in SUBMISSION_FILES:
            tf.add(TEMPLATE / file, arcname=f"hw2/{file}")
    (klass / "eve.rar").write_bytes(b"Rar!\x1a\x07\x00")
    out = tmp_path / "results"
    common = ("--out", str(out), "--jobs", "1", "--sandbox", "bwrap")

    first = run_grade("batch", str(klass), *common)
    assert first.returncode == 0, first.stderr
    assert f"  {klass / 'eve.rar'}: a .rar archive, which the grader does not unpack" in first.stderr
    assert "1 entries of the inputs were not graded" in first.stdout
    alice, bob = load_result(out / "alice.json"), load_result(out / "bob.json")
    assert alice.status == bob.status == "graded"
    # The same handout as a folder and as a .tar.gz: the same content hash and the same grade.
    assert bob.submission_sha256 == alice.submission_sha256 and bob.score == alice.score
    assert not (out / "eve.json").exists()

    # One student's folder given alone is graded again, though nothing changed; bob is left alone.
    bob_before = (out / "bob.json").stat().st_mtime_ns
    second = run_grade("batch", str(klass / "alice"), *common)
    assert second.returncode == 0, second.stderr
    summary = BatchSummary.model_validate_json((out / SUMMARY_NAME).read_text())
    assert [(i.student_id, i.outcome) for i in summary.items] == [("alice", "graded")]
    assert (out / "bob.json").stat().st_mtime_ns == bob_before

    # --only picks one student of the class and grades them again.
    third = run_grade("batch", str(klass), *common, "--only", "bob")
    assert third.returncode == 0, third.stderr
    summary = BatchSummary.model_validate_json((out / SUMMARY_NAME).read_text())
    assert [(i.student_id, i.outcome) for i in summary.items] == [("bob", "graded")]
    assert (out / "bob.json").stat().st_mtime_ns != bob_before
