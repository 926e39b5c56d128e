"""Take in a ``.tar``, ``.tar.gz`` or ``.tgz`` submission under the same rules and limits as a zip.

A tar has no central directory, so the whole archive is listed first (every header checked, nothing
written), then the accepted members are copied by :mod:`grader.engine.intake`'s writer, which streams
each one through the same byte counter as a zip member. A gzip-compressed tar is first decompressed into
an anonymous temporary file, at most :data:`IntakeLimits.max_archive_bytes` of it (the archive limit
applies to the tar itself as well as to the compressed file), so a gzip bomb stops at that size.

Every member must pass the rules zips follow: safe names, regular files and folders only (links, hard
links, fifos, devices and sparse files are refused with their name), the depth, count and size limits,
and no two names that differ only in case; and then ``tarfile``'s own ``data`` filter (no absolute
paths, nothing outside the folder, no device files) as a second opinion, where the interpreter has it
(Python 3.11.4 and later).
"""

from __future__ import annotations

import gzip
import tarfile
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from grader.engine import intake as _intake
from grader.engine.intake import IntakeLimits, Submission, SubmissionError

#: File names taken in as tar archives (compared case-insensitively).
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz")

_TAR_WORDS = _intake._Words("archive", "archive declares", "declares")
# tarfile's data filter arrived in Python 3.11.4 (and 3.10.12); on an older interpreter the checks in
# _check_member, which are at least as strict, stand alone.
_DATA_FILTER = getattr(tarfile, "data_filter", None)
_FILTER_ERROR: type[Exception] | tuple[()] = getattr(tarfile, "FilterError", ())
_GZIP_MAGIC = b"\x1f\x8b"


def is_tar_name(name: str) -> bool:
    """Whether ``name`` is taken in as a tar archive."""
    return name.lower().endswith(TAR_SUFFIXES)


def take_in_tar(source: Path, dest: Path, limits: IntakeLimits, allowed: Callable[[str], bool] | None) -> Submission:
    """Check every member of the tar at ``source``, then copy the accepted ones to ``dest``."""
    with open(source, "rb") as fh:
        size = _intake.os.fstat(fh.fileno()).st_size
        if size > limits.max_archive_bytes:
            raise SubmissionError(
                f"refused: the archive is {_intake._size(size)}, more than the limit of "
                f"{_intake._size(limits.max_archive_bytes)}"
            )
        compressed = fh.read(2) == _GZIP_MAGIC
        fh.seek(0)
        if not compressed:
            return _take_in_plain(fh, source.name, dest, limits, allowed)
        with tempfile.TemporaryFile(prefix="backprop-grader-tar-") as plain:
            _gunzip(fh, plain, limits.max_archive_bytes)
            plain.seek(0)
            return _take_in_plain(plain, source.name, dest, limits, allowed)


def _gunzip(compressed: BinaryIO, out: BinaryIO, limit: int) -> None:
    """Decompress into ``out``, refusing as soon as more than ``limit`` bytes come out."""
    written = 0
    try:
        with gzip.GzipFile(fileobj=compressed, mode="rb") as stream:
            while chunk := stream.read(min(_intake._CHUNK, limit - written + 1)):
                written += len(chunk)
                if written > limit:
                    raise SubmissionError(
                        f"refused: the archive unpacks to more than {_intake._size(limit)} (the archive limit)"
                    )
                out.write(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        raise SubmissionError(f"not a gzip-compressed tar file: damaged ({str(exc)[:200]})") from None


def _take_in_plain(
    fh: BinaryIO, name: str, dest: Path, limits: IntakeLimits, allowed: Callable[[str], bool] | None
) -> Submission:
    try:
        tf = tarfile.open(fileobj=fh, mode="r:")
    except (tarfile.TarError, OSError, EOFError, ValueError):
        raise SubmissionError(f"not a tar file: {name}") from None
    with tf:
        members = _list_members(tf, limits)
        candidates: list[_intake._Candidate] = []
        ignored: set[str] = set()
        for index, member in enumerate(members):
            member_name = member.name + "/" if member.isdir() else member.name
            parts = _intake._split_name(member_name, is_dir=member.isdir())  # the zip rules' messages first
            _check_member(member, dest)
            if member.isdir():
                continue  # folders are made from the files' paths
            _intake._check_depth(member.name, parts, limits)
            skipped = _intake._ignorable(parts)
            if skipped is not None:
                ignored.add(skipped)
                continue
            candidates.append(_intake._Candidate(member.name, parts, member.size, (index, 0)))
        plan = _intake._plan(candidates, ignored, limits, allowed, _TAR_WORDS)
        return _intake._write_plan(dest, plan, ignored, _opener(tf, members))


def _list_members(tf: tarfile.TarFile, limits: IntakeLimits) -> list[tarfile.TarInfo]:
    """Read every header, at most as many as a zip may list; a damaged header refuses the archive."""
    ceiling = max(_intake._MIN_LISTED_ENTRIES, _intake._LISTED_ENTRIES_PER_FILE * limits.max_files)
    members: list[tarfile.TarInfo] = []
    try:
        while (member := tf.next()) is not None:
            members.append(member)
            if len(members) > ceiling:
                raise SubmissionError(f"refused: the archive lists more than the {ceiling} entries allowed")
    except tarfile.TarError as exc:
        raise SubmissionError(f"refused: the tar archive is damaged ({str(exc)[:200]})") from None
    if not members:
        raise SubmissionError("the archive holds no files")
    return members


def _check_member(member: tarfile.TarInfo, dest: Path) -> None:
    """``tarfile``'s data filter first, then only regular files and folders."""
    shown = _intake._show(member.name)
    if member.issym():
        raise SubmissionError(f"refused: {shown} is a symbolic link")
    if member.islnk():
        raise SubmissionError(f"refused: {shown} is a hard link")
    if member.issparse():
        raise SubmissionError(f"refused: {shown} is a sparse file")
    if member.ischr() or member.isblk():
        raise SubmissionError(f"refused: {shown} is a device, not a regular file")
    if member.isfifo():
        raise SubmissionError(f"refused: {shown} is a fifo, not a regular file")
    if not (member.isfile() or member.isdir()):
        raise SubmissionError(f"refused: {shown} is a special file")
    if _DATA_FILTER is None:
        return
    try:  # the standard library's own rules for untrusted archives, as a second opinion
        _DATA_FILTER(member, str(dest))
    except _FILTER_ERROR as exc:
        raise SubmissionError(f"refused: {str(exc)[:300]}") from None


class _TarReader(_intake._Reader):
    """One member's bytes; a member that ends early is caught by the writer's size check."""

    def __init__(self, tf: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        stream = tf.extractfile(member)
        if stream is None:  # not a regular file: excluded by _check_member, so a bug if reached
            raise SubmissionError(f"refused: {_intake._show(member.name)} is not a regular file")
        self._stream = stream

    def read(self, n: int) -> bytes:
        try:
            return self._stream.read(n)
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise SubmissionError(f"refused: the tar archive is damaged ({str(exc)[:200]})") from None

    def close(self) -> None:
        self._stream.close()

    def wrong_size(self, name: str, expected: int) -> SubmissionError:
        return SubmissionError(f"refused: {_intake._show(name)} does not hold the {expected} bytes its header declares")


def _opener(tf: tarfile.TarFile, members: list[tarfile.TarInfo]) -> Callable[[_intake._Candidate], _intake._Reader]:
    def open_member(candidate: _intake._Candidate) -> _intake._Reader:
        index, _ = candidate.ref  # type: ignore[misc] - (member index, 0) for tar members
        return _TarReader(tf, members[index])

    return open_member


__all__ = ["TAR_SUFFIXES", "is_tar_name", "take_in_tar"]
