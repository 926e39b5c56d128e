"""Which submissions a batch grades: a class folder of zips or folders, or a CSV roster.

Every submission gets a student id, which names its result file, so ids are restricted to characters
that are safe in a file name on every common system and cannot start a spreadsheet formula: a letter or
digit first, then letters, digits and ``. _ @ + -``. Ids that differ only in case are duplicates (they
would be the same file on a case-insensitive disk).

- A roster (``.csv``) has a header with ``student_id`` and ``path`` columns (others are ignored); a
  relative path is relative to the roster's folder. Ids in a roster are used as written, or refused.
- A class folder holds one entry per student: an archive ``NAME.zip`` / ``.tar`` / ``.tar.gz`` / ``.tgz``
  or a folder ``NAME`` (a plain folder or a git checkout). The id is derived from ``NAME``; characters
  outside the allowed set become ``_``, because learning-management exports name files freely
  ("Ada Lovelace_1234.zip"). Every other entry (a ``.rar``, a loose file, a hidden file) is not graded and
  is listed with the reason: nothing in a class folder is passed over silently.
- A single archive is a class of one; so is one student's folder (a folder holding one of the
  assignment's required files at its top, e.g. ``class/alice`` with ``two_layernet.py``).

A path that does not exist is not a roster error: that student's submission is rejected when graded,
like any other unreadable submission, and the rest of the class is graded.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$"
StudentId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]

#: A roster larger than this is almost certainly the wrong file (and would be read into memory).
MAX_ROSTER_BYTES = 16 * 1024 * 1024
_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]+")


#: Archive names a class folder may hold, one per student (the intake takes these in).
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")
#: Archive formats students send that the grader does not unpack, for a clearer reason.
_OTHER_ARCHIVES = (".rar", ".7z", ".gz", ".bz2", ".xz", ".tar.bz2", ".tar.xz", ".tbz2", ".txz")


class RosterError(Exception):
    """The inputs cannot be turned into a class list; str(e) is one line naming the file and the reason."""


class RosterEntry(BaseModel):
    """One submission to grade."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    student_id: StudentId
    path: Path
    origin: str = Field(description="Where the entry came from, for messages: 'roster.csv line 4', a folder.")


class Skipped(BaseModel):
    """An entry of a class folder that is not graded, and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: Path
    reason: str


def archive_stem(name: str) -> str | None:
    """``name`` without its archive suffix (``alice.tar.gz`` -> ``alice``), or None when not an archive."""
    lowered = name.lower()
    for suffix in sorted(ARCHIVE_SUFFIXES, key=len, reverse=True):
        if lowered.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return None


def _skip_reason(child: Path) -> str:
    """Why an entry of a class folder that is neither a folder nor an accepted archive is not graded."""
    accepted = ", ".join(ARCHIVE_SUFFIXES)
    if child.name.startswith("."):
        return "hidden (its name starts with '.')"
    lowered = child.name.lower()
    other = next((s for s in sorted(_OTHER_ARCHIVES, key=len, reverse=True) if lowered.endswith(s)), None)
    if other is not None:
        return f"a {other} archive, which the grader does not unpack ({accepted} are); unpack it into a folder"
    if not child.is_file():
        return "neither a file nor a folder"
    return f"a loose file, not a submission (one folder or {accepted} archive per student)"


def is_submission_folder(folder: Path, required: Sequence[str]) -> bool:
    """Whether ``folder`` is one student's submission rather than a class: it holds a required file."""
    return any((folder / name).is_file() for name in required)


def id_from_name(name: str) -> str | None:
    """A student id derived from a file or folder name, or None when nothing usable is left."""
    candidate = _UNSAFE.sub("_", name).strip("._-@+")[:128]
    return candidate if candidate and re.match(ID_PATTERN, candidate) else None


def read_roster(path: Path) -> list[RosterEntry]:
    """Read a ``student_id,path`` CSV roster."""
    try:
        size = path.stat().st_size
        if size > MAX_ROSTER_BYTES:
            raise RosterError(f"{path}: roster larger than {MAX_ROSTER_BYTES} bytes")
        # utf-8-sig: spreadsheets save CSV with a byte-order mark.
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise RosterError(f"{path}: cannot read roster ({exc})") from None
    # newline="": a quoted cell may hold a line break (the csv module's documented requirement).
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = [c.strip() for c in reader.fieldnames or []]
    if "student_id" not in columns or "path" not in columns:
        raise RosterError(f"{path}: the header must name the columns student_id and path (found: {', '.join(columns)})")
    reader.fieldnames = columns
    entries = []
    for row in reader:
        line = reader.line_num
        student_id = (row.get("student_id") or "").strip()
        where = (row.get("path") or "").strip()
        if not student_id and not where:
            continue  # blank line or a row of empty cells
        if not re.match(ID_PATTERN, student_id):
            raise RosterError(
                f"{path} line {line}: student id {student_id!r} is not usable as a file name "
                "(a letter or digit, then letters, digits and . _ @ + -; at most 128)"
            )
        if not where:
            raise RosterError(f"{path} line {line}: no path for student {student_id}")
        target = Path(where).expanduser()
        entries.append(
            RosterEntry(
                student_id=student_id,
                path=target if target.is_absolute() else path.parent / target,
                origin=f"{path.name} line {line}",
            )
        )
    return entries


def scan_folder(folder: Path, skipped: list[Skipped] | None = None) -> list[RosterEntry]:
    """One entry per archive and per sub-folder of a class folder, in name order.

    Every other entry (hidden, another archive format, a loose file) is appended to ``skipped`` with
    the reason, when a list is given.
    """
    try:
        children = sorted(folder.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        raise RosterError(f"{folder}: cannot list the class folder ({exc.strerror or exc})") from None
    entries = []
    for child in children:
        name = None
        if not child.name.startswith("."):
            if child.is_dir():
                name = child.name
            elif child.is_file():
                name = archive_stem(child.name)
        if name is None:
            if skipped is not None:
                skipped.append(Skipped(path=child, reason=_skip_reason(child)))
            continue
        student_id = id_from_name(name)
        if student_id is None:
            raise RosterError(f"{child}: no usable student id can be made from this name; rename it")
        entries.append(RosterEntry(student_id=student_id, path=child, origin=str(folder)))
    return entries


def _single(source: Path) -> RosterEntry:
    """A class of one: an archive or a student's folder given directly."""
    name = archive_stem(source.name) if source.is_file() else source.resolve().name
    student_id = id_from_name(name or "")
    if student_id is None:
        raise RosterError(f"{source}: no usable student id can be made from this name; rename it")
    return RosterEntry(student_id=student_id, path=source, origin=str(source))


def collect(
    inputs: Iterable[Path], *, skipped: list[Skipped] | None = None, required: Sequence[str] = ()
) -> list[RosterEntry]:
    """The class list from every INPUT of ``grade batch``: rosters, class folders, archives, a student's folder.

    A folder holding one of the ``required`` files is one student's submission, not a class. Entries of
    class folders that are not graded go to ``skipped``. Raises :class:`RosterError` for an input that is
    none of these or for a student id given twice.
    """
    entries: list[RosterEntry] = []
    for source in inputs:
        source = Path(source)
        if source.is_dir():
            if is_submission_folder(source, required):
                entries.append(_single(source))
            else:
                entries += scan_folder(source, skipped)
        elif source.suffix.lower() == ".csv" and source.is_file():
            entries += read_roster(source)
        elif source.is_file() and archive_stem(source.name) is not None:
            entries.append(_single(source))
        else:
            kinds = "/".join(ARCHIVE_SUFFIXES)
            raise RosterError(f"{source}: not a class folder, a student's folder, a .csv roster or a {kinds} archive")
    check_unique(entries)
    return entries


def select(entries: Sequence[RosterEntry], only: Sequence[str]) -> list[RosterEntry]:
    """The entries whose id is in ``only`` (case-insensitive); an id that matches none is an error."""
    wanted = {student_id.casefold(): student_id for student_id in only}
    chosen = [entry for entry in entries if entry.student_id.casefold() in wanted]
    missing = set(wanted) - {entry.student_id.casefold() for entry in chosen}
    if missing:
        names = ", ".join(sorted(wanted[key] for key in missing))
        known = ", ".join(entry.student_id for entry in entries[:8]) + (", ..." if len(entries) > 8 else "")
        raise RosterError(f"--only {names}: no such student in the inputs (ids: {known or 'none'})")
    return chosen


def check_unique(entries: Sequence[RosterEntry]) -> None:
    """Refuse two entries whose ids would name the same result file."""
    seen: dict[str, RosterEntry] = {}
    for entry in entries:
        key = entry.student_id.casefold()
        if key in seen:
            first = seen[key]
            raise RosterError(
                f"student id {entry.student_id!r} appears twice ({first.origin}: {first.path}; "
                f"{entry.origin}: {entry.path})"
            )
        seen[key] = entry
