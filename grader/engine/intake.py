"""Take a student's submission in: a ``.zip`` file, a folder or a git checkout, copied to a fresh folder
(``.tar``, ``.tar.gz`` and ``.tgz`` under the same rules: :mod:`grader.engine.tar_intake`).

This runs in the trusted grader process, before any student code runs, so it treats the submission as
hostile data (SECURITY-NOTES section F and 4.0):

* A zip's whole central directory is checked (names, entry types, flags, compression, sizes, counts,
  duplicates, overlapping data) before a single byte is written, so a refused archive leaves ``dest``
  as empty as it was given.
* Members are then streamed one by one through a byte counter that stops at the declared size, so a
  header that lies about the size cannot make us write more than the limits allow. ``extractall`` is
  never used: it would keep modes, follow the archive's idea of paths and write symlink targets as files.
* Every file is created by us with ``O_EXCL | O_NOFOLLOW`` under directory file descriptors we opened
  ourselves, with fixed modes (dirs 0o755, files 0o644) so the sandbox uid can read them and nothing
  from the archive (executable or setuid bits) survives.
* A folder is walked with ``scandir``/``lstat`` through directory file descriptors, never following a
  link; ``.git`` is skipped without being read, and ``git`` is never run (a hostile ``.git/config`` can
  run commands through ``core.fsmonitor``).

Python 3.11.7 (the version on the grading host) predates the zipfile fix for CVE-2024-0450 (overlapping
entries), so overlapping entries are refused here as well.

The caller gets a :class:`Submission`: where the files are, a content hash that does not depend on zip
metadata, the accepted paths and the entries skipped on purpose. Whether a required file is missing, or
whether the code parses, is the rubric's business, not this module's.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import stat
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

__all__ = ["IntakeLimits", "Submission", "SubmissionError", "take_in", "ROOT_NAME"]


@dataclass(frozen=True)
class IntakeLimits:
    """Size and shape limits for one submission; every one is checked before anything is written."""

    max_total_bytes: int = 50 * 1024**2  # sum of uncompressed sizes
    max_file_bytes: int = 20 * 1024**2  # one file
    max_files: int = 100
    max_archive_bytes: int = 100 * 1024**2  # the .zip file itself
    max_depth: int = 8

    def __post_init__(self) -> None:
        # A zero or negative limit is a configuration mistake; failing here beats refusing every student.
        for name in ("max_total_bytes", "max_file_bytes", "max_files", "max_archive_bytes"):
            if getattr(self, name) <= 0:
                raise ValueError(f"IntakeLimits.{name} must be positive")
        if self.max_depth < 0:
            raise ValueError("IntakeLimits.max_depth must not be negative")

    def with_overrides(self, settings: Iterable[str]) -> IntakeLimits:
        """These limits with ``NAME=VALUE`` settings applied, for example ``total=200MiB`` or ``files=500``.

        Names: ``archive``, ``total``, ``file`` (sizes; a number of bytes or with KiB/MiB/GiB) and
        ``files``, ``depth`` (counts). Raises ValueError with one line naming the bad setting.
        """
        values = {}
        for setting in settings:
            name, sep, text = setting.partition("=")
            field = _LIMIT_NAMES.get(name.strip())
            if not sep or field is None:
                names = ", ".join(_LIMIT_NAMES)
                raise ValueError(f"bad intake limit {setting!r}: use NAME=VALUE with NAME one of {names}")
            try:
                values[field] = _parse_size(text) if field.endswith("_bytes") else int(text)
            except ValueError:
                raise ValueError(f"bad intake limit {setting!r}: {text!r} is not a number") from None
        try:
            return dataclasses.replace(self, **values)
        except ValueError as exc:
            raise ValueError(f"bad intake limit: {exc}") from None


_LIMIT_NAMES = {
    "archive": "max_archive_bytes",
    "total": "max_total_bytes",
    "file": "max_file_bytes",
    "files": "max_files",
    "depth": "max_depth",
}


def _parse_size(text: str) -> int:
    """``"20MiB"`` -> 20971520; a plain number is bytes."""
    text = text.strip()
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * scale)
    return int(text)


def _size(n: int) -> str:
    """A byte count for people: ``4.0 GiB``, ``50 MiB``, ``512 bytes``."""
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= scale:
            value = n / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} bytes"


class SubmissionError(Exception):
    """A submission that cannot be taken in; str(e) is one clear line for the student."""

    def __init__(self, message: str) -> None:
        # Messages quote entry names from the archive. Names are shown with repr() already, but escape any
        # non-printable character again here so no message can ever span lines or carry terminal escapes.
        super().__init__("".join(c if c.isprintable() else repr(c)[1:-1] for c in message))


@dataclass(frozen=True)
class Submission:
    """A submission taken in: its files live below ``root``, readable by any uid."""

    root: Path  # the folder holding the accepted files (inside dest)
    sha256: str  # see _tree_digest: over the sorted (path, content) pairs, independent of zip metadata
    files: tuple[str, ...]  # accepted relative posix paths, sorted
    ignored: tuple[str, ...]  # entries skipped on purpose, as named in the source, for the log


#: Name of the folder created inside ``dest`` that holds the accepted files.
ROOT_NAME = "submission"

_DIR_MODE = 0o755
_FILE_MODE = 0o644
_CHUNK = 64 * 1024

# Junk that archivers, editors and Python leave behind: dropped and listed in ``ignored``. A folder of one
# of these names is skipped as a whole (``.git`` is never even read).
_IGNORED_DIRS = frozenset({"__MACOSX", ".git", "__pycache__", ".pytest_cache", ".ipynb_checkpoints"})
# ``.git`` can also be a file (a worktree or submodule pointer); ``._x`` are macOS AppleDouble files.
_IGNORED_FILES = frozenset({".DS_Store", "Thumbs.db", ".git"})
_IGNORED_SUFFIXES = (".pyc", ".pyo")
_APPLEDOUBLE_PREFIX = "._"

# Limits on names: longer components fail on every common file system, so refuse them up front instead of
# failing halfway through writing.
_MAX_PART_BYTES = 255
_MAX_PATH_CHARS = 1024

_ZIP_METHOD_NAMES = {1: "shrink", 6: "implode", 9: "deflate64", 12: "bzip2", 14: "lzma", 93: "zstd", 95: "xz"}
_ZIP_ENCRYPTED = 0x01
_ZIP_STRONG_ENCRYPTION = 0x40
_ZIP_LOCAL_HEADER_BYTES = 30

# Parsing a central directory costs memory per listed entry, ignored ones included, and zipfile parses
# it all at once. Bound it before zipfile sees it: a 100 MiB archive could otherwise list ~2 million
# entries. Directory entries and junk do not count towards max_files, hence the generous margin.
_MIN_LISTED_ENTRIES = 10_000
_LISTED_ENTRIES_PER_FILE = 20
_CENTRAL_BYTES_PER_ENTRY = 512


@dataclass(frozen=True)
class _Candidate:
    """A regular file the source offers, before the top-folder strip and the caller's allowlist."""

    name: str  # as named in the source, for messages and ``ignored``
    parts: tuple[str, ...]
    size: int  # declared (zip) or lstat (folder) size
    ref: zipfile.ZipInfo | tuple[int, int]  # the ZipInfo, or (st_dev, st_ino) seen by the walk


@dataclass(frozen=True)
class _Planned:
    """A file that will be written at ``rel`` below the root."""

    rel: str
    source: _Candidate


@dataclass(frozen=True)
class _Words:
    """How messages refer to the source, so zip and folder errors read naturally."""

    noun: str  # "archive" / "folder"
    total: str  # how the total size is introduced
    size_verb: str  # "declares" / "holds"


_ZIP_WORDS = _Words("archive", "archive declares", "declares")
_FOLDER_WORDS = _Words("folder", "the folder holds", "holds")


def take_in(
    source: Path,
    dest: Path,
    limits: IntakeLimits = IntakeLimits(),  # frozen, so one shared default is safe
    allowed: Callable[[str], bool] | None = None,
) -> Submission:
    """Validate ``source`` and copy its accepted files to ``dest / ROOT_NAME``.

    ``source`` is a ``.zip`` file, a ``.tar``/``.tar.gz``/``.tgz`` file, a folder, or a git checkout (a
    folder with ``.git/``). ``dest`` must be an existing, empty folder owned by the caller; nothing is
    written anywhere else (a ``.tar.gz`` is decompressed into an anonymous temporary file, gone when
    closed), and on any error the folder created inside it is removed again. ``allowed``, when given, is
    called with each file's final relative posix path (after the top-folder strip); files it rejects are
    not copied and are listed in ``ignored``.

    Raises :class:`SubmissionError` (one line naming the entry and the reason) for a submission that
    cannot be taken in, and ``ValueError`` if ``dest`` is not an empty folder (a caller bug).
    """
    source = Path(source)
    dest = Path(dest)
    _check_dest(dest)
    try:
        st = os.stat(source)  # the caller's own path: following a link here is fine
    except OSError:
        raise SubmissionError(f"not a zip file or folder: {source.name}") from None
    if stat.S_ISDIR(st.st_mode):
        return _take_in_folder(source, dest, limits, allowed)
    if stat.S_ISREG(st.st_mode):
        from grader.engine.tar_intake import is_tar_name, take_in_tar  # noqa: PLC0415 - it imports this module

        if is_tar_name(source.name):
            return take_in_tar(source, dest, limits, allowed)
        return _take_in_zip(source, dest, limits, allowed)
    raise SubmissionError(f"not a zip file or folder: {source.name}")


# --------------------------------------------------------------------------------------------------
# Zip files


def _take_in_zip(source: Path, dest: Path, limits: IntakeLimits, allowed: Callable[[str], bool] | None) -> Submission:
    """Check the archive's central directory completely, then stream the accepted members out."""
    with open(source, "rb") as fh:
        # fstat the open file, not the path, so the size we check is the size of what we read.
        size = os.fstat(fh.fileno()).st_size
        if size > limits.max_archive_bytes:
            raise SubmissionError(
                f"refused: the archive is {_size(size)}, more than the limit of {_size(limits.max_archive_bytes)}"
            )
        _check_listing_size(fh, size, limits)
        try:
            zf = zipfile.ZipFile(fh)
        except UnicodeDecodeError:
            # Raised for a name flagged as UTF-8 that is not: there is no honest way to name that file.
            raise SubmissionError("refused: the archive has a file name that is not valid UTF-8") from None
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError, struct.error):
            raise SubmissionError(f"not a zip file: {source.name}") from None
        except NotImplementedError as exc:  # e.g. a zip version newer than zipfile understands
            raise SubmissionError(f"refused: the archive uses an unsupported zip feature ({exc})") from None
        with zf:
            plan, ignored = _plan_zip(zf, limits, allowed)
            return _write_plan(dest, plan, ignored, _zip_opener(zf))


def _check_listing_size(fh: BinaryIO, size: int, limits: IntakeLimits) -> None:
    """Refuse an archive whose end record lists more entries than we are willing to parse.

    zipfile reads the whole central directory into ZipInfo objects before we can look at any of them, so
    this reads the end-of-central-directory record (and its zip64 form) first. If no record is found the
    file is left to zipfile, which then reports it as not a zip.
    """
    tail_len = min(size, 22 + 0xFFFF)  # end record plus the longest possible archive comment
    fh.seek(size - tail_len)
    tail = fh.read(tail_len)
    pos = tail.rfind(b"PK\x05\x06")
    if pos < 0 or len(tail) - pos < 22:
        return
    entries, directory_bytes = struct.unpack("<HL", tail[pos + 10 : pos + 16])
    if (entries == 0xFFFF or directory_bytes == 0xFFFFFFFF) and pos >= 20:
        signature, _, z64_offset, _ = struct.unpack("<4sLQL", tail[pos - 20 : pos])
        if signature == b"PK\x06\x07" and z64_offset + 56 <= size:
            fh.seek(z64_offset)
            record = fh.read(56)
            if record[:4] == b"PK\x06\x06":
                entries, directory_bytes = struct.unpack("<QQ", record[32:48])
    ceiling = max(_MIN_LISTED_ENTRIES, _LISTED_ENTRIES_PER_FILE * limits.max_files)
    if entries > ceiling or directory_bytes > ceiling * _CENTRAL_BYTES_PER_ENTRY:
        raise SubmissionError(f"refused: the archive lists {entries} entries, more than the {ceiling} allowed")


def _plan_zip(
    zf: zipfile.ZipFile, limits: IntakeLimits, allowed: Callable[[str], bool] | None
) -> tuple[list[_Planned], set[str]]:
    """Validate every central-directory entry and decide what will be written where."""
    infos = zf.infolist()
    ceiling = max(_MIN_LISTED_ENTRIES, _LISTED_ENTRIES_PER_FILE * limits.max_files)
    if len(infos) > ceiling:  # the end record may understate the count; zipfile's list does not lie
        raise SubmissionError(f"refused: the archive lists {len(infos)} entries, more than the {ceiling} allowed")
    candidates: list[_Candidate] = []
    ignored: set[str] = set()
    for info in infos:
        # orig_filename is the name as stored: ZipInfo.filename silently cuts it at a NUL byte.
        name = info.orig_filename
        is_dir = name.endswith("/")
        parts = _split_name(name, is_dir=is_dir)
        _check_zip_entry(info, name, is_dir=is_dir)
        if is_dir:
            continue  # folders are made from the files' paths; a directory entry adds nothing
        _check_depth(name, parts, limits)
        skipped = _ignorable(parts)
        if skipped is not None:
            ignored.add(skipped)
            continue
        candidates.append(_Candidate(name, parts, info.file_size, info))
    _check_overlaps(infos)
    plan = _plan(candidates, ignored, limits, allowed, _ZIP_WORDS)
    return plan, ignored


def _check_zip_entry(info: zipfile.ZipInfo, name: str, *, is_dir: bool) -> None:
    """Refuse links, special files, encryption and compression methods we do not decompress."""
    # The Unix mode lives in the high 16 bits of external_attr. zipfile would "extract" a symlink entry as
    # a regular file holding the link target, which is silent garbage, so say what it is instead.
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if kind == stat.S_IFLNK:
        raise SubmissionError(f"refused: {_show(name)} is a symbolic link")
    expected = stat.S_IFDIR if is_dir else stat.S_IFREG
    if kind not in (0, expected):  # 0: archivers that store permission bits only, or no Unix mode at all
        raise SubmissionError(f"refused: {_show(name)} is {_kind_name(kind)}, not a regular file")
    if is_dir:
        return
    if info.flag_bits & (_ZIP_ENCRYPTED | _ZIP_STRONG_ENCRYPTION):
        raise SubmissionError(f"refused: {_show(name)} is encrypted; submit it without a password")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        method = _ZIP_METHOD_NAMES.get(info.compress_type, "unknown")
        raise SubmissionError(
            f"refused: {_show(name)} uses compression method {info.compress_type} ({method});"
            " only stored and deflate are accepted"
        )


def _check_overlaps(infos: Iterable[zipfile.ZipInfo]) -> None:
    """Refuse entries whose data regions overlap (the trick behind CVE-2024-0450 and overlap bombs).

    The span of an entry is at least its 30-byte local header plus its compressed data, so using that
    lower bound never refuses an honest archive.
    """
    ordered = sorted(infos, key=lambda i: i.header_offset)
    for before, after in zip(ordered, ordered[1:], strict=False):
        if before.header_offset + _ZIP_LOCAL_HEADER_BYTES + before.compress_size > after.header_offset:
            raise SubmissionError(
                f"refused: {_show(after.orig_filename)} overlaps the data of {_show(before.orig_filename)}"
            )


def _zip_opener(zf: zipfile.ZipFile) -> Callable[[_Candidate], _Reader]:
    """Return a function that opens one member as a stream of decompressed chunks."""

    def open_member(candidate: _Candidate) -> _Reader:
        assert isinstance(candidate.ref, zipfile.ZipInfo)
        return _ZipReader(zf, candidate.ref)

    return open_member


class _Reader:
    """A source of one file's bytes: ``read(n)`` returns at most n bytes, b"" at the end."""

    def read(self, n: int) -> bytes:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def wrong_size(self, name: str, expected: int) -> SubmissionError:
        """The error for a source that holds more or fewer bytes than were checked against the limits."""
        raise NotImplementedError  # pragma: no cover - interface


class _ZipReader(_Reader):
    """Decompresses one member; zipfile checks the local header name and the CRC at the end."""

    def __init__(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
        self._name = info.orig_filename
        try:
            self._stream = zf.open(info)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, ValueError, EOFError) as exc:
            raise _damaged(self._name, exc) from None

    def read(self, n: int) -> bytes:
        try:
            return self._stream.read(n)
        except (zipfile.BadZipFile, zlib.error, EOFError, ValueError) as exc:
            raise _damaged(self._name, exc) from None

    def close(self) -> None:
        self._stream.close()

    def wrong_size(self, name: str, expected: int) -> SubmissionError:
        return SubmissionError(f"refused: {_show(name)} does not hold the {expected} bytes its header declares")


def _damaged(name: str, exc: BaseException) -> SubmissionError:
    detail = str(exc)[:200] or type(exc).__name__
    return SubmissionError(f"refused: {_show(name)} is damaged and cannot be unpacked ({detail})")


# --------------------------------------------------------------------------------------------------
# Folders and git checkouts


def _take_in_folder(
    source: Path, dest: Path, limits: IntakeLimits, allowed: Callable[[str], bool] | None
) -> Submission:
    """Walk the folder without following links, then copy the accepted regular files."""
    try:
        source_fd = os.open(source, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise SubmissionError(f"refused: cannot read the folder {_show(source.name)} ({exc.strerror})") from None
    try:
        candidates: list[_Candidate] = []
        ignored: set[str] = set()
        ceiling = max(_MIN_LISTED_ENTRIES, _LISTED_ENTRIES_PER_FILE * limits.max_files)
        _walk(source_fd, (), limits, candidates, ignored, [0, ceiling])
        plan = _plan(candidates, ignored, limits, allowed, _FOLDER_WORDS)
        return _write_plan(dest, plan, ignored, _folder_opener(source_fd))
    finally:
        os.close(source_fd)


def _walk(
    dir_fd: int,
    prefix: tuple[str, ...],
    limits: IntakeLimits,
    candidates: list[_Candidate],
    ignored: set[str],
    seen: list[int],
) -> None:
    """Collect regular files below ``dir_fd``; any link or special file refuses the whole submission.

    Directories are opened relative to their parent's descriptor with O_NOFOLLOW, so a folder swapped for
    a link while we walk cannot lead us elsewhere. ``seen`` is [entries so far, ceiling].
    """
    try:
        with os.scandir(dir_fd) as it:
            entries = sorted(it, key=lambda e: e.name)  # sorted so the first error reported is stable
    except OSError as exc:
        raise SubmissionError(f"refused: cannot read {_show('/'.join(prefix) or '.')} ({exc.strerror})") from None
    for entry in entries:
        seen[0] += 1
        if seen[0] > seen[1]:
            raise SubmissionError(f"refused: the folder holds more than {seen[1]} entries")
        parts = (*prefix, entry.name)
        rel = "/".join(parts)
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError as exc:
            raise SubmissionError(f"refused: cannot read {_show(rel)} ({exc.strerror})") from None
        if stat.S_ISLNK(st.st_mode):
            raise SubmissionError(f"refused: {_show(rel)} is a symbolic link")
        if stat.S_ISDIR(st.st_mode):
            _split_name(rel + "/", is_dir=True)
            if entry.name in _IGNORED_DIRS:
                ignored.add(rel + "/")  # skipped unread: never look inside .git
                continue
            if len(parts) > limits.max_depth:
                raise SubmissionError(f"refused: {_show(rel)} is nested more than {limits.max_depth} folders deep")
            try:
                sub_fd = os.open(entry.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
            except OSError as exc:
                raise SubmissionError(f"refused: cannot read {_show(rel)} ({exc.strerror})") from None
            try:
                _walk(sub_fd, parts, limits, candidates, ignored, seen)
            finally:
                os.close(sub_fd)
        elif stat.S_ISREG(st.st_mode):
            _split_name(rel, is_dir=False)
            skipped = _ignorable(parts)
            if skipped is not None:
                ignored.add(skipped)
                continue
            candidates.append(_Candidate(rel, parts, st.st_size, (st.st_dev, st.st_ino)))
        else:
            raise SubmissionError(f"refused: {_show(rel)} is {_kind_name(stat.S_IFMT(st.st_mode))}, not a regular file")


def _folder_opener(source_fd: int) -> Callable[[_Candidate], _Reader]:
    """Return a function that opens one walked file again, refusing it if it changed since the walk."""

    def open_file(candidate: _Candidate) -> _Reader:
        return _FileReader(source_fd, candidate)

    return open_file


class _FileReader(_Reader):
    """Reads a regular file reached through O_NOFOLLOW directory descriptors from the source root."""

    def __init__(self, source_fd: int, candidate: _Candidate) -> None:
        self._fd = -1
        parent = _open_dirs(source_fd, candidate.parts[:-1], create=False)
        try:
            # O_NONBLOCK: if the file was swapped for a fifo after the walk, open must not hang on it.
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
            self._fd = os.open(candidate.parts[-1], flags, dir_fd=parent)
        except OSError as exc:
            raise SubmissionError(f"refused: cannot read {_show(candidate.name)} ({exc.strerror})") from None
        finally:
            if parent != source_fd:
                os.close(parent)
        st = os.fstat(self._fd)
        if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != candidate.ref:
            os.close(self._fd)
            raise SubmissionError(f"refused: {_show(candidate.name)} changed while the submission was copied")

    def read(self, n: int) -> bytes:
        return os.read(self._fd, n)

    def close(self) -> None:
        os.close(self._fd)

    def wrong_size(self, name: str, expected: int) -> SubmissionError:
        return SubmissionError(f"refused: {_show(name)} changed size while the submission was copied")


# --------------------------------------------------------------------------------------------------
# Shared by both sources


def _check_dest(dest: Path) -> None:
    """``dest`` must be an existing empty folder: we promise the caller to write only below it."""
    try:
        with os.scandir(dest) as it:
            if next(it, None) is not None:
                raise ValueError(f"dest must be an empty folder: {dest}")
    except (FileNotFoundError, NotADirectoryError):
        raise ValueError(f"dest must be an existing empty folder: {dest}") from None


def _show(name: str) -> str:
    """Quote a name from the submission for a message: repr() escapes anything non-printable."""
    if len(name) > 200:
        return repr(name[:200]) + "..."
    return repr(name)


def _kind_name(kind: int) -> str:
    return {
        stat.S_IFDIR: "a folder",
        stat.S_IFCHR: "a character device",
        stat.S_IFBLK: "a block device",
        stat.S_IFIFO: "a fifo",
        stat.S_IFSOCK: "a socket",
        stat.S_IFLNK: "a symbolic link",
        stat.S_IFREG: "a regular file",
    }.get(kind, "a special file")


def _split_name(name: str, *, is_dir: bool) -> tuple[str, ...]:
    """Split an entry name into safe path parts, or refuse it with the reason.

    The rules are strict on purpose: any name that could mean something else on another system (a
    backslash, a drive letter) or that hides characters (controls, zero-width or bidi marks) is refused
    rather than guessed at.
    """
    shown = _show(name)
    if not name or name == "/":
        raise SubmissionError(f"refused: an entry has an empty name ({shown})")
    for char in name:
        category = unicodedata.category(char)
        if char == "\0":
            raise SubmissionError(f"refused: entry {shown} has a NUL byte in its name")
        if category == "Cs":  # surrogateescape'd bytes from a folder name that is not UTF-8
            raise SubmissionError(f"refused: entry {shown} has a name that is not valid UTF-8")
        if category == "Cc":
            raise SubmissionError(f"refused: entry {shown} has a control character in its name")
        if category in ("Cf", "Zl", "Zp"):  # zero-width, bidi and line separators: look-alike names
            raise SubmissionError(f"refused: entry {shown} has an invisible character in its name")
    if "\\" in name:
        raise SubmissionError(f"refused: entry {shown} has a backslash in its path")
    if name.startswith("/"):
        raise SubmissionError(f"refused: entry {shown} is an absolute path")
    if len(name) >= 2 and name[1] == ":" and name[0].isascii() and name[0].isalpha():
        raise SubmissionError(f"refused: entry {shown} starts with a drive letter")
    parts = name[:-1].split("/") if is_dir else name.split("/")
    if ".." in parts:
        raise SubmissionError(f"refused: entry {shown} leaves the submission folder")
    if "" in parts or "." in parts:
        raise SubmissionError(f"refused: entry {shown} has an empty or '.' part in its path")
    if len(name) > _MAX_PATH_CHARS or any(len(p.encode()) > _MAX_PART_BYTES for p in parts):
        raise SubmissionError(f"refused: entry {shown} has a name that is too long")
    return tuple(parts)


def _check_depth(name: str, parts: tuple[str, ...], limits: IntakeLimits) -> None:
    if len(parts) - 1 > limits.max_depth:
        raise SubmissionError(f"refused: {_show(name)} is nested more than {limits.max_depth} folders deep")


def _ignorable(parts: tuple[str, ...]) -> str | None:
    """Return how to log the entry if it is junk to drop (the junk folder, or the file), else None."""
    for i, part in enumerate(parts[:-1]):
        if part in _IGNORED_DIRS:
            return "/".join(parts[: i + 1]) + "/"
    last = parts[-1]
    if last in _IGNORED_FILES or last.endswith(_IGNORED_SUFFIXES) or last.startswith(_APPLEDOUBLE_PREFIX):
        return "/".join(parts)
    return None


def _fold(path: str) -> str:
    """The key under which two names count as the same file (NFC, then casefold, then NFC again)."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", path).casefold())


def _plan(
    candidates: list[_Candidate],
    ignored: set[str],
    limits: IntakeLimits,
    allowed: Callable[[str], bool] | None,
    words: _Words,
) -> list[_Planned]:
    """Refuse duplicates and oversize sources, strip a single top folder, apply the caller's allowlist."""
    if not candidates:
        raise SubmissionError(f"the {words.noun} holds no files")

    # Duplicates after NFC + casefold would overwrite each other on case-insensitive systems and are a
    # classic look-alike trick (two_layernet.py vs Two_LayerNet.py); a file that is also a folder
    # ("a" and "a/b.py") could not be written at all.
    files: dict[str, str] = {}
    folders: dict[str, str] = {}
    for c in candidates:
        key = _fold("/".join(c.parts))
        if key in files:
            raise SubmissionError(
                f"refused: {_show(c.name)} and {_show(files[key])} differ only in case or Unicode form"
            )
        files[key] = c.name
        for i in range(1, len(c.parts)):
            folders.setdefault(_fold("/".join(c.parts[:i])), c.name)
    for key, name in files.items():
        if key in folders:
            raise SubmissionError(f"refused: {_show(name)} is both a file and a folder")

    # "Compress the folder" puts everything under one top folder; the rubric expects the files at the top.
    tops = {c.parts[0] for c in candidates}
    strip = 1 if len(tops) == 1 and all(len(c.parts) > 1 for c in candidates) else 0

    plan: list[_Planned] = []
    for c in candidates:
        # NFC so an allowlist written on Linux matches names from a Mac, which stores them decomposed.
        rel = unicodedata.normalize("NFC", "/".join(c.parts[strip:]))
        if allowed is not None and not allowed(rel):
            ignored.add(c.name)
            continue
        plan.append(_Planned(rel, c))
    plan.sort(key=lambda p: p.rel)

    if len(plan) > limits.max_files:
        raise SubmissionError(
            f"refused: the {words.noun} holds {len(plan)} files, more than the {limits.max_files}-file limit"
        )
    total = sum(p.source.size for p in plan)
    if total > limits.max_total_bytes:
        raise SubmissionError(
            f"refused: {words.total} {_size(total)}, more than the limit of {_size(limits.max_total_bytes)}"
        )
    for p in plan:
        if p.source.size > limits.max_file_bytes:
            raise SubmissionError(
                f"refused: {_show(p.source.name)} {words.size_verb} {_size(p.source.size)},"
                f" more than the limit of {_size(limits.max_file_bytes)} for one file"
            )
    return plan


def _write_plan(
    dest: Path, plan: list[_Planned], ignored: set[str], open_source: Callable[[_Candidate], _Reader]
) -> Submission:
    """Create ``dest / ROOT_NAME`` and copy every planned file into it; remove it again on any error."""
    root = dest / ROOT_NAME
    os.mkdir(root, _DIR_MODE)
    try:
        root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            os.fchmod(root_fd, _DIR_MODE)  # the umask may have cut it down; the sandbox uid must get in
            digests: list[tuple[str, bytes]] = []
            for item in plan:
                reader = open_source(item.source)
                try:
                    digests.append((item.rel, _copy_one(root_fd, item, reader)))
                finally:
                    reader.close()
        finally:
            os.close(root_fd)
    except BaseException:
        # Leave dest as we found it, so a refused or failed submission can never be graded half-copied.
        shutil.rmtree(root, ignore_errors=True)
        raise
    return Submission(
        root=root,
        sha256=_tree_digest(digests),
        files=tuple(p.rel for p in plan),
        ignored=tuple(sorted(ignored)),
    )


def _copy_one(root_fd: int, item: _Planned, reader: _Reader) -> bytes:
    """Stream one file into place through a byte counter; return the SHA-256 of its content.

    The counter stops at the size that was checked against the limits (the zip's declared size, or the
    size the walk saw), so neither a lying header nor a file growing under us can write more.
    """
    parts = item.rel.split("/")
    parent = _open_dirs(root_fd, parts[:-1], create=True)
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(parts[-1], flags, _FILE_MODE, dir_fd=parent)
    finally:
        if parent != root_fd:
            os.close(parent)
    try:
        os.fchmod(fd, _FILE_MODE)  # exact mode whatever the umask; never anything from the archive
        limit = item.source.size
        hasher = hashlib.sha256()
        written = 0
        while True:
            # Ask for one byte more than allowed, so an overlong source is seen without being written.
            chunk = reader.read(min(_CHUNK, limit - written + 1))
            if not chunk:
                break
            written += len(chunk)
            if written > limit:
                raise reader.wrong_size(item.source.name, limit)
            hasher.update(chunk)
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    if written != limit:
        raise reader.wrong_size(item.source.name, limit)
    return hasher.digest()


def _open_dirs(base_fd: int, parts: Iterable[str], *, create: bool) -> int:
    """Open (and with ``create``, make) the folder ``parts`` below ``base_fd`` without following links.

    Returns ``base_fd`` itself for an empty path, otherwise a new descriptor the caller must close.
    """
    fd = base_fd
    try:
        for part in parts:
            if create:
                try:
                    os.mkdir(part, _DIR_MODE, dir_fd=fd)
                except FileExistsError:
                    pass  # made for an earlier file; O_NOFOLLOW below still refuses anything else
            flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
            try:
                next_fd = os.open(part, flags, dir_fd=fd)
            except OSError as exc:
                raise SubmissionError(f"refused: cannot open the folder {_show(part)} ({exc.strerror})") from None
            if create:
                os.fchmod(next_fd, _DIR_MODE)
            if fd != base_fd:
                os.close(fd)
            fd = next_fd
    except BaseException:
        if fd != base_fd:
            os.close(fd)
        raise
    return fd


def _tree_digest(digests: Iterable[tuple[str, bytes]]) -> str:
    """SHA-256 over the accepted files, independent of zip metadata, timestamps and entry order.

    For each file in sorted path order: the UTF-8 path, a NUL byte (never part of a name), then the
    32-byte SHA-256 of the content. The same files give the same digest from a zip or a folder.
    """
    outer = hashlib.sha256()
    for rel, digest in sorted(digests):
        outer.update(rel.encode("utf-8") + b"\0" + digest)
    return outer.hexdigest()
