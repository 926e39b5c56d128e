"""The grading secret: created once and kept, overridable, named in results only by its fingerprint,
and part of what makes a stored batch result current."""

from __future__ import annotations

import hashlib
import stat
import threading
from pathlib import Path

import pytest

from grader.batch.jobs import Job
from grader.batch.run import is_current
from grader.engine import secret
from grader.engine.grading import grade_rejected
from grader.engine.packs import load_assignment
from grader.sandbox import select_sandbox


@pytest.fixture
def secret_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config" / "secret"
    monkeypatch.delenv(secret.SECRET_ENV, raising=False)
    monkeypatch.setenv(secret.SECRET_FILE_ENV, str(path))
    return path


def test_the_first_grading_creates_a_private_secret_and_later_ones_keep_it(secret_file: Path) -> None:
    first = secret.load_secret()
    assert len(first) == 2 * secret.SECRET_BYTES and int(first, 16) >= 0
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert secret.load_secret() == first
    assert secret_file.read_text().strip() == first


def test_gradings_starting_together_agree_on_one_secret(secret_file: Path) -> None:
    seen: list[str] = []
    threads = [threading.Thread(target=lambda: seen.append(secret.load_secret())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(seen)) == 1 and [p.name for p in secret_file.parent.iterdir()] == ["secret"]


def test_the_environment_overrides_the_file(secret_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(secret.SECRET_ENV, "course-secret")
    assert secret.load_secret() == "course-secret"
    assert not secret_file.exists()


def test_an_unusable_secret_file_is_one_clear_line(secret_file: Path) -> None:
    secret_file.parent.mkdir()
    secret_file.write_text("\n")
    with pytest.raises(secret.SecretError, match="is empty"):
        secret.load_secret()


def test_seeds_and_fingerprints_are_one_way_digests() -> None:
    sha = "ab" * 32
    expected = int.from_bytes(hashlib.sha256(f"s3cret:{sha}".encode()).digest()[:4], "big")
    assert secret.derive_seed("s3cret", sha) == expected
    assert secret.derive_seed("s3cret", sha, "toy") != expected
    assert secret.derive_seed("other", sha) != expected
    fingerprint = secret.fingerprint("s3cret")
    assert len(fingerprint) == 16 and "s3cret" not in fingerprint
    assert fingerprint == hashlib.sha256(b"backprop-grader secret fingerprint\0s3cret").hexdigest()[:16]


def test_results_record_the_fingerprint_and_a_new_secret_regrades(secret_file: Path) -> None:
    sha = "cd" * 32
    options = {"sandbox": select_sandbox("process")}
    from grader.engine.grading import GradeOptions

    old = grade_rejected("not a zip", sha, GradeOptions(secret="s3cret-OLD-7781", slot=0, **options))
    assert old.secret_fingerprint == secret.fingerprint("s3cret-OLD-7781")
    assert "s3cret-OLD-7781" not in old.to_json().replace(old.secret_fingerprint, "")
    job = Job(student_id="s1", sha256=sha, rejection="not a zip")
    assignment = load_assignment("hlcv-ex2")
    assert is_current(old, job, assignment, secret.fingerprint("s3cret-OLD-7781")) is None
    assert is_current(old, job, assignment, secret.fingerprint("new")) == "the grading secret changed"
