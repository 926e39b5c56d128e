"""``.tar``, ``.tar.gz`` and ``.tgz`` submissions: taken in under the same rules and limits as zips.

Archives are written with the standard ``tarfile`` module (which writes links, fifos, absolute and
``..`` names when asked to); the expected digest is the documented tree digest computed by the helper in
``test_submission``, the same one a zip of the same files gets.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest
import test_submission as zips
from test_submission import GOOD_FILES, expected_digest, refuse, take

from grader.engine.intake import IntakeLimits

# The zip tests' fixtures: an empty destination folder, and the watch that nothing appears in /tmp.
dest = zips.dest
nothing_escapes = zips.nothing_escapes


def write_tar(path: Path, members: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w") -> Path:
    """A tar with regular files given as (name, content), or prepared TarInfo headers (no data)."""
    with tarfile.open(path, mode) as tf:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tf.addfile(member)
                continue
            name, data = member
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tf.addfile(info, io.BytesIO(data))
    return path


def special(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


@pytest.mark.parametrize("suffix, mode", [(".tar", "w"), (".tar.gz", "w:gz"), (".tgz", "w:gz"), (".TGZ", "w:gz")])
def test_tar_archives_are_accepted_like_zips(dest: Path, tmp_path: Path, suffix: str, mode: str) -> None:
    archive = write_tar(tmp_path / f"alice{suffix}", list(GOOD_FILES.items()), mode)
    sub = take(archive, dest)
    assert sub.files == tuple(sorted(GOOD_FILES))
    assert sub.sha256 == expected_digest(GOOD_FILES)
    for rel, data in GOOD_FILES.items():
        assert (sub.root / rel).read_bytes() == data
        assert (sub.root / rel).stat().st_mode & 0o777 == 0o644


def test_a_single_top_folder_is_stripped_and_junk_ignored(dest: Path, tmp_path: Path) -> None:
    members = [(f"hw2/{name}", data) for name, data in GOOD_FILES.items()]
    members += [("hw2/__pycache__/x.pyc", b"junk"), ("hw2/.DS_Store", b"junk")]
    sub = take(write_tar(tmp_path / "a.tar.gz", members, "w:gz"), dest)
    assert sub.files == tuple(sorted(GOOD_FILES))
    assert set(sub.ignored) == {"hw2/__pycache__/", "hw2/.DS_Store"}


@pytest.mark.parametrize(
    "member, reason",
    [
        (special("two_layernet.py", tarfile.SYMTYPE, "/etc/passwd"), "'two_layernet.py' is a symbolic link"),
        (special("two_layernet.py", tarfile.LNKTYPE, "ex2_pytorch.py"), "'two_layernet.py' is a hard link"),
        (special("pipe", tarfile.FIFOTYPE), "'pipe' is a fifo"),
        (special("dev", tarfile.CHRTYPE), "'dev' is a device"),
        (("../evil.py", b"x"), "'../evil.py' leaves the submission folder"),
        (("/tmp/abs-marker.py", b"x"), "'/tmp/abs-marker.py' is an absolute path"),
        (("a\\evil.py", b"x"), "has a backslash in its path"),
    ],
)
def test_unsafe_members_are_refused_and_nothing_is_written(dest: Path, tmp_path: Path, member, reason: str) -> None:
    archive = write_tar(tmp_path / "bad.tar", [*GOOD_FILES.items(), member])
    assert reason in refuse(archive, dest)


def test_names_differing_in_case_are_refused(dest: Path, tmp_path: Path) -> None:
    archive = write_tar(tmp_path / "dup.tar", [("two_layernet.py", b"a"), ("Two_LayerNet.py", b"b")])
    assert "differ only in case" in refuse(archive, dest)


def test_the_size_limits_apply(dest: Path, tmp_path: Path) -> None:
    archive = write_tar(tmp_path / "big.tgz", [("two_layernet.py", b"x" * 5000), ("ex2_pytorch.py", b"y")], "w:gz")
    assert "more than the limit of 4 KiB for one file" in refuse(
        archive, dest, limits=IntakeLimits(max_file_bytes=4096)
    )
    assert "files, more than the 1-file limit" in refuse(archive, dest, limits=IntakeLimits(max_files=1))


def test_a_gzip_bomb_stops_at_the_archive_limit(dest: Path, tmp_path: Path) -> None:
    # 8 MiB of zeros compress to a few KiB; with a 1 MiB archive limit the tar may not unpack past 1 MiB.
    archive = write_tar(tmp_path / "bomb.tar.gz", [("two_layernet.py", bytes(8 * 1024**2))], "w:gz")
    assert os.path.getsize(archive) < 64 * 1024
    message = refuse(archive, dest, limits=IntakeLimits(max_archive_bytes=1024**2))
    assert "unpacks to more than 1 MiB" in message


@pytest.mark.parametrize(
    "name, content, says",
    [
        ("junk.tar", b"this is not a tar file at all" * 40, "not a tar file: junk.tar"),
        ("junk.tgz", b"\x1f\x8b\x08\x00 damaged gzip", "not a gzip-compressed tar file"),
    ],
)
def test_damaged_archives_are_refused(dest: Path, tmp_path: Path, name: str, content: bytes, says: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    assert says in refuse(path, dest)


def test_a_truncated_member_is_refused(dest: Path, tmp_path: Path) -> None:
    archive = write_tar(tmp_path / "cut.tar", [("two_layernet.py", b"x" * 4000)])
    data = archive.read_bytes()
    archive.write_bytes(data[: 512 + 1000])  # header plus a quarter of the data
    message = refuse(archive, dest)
    assert "two_layernet.py" in message or "damaged" in message
