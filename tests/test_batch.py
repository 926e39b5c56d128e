"""``grade batch`` for real: real submissions, a real bwrap sandbox, the real command in a subprocess.

Grading costs seconds of CPU per submission, so each test grades few of them: the handout (every
function raises NotImplementedError), files that are not zips (rejected at intake), and, when the
shared corpus is present, a buggy and a hostile case.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from classroom import (
    add_not_a_zip,
    add_template,
    alive,
    descendants,
    grade_command,
    grade_env,
    require_bwrap,
    require_corpus,
    run_grade,
)

from grader.batch.run import SUMMARY_NAME, BatchSummary
from grader.batch.slots import LOCK_DIR_ENV
from grader.results import GradeResult, load_result

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]


@pytest.fixture(autouse=True)
def _sandbox() -> None:
    require_bwrap()


def _summary(out: Path) -> BatchSummary:
    return BatchSummary.model_validate_json((out / SUMMARY_NAME).read_text())


def _result_files(out: Path) -> dict[str, Path]:
    # The batch's own files (summary, code fingerprints) start with "_", which no student id can.
    return {p.stem: p for p in out.glob("*.json") if not p.name.startswith("_")}


def _identity(path: Path) -> tuple[int, int, bytes]:
    """What changes if a file is rewritten, even with the same content: inode and mtime."""
    info = path.stat()
    return info.st_ino, info.st_mtime_ns, path.read_bytes()


def _outcomes(result: GradeResult) -> list[tuple[str, str, float, str, str | None]]:
    """Everything about a grade that must not depend on where or when it was computed."""
    return [(t.name, t.status, t.score, t.output, t.diagnosis) for t in result.tests]


def test_serial_batch_grades_a_class_and_a_rerun_grades_only_what_changed(tmp_path: Path) -> None:
    klass = tmp_path / "class"
    add_template(klass, "alice")
    add_not_a_zip(klass, "bob")
    add_template(tmp_path / "elsewhere", "carol-work")
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,path\ncarol,elsewhere/carol-work\ndave,elsewhere/never-submitted.zip\n")
    out = tmp_path / "results"
    args = ("batch", str(klass), str(roster), "--out", str(out), "--jobs", "1", "--sandbox", "bwrap")

    first = run_grade(*args)
    assert first.returncode == 0, first.stderr
    files = _result_files(out)
    assert sorted(files) == ["alice", "bob", "carol", "dave"]
    results = {name: load_result(path) for name, path in files.items()}
    assert results["bob"].status == "rejected" and "not a zip file" in results["bob"].message
    assert results["dave"].status == "rejected"  # a missing submission is graded as such, not a crash
    assert results["alice"].status == results["carol"].status == "graded"
    # Same handout, same content hash and the same grade, whichever input named it.
    assert results["alice"].submission_sha256 == results["carol"].submission_sha256
    assert _outcomes(results["alice"]) == _outcomes(results["carol"])
    summary = _summary(out)
    assert (summary.total, summary.graded, summary.skipped, summary.failed) == (4, 4, 0, 0)
    # Not a terminal: one plain progress line per submission, for CI logs.
    progress = [line for line in first.stderr.splitlines() if line.startswith("[")]
    assert [line.split("]")[0] for line in progress] == ["[1/4", "[2/4", "[3/4", "[4/4"]
    assert "\x1b" not in first.stderr
    assert "4 submissions: 4 graded (2 rejected), 0 failed to grade, 0 skipped" in first.stdout

    before = {name: _identity(path) for name, path in files.items()}
    second = run_grade(*args)
    assert second.returncode == 0, second.stderr
    summary = _summary(out)
    assert (summary.graded, summary.skipped, summary.failed) == (0, 4, 0)
    assert {name: _identity(path) for name, path in _result_files(out).items()} == before

    with open(klass / "alice" / "two_layernet.py", "a", encoding="utf-8") as handle:
        handle.write("\n# a late change\n")
    third = run_grade(*args)
    assert third.returncode == 0, third.stderr
    summary = _summary(out)
    assert [(i.student_id, i.outcome, i.reason) for i in summary.by_outcome("graded")] == [
        ("alice", "graded", "the submission changed")
    ]
    after = {name: _identity(path) for name, path in _result_files(out).items()}
    assert after["alice"] != before["alice"]
    assert {k: v for k, v in after.items() if k != "alice"} == {k: v for k, v in before.items() if k != "alice"}
    assert load_result(out / "alice.json").submission_sha256 != results["alice"].submission_sha256

    # A submission that disappeared (an unmounted share, a roster typo) never replaces a grade with 0.
    shutil.rmtree(tmp_path / "elsewhere" / "carol-work")
    fourth = run_grade(*args)
    assert fourth.returncode == 4, fourth.stderr
    assert "failed: carol: the submission is not there any more; the earlier result is kept" in fourth.stdout
    assert _identity(out / "carol.json") == before["carol"]
    assert _summary(out).skipped == 3  # dave's roster path never existed: his rejection simply stands


def test_submissions_that_cannot_be_graded_are_reported_and_retried_by_the_next_run(tmp_path: Path) -> None:
    klass = tmp_path / "class"
    add_template(klass, "alice")
    add_not_a_zip(klass, "bob")
    out = tmp_path / "results"
    # A slot folder anyone may write to is refused by every grading: a real fault of the host set-up.
    unsafe = tmp_path / "slots"
    unsafe.mkdir()
    unsafe.chmod(0o777)
    args = ("batch", str(klass), "--out", str(out), "--jobs", "1", "--sandbox", "bwrap")

    broken = run_grade(*args, **{LOCK_DIR_ENV: str(unsafe)})
    assert broken.returncode == 4, broken.stderr
    assert _result_files(out) == {}
    summary = _summary(out)
    assert (summary.graded, summary.failed) == (0, 2)
    assert all("NoFreeSlot" in i.reason and "not a private folder" in i.reason for i in summary.items)
    assert "failed: alice: NoFreeSlot" in broken.stdout and "failed: bob: NoFreeSlot" in broken.stdout

    fixed = run_grade(*args, **{LOCK_DIR_ENV: str(tmp_path / "private-slots")})
    assert fixed.returncode == 0, fixed.stderr
    assert sorted(_result_files(out)) == ["alice", "bob"]
    assert (_summary(out).graded, _summary(out).failed) == (2, 0)


def test_parallel_batch_gives_the_same_grades_as_a_serial_one(tmp_path: Path) -> None:
    corpus = require_corpus()
    klass = tmp_path / "class"
    add_template(klass, "handout")
    add_not_a_zip(klass, "notzip")
    # A buggy submission (its diagnosis must survive) and one that kills its parent process.
    for case in ("buggy/mlp-no-relu", "hostile/kill-parent"):
        source = corpus / case
        target = klass / source.name
        target.mkdir()
        for file in source.iterdir():
            if file.name != "expect.json":
                target.joinpath(file.name).write_bytes(file.read_bytes())
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    common = ("--sandbox", "bwrap")
    one = run_grade("batch", str(klass), "--out", str(serial), "--jobs", "1", *common)
    assert one.returncode == 0, one.stderr
    two = run_grade("batch", str(klass), "--out", str(parallel), "--jobs", "2", *common)
    assert two.returncode == 0, two.stderr
    assert "local Dask cluster of 2 workers" in two.stderr

    serial_results = {k: load_result(p) for k, p in _result_files(serial).items()}
    parallel_results = {k: load_result(p) for k, p in _result_files(parallel).items()}
    assert sorted(serial_results) == sorted(parallel_results) == ["handout", "kill-parent", "mlp-no-relu", "notzip"]
    for name, result in serial_results.items():
        other = parallel_results[name]
        assert (result.score, result.status, result.message, result.submission_sha256) == (
            other.score,
            other.status,
            other.message,
            other.submission_sha256,
        ), name
        assert _outcomes(result) == _outcomes(other), name
    assert serial_results["kill-parent"].score == 0  # the hostile case neither scored nor stopped the batch
    assert serial_results["mlp-no-relu"].score < serial_results["mlp-no-relu"].max_score
    # Two worker processes shared the work, each in its own sandbox slot while they overlapped.
    graded_by = [i.graded_by for i in _summary(parallel).items]
    assert len({g.split("/")[0] for g in graded_by}) == 2, graded_by


def test_a_killed_batch_resumes_without_losing_or_regrading_anything(tmp_path: Path) -> None:
    klass = tmp_path / "class"
    names = ["s1", "s2", "s3", "s4", "s5"]
    for name in names[:-1]:
        add_template(klass, name, marker=name)  # distinct content: distinct hashes
    add_not_a_zip(klass, names[-1])
    out = tmp_path / "results"
    args = ("batch", str(klass), "--out", str(out), "--jobs", "2", "--sandbox", "bwrap")

    batch = subprocess.Popen(
        grade_command(*args),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=grade_env(),
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        while not _result_files(out) and batch.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert batch.poll() is None, "the batch ended before it could be killed: " + batch.stderr.read().decode()
        assert _result_files(out), "no result appeared within 300 s"
        children = descendants(batch.pid)
        batch.send_signal(signal.SIGKILL)
        batch.wait(timeout=30)
    finally:
        if batch.poll() is None:
            batch.kill()
            batch.wait()
    # The cluster's worker processes and their sandboxes go with it instead of grading on unseen.
    deadline = time.monotonic() + 30
    while any(alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in children if alive(pid)]

    done_before = {name: _identity(path) for name, path in _result_files(out).items()}
    assert 1 <= len(done_before) < len(names)
    for path in _result_files(out).values():
        load_result(path)  # every file left behind is a complete, valid result

    rerun = run_grade(*args)
    assert rerun.returncode == 0, rerun.stderr
    files = _result_files(out)
    assert sorted(files) == names  # every submission has exactly one result
    assert not list(out.glob(".*.tmp"))  # no half-written file is left over either
    for name, identity in done_before.items():
        assert _identity(files[name]) == identity, f"{name} was graded again"
    summary = _summary(out)
    assert summary.skipped == len(done_before)
    assert summary.graded == len(names) - len(done_before)
    assert sorted(i.student_id for i in summary.by_outcome("skipped")) == sorted(done_before)
    assert summary.failed == 0
    assert json.loads((out / "s5.json").read_text())["status"] == "rejected"


def test_a_second_batch_into_the_same_folder_is_refused_while_one_runs(tmp_path: Path) -> None:
    klass = tmp_path / "class"
    add_not_a_zip(klass, "a1")
    out = tmp_path / "results"
    out.mkdir()
    # Hold the folder's lock the way a running batch does, from another process.
    holder = subprocess.Popen(
        [
            "python3",
            "-c",
            "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
            "fcntl.flock(fd, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(120)",
            str(out / ".batch.lock"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        busy = run_grade("batch", str(klass), "--out", str(out), "--jobs", "1", "--sandbox", "bwrap")
        assert busy.returncode == 3
        assert "another grade batch is writing to" in busy.stderr
        assert _result_files(out) == {}
    finally:
        holder.kill()
        holder.wait()


def test_ctrl_c_stops_the_batch_and_never_writes_a_half_graded_result(tmp_path: Path) -> None:
    klass = tmp_path / "class"
    names = ["c1", "c2", "c3"]
    for name in names:
        add_template(klass, name, marker=name)
    out = tmp_path / "results"
    args = ("batch", str(klass), "--out", str(out), "--jobs", "1", "--sandbox", "bwrap")
    batch = subprocess.Popen(
        grade_command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=grade_env(), start_new_session=True
    )
    try:
        deadline = time.monotonic() + 300
        while not _result_files(out) and batch.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert batch.poll() is None and _result_files(out), "no result appeared while the batch ran"
        time.sleep(1.5)  # into the rubric of the next submission, where pytest catches KeyboardInterrupt
        os.killpg(batch.pid, signal.SIGINT)  # what Ctrl-C on a terminal does: the whole foreground group
        stdout, stderr = batch.communicate(timeout=120)
    finally:
        if batch.poll() is None:
            batch.kill()
            batch.wait()
    assert batch.returncode == 130, stderr.decode()
    assert "Interrupted before the end" in stdout.decode()
    summary = _summary(out)
    assert summary.interrupted
    written = {name: load_result(path) for name, path in _result_files(out).items()}
    assert summary.graded == len(written) < len(names)
    complete = [t.name for t in written["c1"].tests]
    assert len(complete) >= 10
    for name, result in written.items():
        assert [t.name for t in result.tests] == complete, f"{name} was written with checks missing"

    rerun = run_grade(*args)
    assert rerun.returncode == 0, rerun.stderr
    assert sorted(_result_files(out)) == names
    assert _summary(out).skipped == len(written)
