"""Identical and near-identical submissions: fingerprints of real files, and the report's section.

Submissions are written here: a shared handout part (as every student starts from), then each
student's own code. Two students share their own code up to comments, layout and one changed line.
"""

from __future__ import annotations

import zipfile
from datetime import datetime, timezone
from pathlib import Path

from grader.batch.similarity import (
    NEAR_IDENTICAL,
    fingerprint,
    identical,
    near_identical,
    read_fingerprints,
    shingles,
    write_fingerprints,
)
from grader.report.collect import load_class
from grader.report.html import render_html
from grader.results import CheckResult, GradeResult, write_atomic

HANDOUT = "\n".join(
    f"def helper_{i}(x, y):\n    '''Given by the handout.'''\n    return x * {i} + y - {i}\n" for i in range(30)
)


def own_code(seed: int) -> str:
    """A student's own implementation: the same task, written differently for each seed."""
    lines = [f"def loss_{seed}(scores, y, reg):"]
    for step in range(25):
        lines.append(f"    v{step} = scores[{(step * seed) % 7}] * {step + seed} - y[{step % 3}] + reg * {seed}")
    lines.append("    return " + " + ".join(f"v{step}" for step in range(25)))
    return "\n".join(lines) + "\n"


def copied(code: str) -> str:
    """The same code with comments, blank lines, different spacing and one line changed."""
    out = []
    for number, line in enumerate(code.splitlines()):
        if number == 5:
            line = line.replace("* ", "*  ") + "  # my own idea"
        if number == 12:
            line = line.replace("reg *", "reg /")
        out += [line, ""]
    return "# copied? no, inspired\n" + "\n".join(out)


def write_submission(folder: Path, code: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "two_layernet.py").write_text(HANDOUT + code)
    (folder / "ex2_pytorch.py").write_text(HANDOUT)
    return folder


def test_comments_and_layout_do_not_change_the_fingerprint() -> None:
    code = own_code(3)
    reformatted = "# a comment\n\n" + code.replace("\n", "\n\n").replace(" = ", "=")
    assert shingles([code]) == shingles([reformatted])
    assert shingles([code]) != shingles([own_code(4)])


def test_a_zip_and_a_folder_of_the_same_files_have_the_same_fingerprint(tmp_path: Path) -> None:
    folder = write_submission(tmp_path / "ada", own_code(1))
    archive = tmp_path / "ada.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in folder.iterdir():
            zf.write(path, path.name)
    assert fingerprint(folder) == fingerprint(archive)
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    assert fingerprint(tmp_path / "bad.zip") is None


def test_near_identical_pairs_leave_out_the_handout(tmp_path: Path) -> None:
    subs = {
        "ada": write_submission(tmp_path / "ada", own_code(1)),
        "bob": write_submission(tmp_path / "bob", copied(own_code(1))),
        "cy": write_submission(tmp_path / "cy", own_code(2)),
        "dee": write_submission(tmp_path / "dee", own_code(3)),
        "eve": write_submission(tmp_path / "eve", own_code(5)),
    }
    write_fingerprints(tmp_path, subs.items())
    prints = read_fingerprints(tmp_path).students
    pairs = near_identical(prints)
    assert [(m.first, m.second) for m in pairs] == [("ada", "bob")]
    assert NEAR_IDENTICAL <= pairs[0].similarity < 1
    # The handout alone (everything the class shares) makes no pair.
    assert all(m.first != "cy" for m in pairs)


def test_identical_groups_by_content_hash() -> None:
    hashes = {"ada": "1", "bob": "2", "cy": "1", "dee": "1", "eve": "2", "fay": "3"}
    assert identical(hashes) == [["ada", "cy", "dee"], ["bob", "eve"]]


def _result(sha: str, status: str = "graded") -> GradeResult:
    check = CheckResult(
        name="t", title="T", score=0, max_score=1, status="error" if status == "rejected" else "failed", output=""
    )
    return GradeResult.build(
        assignment="hlcv-ex2",
        assignment_version="1.0.0",
        grader_version="0.1.0",
        submission_sha256=sha,
        sandbox="bwrap",
        isolated=True,
        tests=[check],
        status=status,
        message="x",
        started_at=datetime(2026, 11, 23, tzinfo=timezone.utc),
        duration_s=1.0,
    )


def test_the_report_lists_identical_and_near_identical_submissions(tmp_path: Path) -> None:
    subs = {
        "ada": write_submission(tmp_path / "subs" / "ada", own_code(1)),
        "bob": write_submission(tmp_path / "subs" / "bob", copied(own_code(1))),
        "cy": write_submission(tmp_path / "subs" / "cy", own_code(2)),
        "dee": write_submission(tmp_path / "subs" / "dee", own_code(2)),
        "eve": write_submission(tmp_path / "subs" / "eve", own_code(7)),
    }
    results = tmp_path / "results"
    results.mkdir()
    write_fingerprints(results, subs.items())
    prints = read_fingerprints(results).students
    for sid in subs:
        write_atomic(results / f"{sid}.json", _result(prints[sid].sha256).to_json())
    page = render_html(load_class(results))
    section = page[page.index("id='duplicates'") : page.index("id='problems'")]
    assert "<td>cy, dee</td>" in section  # the same files: identical
    assert "<td>ada</td><td>bob</td>" in section  # the copy with comments and one line changed
    assert "<td>eve</td>" not in section
