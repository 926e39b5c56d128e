"""Tests for grader.engine.intake: archive and folder intake (SECURITY-NOTES section F).

Everything here uses real files: archives written with ``zipfile`` or, for headers zipfile will not
write (lying sizes, NUL bytes in names, overlapping entries), with the small raw writer below. The shared
corpus in /work/shared/corpus/archives is an extra outside check, skipped when it is absent.
"""

from __future__ import annotations

import hashlib
import os
import socket
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader.engine.intake import ROOT_NAME, IntakeLimits, Submission, SubmissionError, take_in

CORPUS = Path(os.environ.get("GRADER_CORPUS", "/work/shared/corpus")) / "archives"
needs_corpus = pytest.mark.skipif(
    not CORPUS.is_dir(), reason=f"shared corpus not found at {CORPUS}; the generated cases below still run"
)

GOOD_FILES = {
    "two_layernet.py": b"import numpy as np\n\n\ndef forward(x):\n    return np.maximum(x, 0)\n",
    "ex2_pytorch.py": b"import torch\n\nEPOCHS = 3\n",
    "hyperparams.json": b'{"lr": 0.001, "hidden": 64}\n',
}


# --------------------------------------------------------------------------------------------------
# Helpers


def write_zip(path: Path, files: dict[str, bytes], **zip_kwargs: object) -> Path:
    """Write an ordinary zip with zipfile (deflate, regular 0o644 modes)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, **zip_kwargs) as zf:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return path


def deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


@dataclass
class Raw:
    """One entry for raw_zip: every header field can be set, including lies."""

    name: bytes
    data: bytes  # the plain content
    method: int = zipfile.ZIP_STORED
    payload: bytes | None = None  # what is stored; default: data, compressed with `method`
    file_size: int | None = None  # declared size; default: len(data)
    crc: int | None = None  # default: crc32(data)
    flags: int = 0
    mode: int = stat.S_IFREG | 0o644
    offset: int | None = None  # central directory's local-header offset; default: the real one


def raw_zip(path: Path, entries: list[Raw]) -> Path:
    """Write a zip byte by byte, putting the same (possibly lying) sizes in both headers."""
    body = b""
    central = b""
    for e in entries:
        payload = e.payload
        if payload is None:
            payload = deflate(e.data) if e.method == zipfile.ZIP_DEFLATED else e.data
        size = len(e.data) if e.file_size is None else e.file_size
        crc = zlib.crc32(e.data) if e.crc is None else e.crc
        offset = len(body) if e.offset is None else e.offset
        fields = (e.flags, e.method, 0, 0x21, crc, len(payload), size, len(e.name), 0)
        body += struct.pack("<4sH2H2H3L2H", b"PK\x03\x04", 20, *fields) + e.name + payload
        central += (
            struct.pack("<4s2H2H2H3L5H2L", b"PK\x01\x02", (3 << 8) | 20, 20, *fields, 0, 0, 0, e.mode << 16, offset)
            + e.name
        )
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(central), len(body), 0)
    path.write_bytes(body + central + end)
    return path


def make_folder(path: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return path


def expected_digest(files: dict[str, bytes]) -> str:
    """The documented tree digest, computed independently of the module."""
    outer = hashlib.sha256()
    for rel in sorted(files):
        outer.update(rel.encode() + b"\0" + hashlib.sha256(files[rel]).digest())
    return outer.hexdigest()


def tree_bytes(folder: Path) -> int:
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file())


def assert_one_line(exc: pytest.ExceptionInfo[SubmissionError]) -> str:
    message = str(exc.value)
    assert message and all(c.isprintable() for c in message), repr(message)
    return message


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    folder = tmp_path / "dest"
    folder.mkdir()
    return folder


# Names the tests put in archives as escape attempts, plus the corpus markers. None of them may ever appear
# in /tmp. Only these names are checked, so other processes writing to /tmp at the same time cannot make a
# test here fail.
ESCAPE_NAMES = {
    "evil.py",
    "escaped.py",
    "abs-marker.py",
    "slip-marker.py",
    "fsmonitor-marker",
    "zip-slip-marker.py",
    "zip-absolute-marker.py",
}


@pytest.fixture(autouse=True)
def nothing_escapes() -> Iterator[None]:
    """Snapshot the /tmp listing around every test: no escape name may be new afterwards."""
    before = set(os.listdir("/tmp"))
    yield
    escaped = (set(os.listdir("/tmp")) - before) & ESCAPE_NAMES
    assert not escaped, f"files appeared in /tmp: {sorted(escaped)}"


def take(source: Path, dest: Path, **kwargs: object) -> Submission:
    sub = take_in(source, dest, **kwargs)  # type: ignore[arg-type]
    assert sub.root.parent == dest
    return sub


def refuse(source: Path, dest: Path, **kwargs: object) -> str:
    """Take in a submission that must be refused; check dest is left empty and the message is one line."""
    with pytest.raises(SubmissionError) as exc:
        take_in(source, dest, **kwargs)  # type: ignore[arg-type]
    assert os.listdir(dest) == [], "a refused submission must leave dest empty"
    return assert_one_line(exc)


# --------------------------------------------------------------------------------------------------
# The shared corpus (an outside check)


@needs_corpus
@pytest.mark.parametrize(
    ("archive", "fragment"),
    [
        ("zip-slip.zip", "'../../../../tmp/zip-slip-marker.py' leaves the submission folder"),
        ("absolute-path.zip", "'/tmp/zip-absolute-marker.py' is an absolute path"),
        ("symlink-entry.zip", "refused: 'two_layernet.py' is a symbolic link"),
        ("zip-bomb.zip", "refused: archive declares 4 GiB, more than the limit of 50 MiB"),
        ("not-a-zip.zip", "not a zip file: not-a-zip.zip"),
        ("empty.zip", "the archive holds no files"),
    ],
)
def test_corpus_refused(archive: str, fragment: str, dest: Path, tmp_path: Path) -> None:
    assert fragment in refuse(CORPUS / archive, dest)
    assert sorted(os.listdir(tmp_path)) == ["dest"]
    assert not Path("/tmp/zip-absolute-marker.py").exists()


@needs_corpus
def test_corpus_zip_bomb_writes_nothing(dest: Path) -> None:
    # Refused from the central directory alone: nothing is decompressed, so nothing is written.
    refuse(CORPUS / "zip-bomb.zip", dest)
    assert tree_bytes(dest) == 0


@needs_corpus
@pytest.mark.parametrize(
    ("archive", "files"),
    [
        ("good.zip", ("ex2_pytorch.py", "hyperparams.json", "two_layernet.py")),
        ("syntax-error.zip", ("ex2_pytorch.py", "two_layernet.py")),  # parsing is the rubric's job
        ("missing-files.zip", ("README.txt",)),  # reporting the missing files is the rubric's job
    ],
)
def test_corpus_accepted(archive: str, files: tuple[str, ...], dest: Path) -> None:
    sub = take(CORPUS / archive, dest)
    assert sub.files == files
    assert sorted(str(p.relative_to(sub.root)) for p in sub.root.rglob("*")) == list(files)


@needs_corpus
def test_corpus_missing_files_with_allowlist_is_accepted_empty(dest: Path) -> None:
    sub = take(CORPUS / "missing-files.zip", dest, allowed=lambda p: p in GOOD_FILES)
    assert sub.files == ()
    assert sub.ignored == ("README.txt",)


@needs_corpus
def test_corpus_nested_folder_is_stripped_and_hashes_like_a_flat_folder(dest: Path, tmp_path: Path) -> None:
    archive = CORPUS / "good-nested-folder.zip"
    sub = take(archive, dest)
    assert sub.files == ("ex2_pytorch.py", "hyperparams.json", "two_layernet.py")
    assert "__MACOSX/" in sub.ignored
    with zipfile.ZipFile(archive) as zf:
        contents = {n.removeprefix("submission/"): zf.read(n) for n in zf.namelist() if n.startswith("submission/")}
    flat_dest = tmp_path / "flat-dest"
    flat_dest.mkdir()
    flat = take(make_folder(tmp_path / "flat", contents), flat_dest)
    assert flat.files == sub.files
    assert flat.sha256 == sub.sha256 == expected_digest(contents)


# --------------------------------------------------------------------------------------------------
# Generated equivalents of the corpus cases (these stand without the corpus)


def test_good_zip_is_accepted(dest: Path, tmp_path: Path) -> None:
    sub = take(write_zip(tmp_path / "good.zip", GOOD_FILES), dest)
    assert sub.root == dest / ROOT_NAME
    assert sub.files == tuple(sorted(GOOD_FILES))
    assert sub.ignored == ()
    assert sub.sha256 == expected_digest(GOOD_FILES)
    for rel, data in GOOD_FILES.items():
        assert (sub.root / rel).read_bytes() == data


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../evil.py", "leaves the submission folder"),
        ("a/../../evil.py", "leaves the submission folder"),
        ("../../../../../../../../tmp/slip-marker.py", "leaves the submission folder"),
        ("/tmp/abs-marker.py", "is an absolute path"),
        ("..\\..\\escaped.py", "has a backslash in its path"),
        ("sub\\evil.py", "has a backslash in its path"),
        ("C:/evil.py", "starts with a drive letter"),
        ("c:evil.py", "starts with a drive letter"),
        ("a\x1b[2Jb.py", "has a control character in its name"),
        ("two_layer\u200bnet.py", "has an invisible character in its name"),
        ("evil\u202eyp.txt", "has an invisible character in its name"),
        ("./evil.py", "has an empty or '.' part in its path"),
        ("a//evil.py", "has an empty or '.' part in its path"),
        ("x" * 300 + ".py", "has a name that is too long"),
    ],
)
def test_unsafe_names_are_refused(name: str, reason: str, dest: Path, tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "bad.zip", {**GOOD_FILES, name: b"print('escaped')\n"})
    message = refuse(archive, dest, limits=IntakeLimits())
    assert reason in message
    assert message.startswith("refused: entry ")
    assert "\x1b" not in message and "\u200b" not in message and "\u202e" not in message
    assert sorted(os.listdir(tmp_path)) == ["bad.zip", "dest"]
    assert not (tmp_path.parent / "evil.py").exists()


def test_nul_byte_in_name_is_refused(dest: Path, tmp_path: Path) -> None:
    # zipfile cuts names at NUL (this would look like "two_layernet.py"); the stored name is what counts.
    archive = raw_zip(tmp_path / "nul.zip", [Raw(b"two_layernet.py\x00.txt", b"x = 1\n")])
    assert "has a NUL byte in its name" in refuse(archive, dest)


def test_name_flagged_utf8_that_is_not_is_refused(dest: Path, tmp_path: Path) -> None:
    archive = raw_zip(tmp_path / "bad-utf8.zip", [Raw(b"caf\xe9.py", b"x = 1\n", flags=0x800)])
    assert "not valid UTF-8" in refuse(archive, dest)


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        (stat.S_IFLNK | 0o777, "'two_layernet.py' is a symbolic link"),
        (stat.S_IFIFO | 0o644, "'two_layernet.py' is a fifo, not a regular file"),
        (stat.S_IFCHR | 0o644, "'two_layernet.py' is a character device, not a regular file"),
        (stat.S_IFBLK | 0o644, "'two_layernet.py' is a block device, not a regular file"),
        (stat.S_IFSOCK | 0o644, "'two_layernet.py' is a socket, not a regular file"),
        (stat.S_IFDIR | 0o755, "'two_layernet.py' is a folder, not a regular file"),
    ],
)
def test_non_regular_entries_are_refused(mode: int, reason: str, dest: Path, tmp_path: Path) -> None:
    archive = raw_zip(
        tmp_path / "special.zip",
        [
            Raw(b"ex2_pytorch.py", GOOD_FILES["ex2_pytorch.py"]),
            Raw(b"two_layernet.py", b"/etc/passwd", mode=mode),
        ],
    )
    assert refuse(archive, dest) == f"refused: {reason}"


def test_symlink_directory_entry_is_refused(dest: Path, tmp_path: Path) -> None:
    archive = raw_zip(tmp_path / "link-dir.zip", [Raw(b"ref/", b"", mode=stat.S_IFLNK | 0o777), Raw(b"a.py", b"")])
    assert "'ref/' is a symbolic link" in refuse(archive, dest)


def test_encrypted_entry_is_refused(dest: Path, tmp_path: Path) -> None:
    archive = raw_zip(tmp_path / "enc.zip", [Raw(b"two_layernet.py", b"\x00" * 24, flags=0x1)])
    assert "refused: 'two_layernet.py' is encrypted" in refuse(archive, dest)


@pytest.mark.parametrize(("method", "label"), [(zipfile.ZIP_BZIP2, "bzip2"), (zipfile.ZIP_LZMA, "lzma")])
def test_unsupported_compression_is_refused(method: int, label: str, dest: Path, tmp_path: Path) -> None:
    archive = tmp_path / "bz.zip"
    with zipfile.ZipFile(archive, "w", method) as zf:
        zf.writestr("two_layernet.py", GOOD_FILES["two_layernet.py"])
    message = refuse(archive, dest)
    assert f"'two_layernet.py' uses compression method {method} ({label})" in message


def test_stored_entries_are_accepted(dest: Path, tmp_path: Path) -> None:
    archive = tmp_path / "stored.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for name, data in GOOD_FILES.items():
            zf.writestr(name, data)
    assert take(archive, dest).sha256 == expected_digest(GOOD_FILES)


@pytest.mark.parametrize(
    ("names", "shown"),
    [
        (["two_layernet.py", "Two_LayerNet.py"], "'Two_LayerNet.py' and 'two_layernet.py'"),
        (["caf\u00e9.py", "cafe\u0301.py"], "differ only in case or Unicode form"),  # NFC vs NFD
        (["STRASSE.py", "stra\u00dfe.py"], "differ only in case or Unicode form"),  # casefold, not lower
        (["sub/a.py", "SUB/A.py"], "differ only in case or Unicode form"),
    ],
)
def test_duplicates_after_nfc_and_casefold_are_refused(
    names: list[str], shown: str, dest: Path, tmp_path: Path
) -> None:
    archive = write_zip(tmp_path / "dup.zip", {n: b"x = 1\n" for n in names})
    message = refuse(archive, dest)
    assert shown in message


def test_exact_duplicate_names_are_refused(dest: Path, tmp_path: Path) -> None:
    archive = raw_zip(tmp_path / "dup.zip", [Raw(b"two_layernet.py", b"good"), Raw(b"two_layernet.py", b"evil")])
    assert "differ only in case or Unicode form" in refuse(archive, dest)


def test_file_that_is_also_a_folder_is_refused(dest: Path, tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "clash.zip", {"model": b"x", "model/a.py": b"y"})
    assert "'model' is both a file and a folder" in refuse(archive, dest)


def test_zip_bomb_is_refused_from_the_declared_size(dest: Path, tmp_path: Path) -> None:
    # 60 MiB of zeros deflate to ~60 KiB; the declared size alone is over the 50 MiB total.
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("two_layernet.py", "w") as member:
            block = b"\0" * (1024 * 1024)
            for _ in range(60):
                member.write(block)
    assert archive.stat().st_size < 200_000
    message = refuse(archive, dest)
    assert "refused: archive declares 60 MiB, more than the limit of 50 MiB" in message
    assert tree_bytes(dest) == 0


def test_many_declared_files_over_the_total_are_refused(dest: Path, tmp_path: Path) -> None:
    # Each file under the per-file cap, together over the total: the sum is what is checked.
    archive = raw_zip(
        tmp_path / "sum.zip",
        [Raw(f"f{i}.py".encode(), b"", payload=b"", file_size=15 * 1024**2) for i in range(4)],
    )
    assert "archive declares 60 MiB, more than the limit of 50 MiB" in refuse(archive, dest)


def test_per_file_limit(dest: Path, tmp_path: Path) -> None:
    limits = IntakeLimits(max_file_bytes=100)
    ok = write_zip(tmp_path / "ok.zip", {"a.py": b"x" * 100})
    assert take(ok, dest, limits=limits).files == ("a.py",)
    other = tmp_path / "dest2"
    other.mkdir()
    big = write_zip(tmp_path / "big.zip", {"a.py": b"x" * 101})
    assert "'a.py' declares 101 bytes, more than the limit of 100 bytes for one file" in refuse(
        big, other, limits=limits
    )


def test_file_count_ignores_directory_entries(dest: Path, tmp_path: Path) -> None:
    limits = IntakeLimits(max_files=3)
    entries = [Raw(f"d{i}/".encode(), b"", mode=stat.S_IFDIR | 0o755) for i in range(5)]
    entries += [Raw(f"f{i}.py".encode(), b"x") for i in range(3)]
    assert len(take(raw_zip(tmp_path / "ok.zip", entries), dest, limits=limits).files) == 3
    other = tmp_path / "dest2"
    other.mkdir()
    entries.append(Raw(b"f3.py", b"x"))
    message = refuse(raw_zip(tmp_path / "many.zip", entries), other, limits=limits)
    assert "refused: the archive holds 4 files, more than the 3-file limit" in message


def test_archive_size_limit(dest: Path, tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "good.zip", GOOD_FILES)
    size = archive.stat().st_size
    message = refuse(archive, dest, limits=IntakeLimits(max_archive_bytes=size - 1))
    assert message.startswith("refused: the archive is ") and "more than the limit of" in message


def test_depth_limit(dest: Path, tmp_path: Path) -> None:
    limits = IntakeLimits(max_depth=2)
    assert take(write_zip(tmp_path / "ok.zip", {"a/b/x.py": b""}), dest, limits=limits).files == ("b/x.py",)
    other = tmp_path / "dest2"
    other.mkdir()
    deep = write_zip(tmp_path / "deep.zip", {"a/b/c/x.py": b""})
    assert "'a/b/c/x.py' is nested more than 2 folders deep" in refuse(deep, other, limits=limits)


def test_huge_listing_is_refused_before_parsing(dest: Path, tmp_path: Path) -> None:
    # 10,001 empty directory entries: no files at all, but more entries than the intake will parse.
    entries = [Raw(f"d{i}/".encode(), b"", mode=stat.S_IFDIR | 0o755) for i in range(10_001)]
    message = refuse(raw_zip(tmp_path / "listing.zip", entries), dest)
    assert "refused: the archive lists 10001 entries, more than the 10000 allowed" in message


def test_listing_is_checked_before_zipfile_parses_it(dest: Path, tmp_path: Path) -> None:
    # An end record claiming 60,000 entries in a 1.2 MB central directory: refused from the end record
    # alone, before zipfile would read and parse that directory into objects.
    directory = b"\0" * 1_200_000
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 60_000, 60_000, len(directory), 0, 0)
    archive = tmp_path / "listing.zip"
    archive.write_bytes(directory + end)
    assert refuse(archive, dest) == "refused: the archive lists 60000 entries, more than the 10000 allowed"


def test_overlapping_entries_are_refused(dest: Path, tmp_path: Path) -> None:
    # Two central entries pointing at the same data: the shape of overlap bombs (CVE-2024-0450).
    archive = raw_zip(tmp_path / "overlap.zip", [Raw(b"a.py", b"x" * 100), Raw(b"b.py", b"x" * 100, offset=0)])
    assert "overlaps the data of" in refuse(archive, dest)


# --------------------------------------------------------------------------------------------------
# Lying headers: the byte counter stops at the declared size


def test_lying_header_never_writes_more_than_declared(dest: Path, tmp_path: Path) -> None:
    # 1 MiB of data behind a header that declares 1000 bytes (with the CRC of those 1000 bytes). Only the
    # declared bytes are ever written; the rest is never decompressed.
    data = b"A" * (1024 * 1024)
    archive = raw_zip(
        tmp_path / "liar.zip",
        [
            Raw(
                b"two_layernet.py",
                data,
                method=zipfile.ZIP_DEFLATED,
                file_size=1000,
                crc=zlib.crc32(data[:1000]),
            )
        ],
    )
    sub = take(archive, dest)
    assert (sub.root / "two_layernet.py").read_bytes() == data[:1000]
    assert tree_bytes(dest) == 1000


def test_lying_header_with_wrong_crc_is_refused(dest: Path, tmp_path: Path) -> None:
    data = b"A" * (1024 * 1024)
    archive = raw_zip(
        tmp_path / "liar.zip", [Raw(b"two_layernet.py", data, method=zipfile.ZIP_DEFLATED, file_size=1000)]
    )
    message = refuse(archive, dest)
    assert "'two_layernet.py' is damaged and cannot be unpacked" in message


def test_stored_entry_longer_than_declared_is_cut_at_the_declared_size(dest: Path, tmp_path: Path) -> None:
    data = b"B" * 5000
    archive = raw_zip(tmp_path / "liar.zip", [Raw(b"a.py", data, file_size=10, crc=zlib.crc32(data[:10]))])
    sub = take(archive, dest)
    assert (sub.root / "a.py").read_bytes() == data[:10]


def test_entry_shorter_than_declared_is_refused(dest: Path, tmp_path: Path) -> None:
    archive = raw_zip(tmp_path / "short.zip", [Raw(b"a.py", b"C" * 100, method=zipfile.ZIP_DEFLATED, file_size=5000)])
    message = refuse(archive, dest)
    assert "'a.py'" in message
    assert "refused: 'a.py' does not hold the 5000 bytes its header declares" in message


def test_failure_mid_extraction_removes_what_was_written(dest: Path, tmp_path: Path) -> None:
    # The first file is fine and gets written; the second is corrupt. dest must end up empty again.
    archive = raw_zip(
        tmp_path / "half.zip",
        [Raw(b"a.py", b"fine\n"), Raw(b"b.py", b"D" * 1000, method=zipfile.ZIP_DEFLATED, crc=0)],
    )
    assert "'b.py' is damaged" in refuse(archive, dest)


def test_corrupt_local_header_name_is_refused(dest: Path, tmp_path: Path) -> None:
    # The central directory says "a.py" but the local header says "../a.py": zipfile's check must hold.
    archive = raw_zip(tmp_path / "mismatch.zip", [Raw(b"a.py", b"x")])
    raw = bytearray(archive.read_bytes())
    raw[30:34] = b"/a.p"  # the local header's copy of the name
    archive.write_bytes(bytes(raw))
    assert "'a.py' is damaged" in refuse(archive, dest)


# --------------------------------------------------------------------------------------------------
# Broken input, junk, top folder, allowlist, nested archives


def test_not_a_zip(dest: Path, tmp_path: Path) -> None:
    fake = tmp_path / "submission.zip"
    fake.write_bytes(b"PK\x03\x04 this is not really a zip file" * 10)
    assert refuse(fake, dest) == "not a zip file: submission.zip"


@pytest.mark.parametrize("content", [b"", b"Rar!\x1a\x07\x01\x00 a rar header"])
def test_other_files_are_not_zips(content: bytes, dest: Path, tmp_path: Path) -> None:
    # .tar, .tar.gz and .tgz are archives too (tests/test_tar_intake.py); anything else must be a zip.
    other = tmp_path / "submission.rar"
    other.write_bytes(content)
    assert refuse(other, dest) == "not a zip file: submission.rar"


def test_empty_zip(dest: Path, tmp_path: Path) -> None:
    assert refuse(write_zip(tmp_path / "empty.zip", {}), dest) == "the archive holds no files"


def test_zip_of_only_junk_holds_no_files(dest: Path, tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "junk.zip", {"__MACOSX/._a.py": b"x", ".DS_Store": b"y"})
    assert refuse(archive, dest) == "the archive holds no files"


def test_missing_source(dest: Path, tmp_path: Path) -> None:
    assert refuse(tmp_path / "nothing.zip", dest) == "not a zip file or folder: nothing.zip"


def test_missing_files_are_accepted(dest: Path, tmp_path: Path) -> None:
    sub = take(write_zip(tmp_path / "missing.zip", {"README.txt": b"I ran out of time"}), dest)
    assert sub.files == ("README.txt",)


def test_syntax_error_is_accepted(dest: Path, tmp_path: Path) -> None:
    files = {"two_layernet.py": b"def forward(:\n", "ex2_pytorch.py": GOOD_FILES["ex2_pytorch.py"]}
    assert take(write_zip(tmp_path / "syntax.zip", files), dest).files == (
        "ex2_pytorch.py",
        "two_layernet.py",
    )


def test_nested_folder_is_stripped_and_hashes_like_flat(dest: Path, tmp_path: Path) -> None:
    nested = {f"submission/{k}": v for k, v in GOOD_FILES.items()}
    nested["__MACOSX/submission/._two_layernet.py"] = b"\0\5\26\7"
    nested["submission/.DS_Store"] = b"junk"
    nested["submission/__pycache__/two_layernet.cpython-311.pyc"] = b"junk"
    sub = take(write_zip(tmp_path / "nested.zip", nested), dest)
    assert sub.files == tuple(sorted(GOOD_FILES))
    assert sub.ignored == ("__MACOSX/", "submission/.DS_Store", "submission/__pycache__/")
    assert sorted(os.listdir(sub.root)) == sorted(GOOD_FILES)
    flat_dest = tmp_path / "flat-dest"
    flat_dest.mkdir()
    assert take(make_folder(tmp_path / "flat", GOOD_FILES), flat_dest).sha256 == sub.sha256


def test_two_top_folders_are_not_stripped(dest: Path, tmp_path: Path) -> None:
    sub = take(write_zip(tmp_path / "two.zip", {"a/x.py": b"1", "b/y.py": b"2"}), dest)
    assert sub.files == ("a/x.py", "b/y.py")


def test_file_next_to_the_folder_prevents_stripping(dest: Path, tmp_path: Path) -> None:
    sub = take(write_zip(tmp_path / "mixed.zip", {"src/x.py": b"1", "notes.txt": b"2"}), dest)
    assert sub.files == ("notes.txt", "src/x.py")


def test_pyc_and_appledouble_files_are_ignored(dest: Path, tmp_path: Path) -> None:
    files = {**GOOD_FILES, "old.pyc": b"\0", "._two_layernet.py": b"\0", "Thumbs.db": b"\0"}
    sub = take(write_zip(tmp_path / "junk.zip", files), dest)
    assert sub.files == tuple(sorted(GOOD_FILES))
    assert sub.ignored == ("._two_layernet.py", "Thumbs.db", "old.pyc")


def test_git_folder_inside_a_zip_is_ignored(dest: Path, tmp_path: Path) -> None:
    files = {
        **GOOD_FILES,
        ".git/config": b"[core]\n\tfsmonitor = touch /tmp/fsmonitor-marker\n",
        ".git/HEAD": b"x",
    }
    sub = take(write_zip(tmp_path / "repo.zip", files), dest)
    assert sub.files == tuple(sorted(GOOD_FILES))
    assert sub.ignored == (".git/",)


def test_allowlist_drops_student_test_files(dest: Path, tmp_path: Path) -> None:
    files = {
        **{f"hw/{k}": v for k, v in GOOD_FILES.items()},
        "hw/conftest.py": b"import pytest\n# would rewrite test outcomes\n",
        "hw/pytest.ini": b"[pytest]\naddopts = -p no:cacheprovider\n",
    }
    seen: list[str] = []

    def allowed(rel: str) -> bool:
        seen.append(rel)
        return rel in GOOD_FILES

    sub = take(write_zip(tmp_path / "sub.zip", files), dest, allowed=allowed)
    assert sorted(seen) == sorted([*GOOD_FILES, "conftest.py", "pytest.ini"])  # called after the strip
    assert sub.files == tuple(sorted(GOOD_FILES))
    assert sub.ignored == ("hw/conftest.py", "hw/pytest.ini")
    assert not (sub.root / "conftest.py").exists() and not (sub.root / "pytest.ini").exists()
    assert sub.sha256 == expected_digest(GOOD_FILES)


def test_allowlist_limits_apply_to_taken_files_only(dest: Path, tmp_path: Path) -> None:
    # A 30 MiB (declared) extra file the allowlist drops is never read, so it does not count.
    entries = [
        Raw(b"two_layernet.py", b"x = 1\n"),
        Raw(b"data.bin", b"", payload=b"", file_size=30 * 1024**2),
    ]
    sub = take(raw_zip(tmp_path / "extra.zip", entries), dest, allowed=lambda p: p.endswith(".py"))
    assert sub.files == ("two_layernet.py",)
    assert sub.ignored == ("data.bin",)


def test_nested_archive_is_just_a_file(dest: Path, tmp_path: Path) -> None:
    inner = write_zip(tmp_path / "inner.zip", {"../evil.py": b"x"}).read_bytes()
    sub = take(write_zip(tmp_path / "outer.zip", {**GOOD_FILES, "inner.zip": inner}), dest)
    assert "inner.zip" in sub.files
    assert (sub.root / "inner.zip").read_bytes() == inner


def test_unicode_names_are_written_in_nfc(dest: Path, tmp_path: Path) -> None:
    sub = take(write_zip(tmp_path / "mac.zip", {"cafe\u0301.py": b"x"}), dest)
    assert sub.files == ("caf\u00e9.py",)
    assert (sub.root / "caf\u00e9.py").read_bytes() == b"x"


# --------------------------------------------------------------------------------------------------
# The digest


def test_digest_ignores_order_timestamps_and_compression(dest: Path, tmp_path: Path) -> None:
    first = tmp_path / "first.zip"
    with zipfile.ZipFile(first, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(GOOD_FILES):
            zf.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), GOOD_FILES[name])
    second = tmp_path / "second.zip"
    with zipfile.ZipFile(second, "w", zipfile.ZIP_STORED) as zf:
        for name in sorted(GOOD_FILES, reverse=True):
            info = zipfile.ZipInfo(name, date_time=(2031, 12, 31, 23, 59, 58))
            info.external_attr = (stat.S_IFREG | 0o755) << 16
            info.comment = b"different metadata"
            zf.writestr(info, GOOD_FILES[name])
    other = tmp_path / "dest2"
    other.mkdir()
    assert take(first, dest).sha256 == take(second, other).sha256 == expected_digest(GOOD_FILES)


def test_digest_changes_with_content_and_names(tmp_path: Path) -> None:
    digests = set()
    for i, files in enumerate(
        [GOOD_FILES, {**GOOD_FILES, "two_layernet.py": b"changed"}, {"a": b"bc"}, {"ab": b"c"}, {"a/b": b"c"}]
    ):
        folder_dest = tmp_path / f"dest{i}"
        folder_dest.mkdir()
        digests.add(take(make_folder(tmp_path / f"src{i}", files), folder_dest).sha256)
    assert len(digests) == 5


# --------------------------------------------------------------------------------------------------
# Modes and where things are written


def test_modes_are_fixed_whatever_the_archive_and_umask_say(dest: Path, tmp_path: Path) -> None:
    archive = raw_zip(
        tmp_path / "modes.zip",
        [
            Raw(b"pkg/", b"", mode=stat.S_IFDIR | 0o700),
            Raw(b"pkg/run.sh", b"#!/bin/sh\n", mode=stat.S_IFREG | stat.S_ISUID | stat.S_ISGID | 0o777),
            Raw(b"pkg/deep/a.py", b"x", mode=stat.S_IFREG | 0o600),
            Raw(b"b.py", b"y", mode=0o755),  # permission bits without a type, as some archivers write
        ],
    )
    old = os.umask(0o077)
    try:
        sub = take(archive, dest)
    finally:
        os.umask(old)
    assert stat.S_IMODE(sub.root.stat().st_mode) == 0o755
    for path in sub.root.rglob("*"):
        mode = path.lstat().st_mode
        if stat.S_ISDIR(mode):
            assert stat.S_IMODE(mode) == 0o755, path
        else:
            assert stat.S_ISREG(mode) and stat.S_IMODE(mode) == 0o644, path
    assert sub.files == ("b.py", "pkg/deep/a.py", "pkg/run.sh")


def test_dest_must_be_an_empty_folder(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "good.zip", GOOD_FILES)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "other").write_text("x")
    with pytest.raises(ValueError, match="empty folder"):
        take_in(archive, busy)
    with pytest.raises(ValueError, match="empty folder"):
        take_in(archive, tmp_path / "absent")


def test_refusals_write_nothing_anywhere(dest: Path, tmp_path: Path) -> None:
    # Every refused case in one place: after all of them tmp_path holds only the archives and dest.
    before = set(os.listdir("/tmp"))
    archives: list[Path] = [
        write_zip(tmp_path / "slip.zip", {**GOOD_FILES, "../../../../../../../../tmp/slip-marker.py": b"x"}),
        write_zip(tmp_path / "abs.zip", {**GOOD_FILES, "/tmp/abs-marker.py": b"x"}),
        raw_zip(tmp_path / "link.zip", [Raw(b"evil.py", b"/tmp/evil.py", mode=stat.S_IFLNK | 0o777)]),
        raw_zip(tmp_path / "half.zip", [Raw(b"escaped.py", b"ok"), Raw(b"../evil.py", b"x")]),
    ]
    for archive in archives:
        refuse(archive, dest)
    assert sorted(os.listdir(tmp_path)) == sorted([a.name for a in archives] + ["dest"])
    assert not (set(os.listdir("/tmp")) - before) & ESCAPE_NAMES
    assert not Path("/tmp/slip-marker.py").exists() and not Path("/tmp/abs-marker.py").exists()


# --------------------------------------------------------------------------------------------------
# Folders and git checkouts


def test_folder_is_copied(dest: Path, tmp_path: Path) -> None:
    source = make_folder(tmp_path / "src", {**GOOD_FILES, "utils/helpers.py": b"def f(): pass\n"})
    (source / "two_layernet.py").chmod(0o4755)
    sub = take(source, dest)
    assert sub.files == tuple(sorted([*GOOD_FILES, "utils/helpers.py"]))
    assert stat.S_IMODE((sub.root / "two_layernet.py").stat().st_mode) == 0o644
    assert stat.S_IMODE((sub.root / "utils").stat().st_mode) == 0o755
    zip_dest = tmp_path / "zip-dest"
    zip_dest.mkdir()
    files = {**GOOD_FILES, "utils/helpers.py": b"def f(): pass\n"}
    assert take(write_zip(tmp_path / "same.zip", files), zip_dest).sha256 == sub.sha256


def test_folder_with_symlink_to_a_file_is_refused(dest: Path, tmp_path: Path) -> None:
    source = make_folder(tmp_path / "src", {"ex2_pytorch.py": b"x"})
    (source / "two_layernet.py").symlink_to("/etc/passwd")
    assert refuse(source, dest) == "refused: 'two_layernet.py' is a symbolic link"


def test_folder_with_symlink_to_a_folder_is_refused(dest: Path, tmp_path: Path) -> None:
    secret = make_folder(tmp_path / "reference", {"solution.py": b"SECRET"})
    source = make_folder(tmp_path / "src", GOOD_FILES)
    (source / "lib").mkdir()
    (source / "lib" / "reference").symlink_to(secret)
    assert refuse(source, dest) == "refused: 'lib/reference' is a symbolic link"


def test_folder_with_dangling_symlink_is_refused(dest: Path, tmp_path: Path) -> None:
    source = make_folder(tmp_path / "src", GOOD_FILES)
    (source / "results.json").symlink_to(tmp_path / "nowhere" / "results.json")
    assert "'results.json' is a symbolic link" in refuse(source, dest)
    assert not (tmp_path / "nowhere").exists()


def test_folder_with_fifo_is_refused(dest: Path, tmp_path: Path) -> None:
    source = make_folder(tmp_path / "src", GOOD_FILES)
    os.mkfifo(source / "pipe")
    assert refuse(source, dest) == "refused: 'pipe' is a fifo, not a regular file"


def test_folder_with_socket_is_refused(dest: Path, tmp_path: Path) -> None:
    source = make_folder(tmp_path / "src", GOOD_FILES)
    path = source / "s"
    if len(str(path)) > 100:
        pytest.skip("tmp path too long for an AF_UNIX socket name")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        assert refuse(source, dest) == "refused: 's' is a socket, not a regular file"


def test_git_checkout_skips_git_without_running_it(dest: Path, tmp_path: Path) -> None:
    source = make_folder(tmp_path / "repo", GOOD_FILES)
    marker = tmp_path / "fsmonitor-marker"
    make_folder(
        source / ".git",
        {
            "config": f"[core]\n\tfsmonitor = touch {marker}\n".encode(),
            "hooks/post-checkout": f"#!/bin/sh\ntouch {marker}\n".encode(),
            "HEAD": b"ref: refs/heads/main\n",
        },
    )
    # Links inside .git are not even looked at: .git is skipped unread.
    (source / ".git" / "link").symlink_to("/etc/passwd")
    make_folder(source, {"__pycache__/two_layernet.cpython-311.pyc": b"\0", ".DS_Store": b"\0"})
    sub = take(source, dest)
    assert sub.files == tuple(sorted(GOOD_FILES))
    assert sub.ignored == (".DS_Store", ".git/", "__pycache__/")
    assert not (sub.root / ".git").exists()
    assert not marker.exists()


def test_folder_with_single_top_folder_is_stripped(dest: Path, tmp_path: Path) -> None:
    source = make_folder(tmp_path / "src", {f"my-work/{k}": v for k, v in GOOD_FILES.items()})
    sub = take(source, dest)
    assert sub.files == tuple(sorted(GOOD_FILES))
    assert sub.sha256 == expected_digest(GOOD_FILES)


# The allowlist is called after the walk and before the copy, which lets these tests change the folder in
# exactly the window a racing student process would use.


def _racing(action: Callable[[], None]) -> Callable[[str], bool]:
    def allowed(rel: str) -> bool:
        if rel == "a.py":
            action()
        return True

    return allowed


def test_folder_file_growing_after_the_walk_is_cut_and_refused(dest: Path, tmp_path: Path) -> None:
    source = make_folder(tmp_path / "src", {"a.py": b"x" * 10})

    def grow() -> None:
        with open(source / "a.py", "ab") as fh:
            fh.write(b"y" * 1_000_000)

    assert refuse(source, dest, allowed=_racing(grow)) == "refused: 'a.py' changed size while the submission was copied"


def test_folder_file_shrinking_after_the_walk_is_refused(dest: Path, tmp_path: Path) -> None:
    source = make_folder(tmp_path / "src", {"a.py": b"x" * 10})
    message = refuse(source, dest, allowed=_racing(lambda: (source / "a.py").write_bytes(b"x")))
    assert message == "refused: 'a.py' changed size while the submission was copied"


def test_folder_file_replaced_after_the_walk_is_refused(dest: Path, tmp_path: Path) -> None:
    source = make_folder(tmp_path / "src", {"a.py": b"x" * 10})

    def replace() -> None:
        (source / "new").write_bytes(b"z" * 10)
        os.replace(source / "new", source / "a.py")

    message = refuse(source, dest, allowed=_racing(replace))
    assert message == "refused: 'a.py' changed while the submission was copied"


def test_folder_file_swapped_for_a_link_after_the_walk_is_refused(dest: Path, tmp_path: Path) -> None:
    source = make_folder(tmp_path / "src", {"a.py": b"x" * 10})

    def swap() -> None:
        (source / "a.py").unlink()
        (source / "a.py").symlink_to("/etc/passwd")

    message = refuse(source, dest, allowed=_racing(swap))
    assert message.startswith("refused: cannot read 'a.py'")


def test_folder_swapped_for_a_link_after_the_walk_is_refused(dest: Path, tmp_path: Path) -> None:
    secret = make_folder(tmp_path / "reference", {"a.py": b"SECRET!!!!"})
    source = make_folder(tmp_path / "src", {"sub/a.py": b"x" * 10, "b.py": b"y"})

    def swap() -> None:
        (source / "sub" / "a.py").unlink()
        (source / "sub").rmdir()
        (source / "sub").symlink_to(secret)

    def allowed(rel: str) -> bool:
        if rel == "sub/a.py":
            swap()
        return True

    message = refuse(source, dest, allowed=allowed)
    assert message.startswith("refused: cannot open the folder 'sub'")


def test_empty_folder(dest: Path, tmp_path: Path) -> None:
    source = tmp_path / "src"
    (source / ".git").mkdir(parents=True)
    assert refuse(source, dest) == "the folder holds no files"


def test_folder_limits(tmp_path: Path) -> None:
    source = make_folder(tmp_path / "src", {"a.py": b"x" * 10, "b.py": b"y" * 10, "d1/d2/d3/c.py": b""})
    cases: list[tuple[IntakeLimits, str]] = [
        (IntakeLimits(max_files=2), "refused: the folder holds 3 files, more than the 2-file limit"),
        (IntakeLimits(max_total_bytes=19), "refused: the folder holds 20 bytes, more than the limit of 19 bytes"),
        (IntakeLimits(max_file_bytes=9), "'a.py' holds 10 bytes, more than the limit of 9 bytes for one file"),
        (IntakeLimits(max_depth=2), "'d1/d2/d3' is nested more than 2 folders deep"),
    ]
    for i, (limits, fragment) in enumerate(cases):
        folder_dest = tmp_path / f"dest{i}"
        folder_dest.mkdir()
        assert fragment in refuse(source, folder_dest, limits=limits)


def test_folder_names_follow_the_zip_rules(dest: Path, tmp_path: Path) -> None:
    source = make_folder(tmp_path / "src", {**GOOD_FILES, "a\\b.py": b"x"})
    assert "'a\\\\b.py' has a backslash in its path" in refuse(source, dest)
    other = tmp_path / "dest2"
    other.mkdir()
    source2 = make_folder(tmp_path / "src2", {"Model.py": b"1", "model.py": b"2"})
    assert "differ only in case or Unicode form" in refuse(source2, other)


def test_folder_name_that_is_not_utf8_is_refused(dest: Path, tmp_path: Path) -> None:
    source = make_folder(tmp_path / "src", GOOD_FILES)
    try:
        (source / os.fsdecode(b"caf\xe9.py")).write_bytes(b"x")
    except OSError:
        pytest.skip("this file system refuses names that are not UTF-8")
    assert "not valid UTF-8" in refuse(source, dest)


def test_the_same_source_can_be_taken_in_twice(tmp_path: Path) -> None:
    # Intake never changes its source: a second run over it gives the same result.
    archive = write_zip(tmp_path / "good.zip", GOOD_FILES)
    results: list[Submission] = []
    for i in range(2):
        folder_dest = tmp_path / f"dest{i}"
        folder_dest.mkdir()
        results.append(take(archive, folder_dest))
    assert results[0].sha256 == results[1].sha256
    assert results[0].files == results[1].files


@pytest.mark.parametrize("kwargs", [{"max_files": 0}, {"max_total_bytes": -1}, {"max_depth": -1}])
def test_nonsense_limits_are_a_configuration_error(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        IntakeLimits(**kwargs)
