"""Read the bulk-download layouts of learning-management systems into a class list, keeping each
student's id in that system (so grades and feedback go back to the right person).

Layouts (an unpacked download folder; unzip the download first):

- **Canvas** ("Download Submissions"): one flat folder of files named
  ``<name>_<user id>_<attachment id>_<file name>``, with ``LATE_`` before the user id for a late
  submission; a file uploaded again gets ``-1``, ``-2`` before its extension. The id is the Canvas user
  id. A student's files are gathered into a folder of their own (or their one archive is used as is).
- **Moodle** ("Download all submissions"): one folder per participant,
  ``<Full Name>_<participant id>_assignsubmission_file_``, or the same prefix on every file in a flat
  folder. The id is the participant id (the worksheet's ``Participant <id>``).
- **Gradescope** ("Export Submissions"): ``submission_metadata.yml`` beside one folder per submission
  ``submission_<id>``; the id is the submitter's student id (``:sid:``), else their email.
- **GitHub Classroom** (``gh classroom clone student-repos``): one repository per student,
  ``<assignment>-<username>``; the id is the GitHub username. Not guessed: ask for it with
  ``--lms github-classroom``.

Whatever is not a submission (an online-text folder, a file that does not follow the naming) is listed
with the reason, never dropped silently.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from grader.batch.roster import (
    ID_PATTERN,
    RosterEntry,
    RosterError,
    Skipped,
    archive_stem,
    check_unique,
    id_from_name,
)

LmsName = Literal["canvas", "moodle", "gradescope", "github-classroom"]
LMS_NAMES: tuple[str, ...] = ("canvas", "moodle", "gradescope", "github-classroom")

#: Written into the results folder by ``grade batch`` for ``grade report``'s LMS exports.
STUDENTS_FILE = "_students.json"
#: Where gathered Canvas/Moodle files are staged, inside the results folder.
STAGING_DIR = ".lms-staging"
#: A single file of a flat download larger than this is not copied (the intake's archive limit).
MAX_STAGED_FILE_BYTES = 100 * 1024**2

_CANVAS_FILE = re.compile(
    r"^(?P<name>[A-Za-z0-9-]+)_(?:(?P<late>LATE)_)?(?P<user>\d+)_(?P<attachment>\d+)_(?P<file>.+)$"
)
_MOODLE = re.compile(r"^(?P<name>.+?)_(?P<id>\d+)_assign(?:submission|feedback)_(?P<plugin>[a-z]+)_(?P<file>.*)$")
_RESUBMITTED = re.compile(r"^(?P<stem>.+)-\d+(?P<ext>\.[A-Za-z0-9]+)$")
GRADESCOPE_METADATA = "submission_metadata.yml"


class LmsStudent(BaseModel):
    """One student of an LMS download: the id there, a name for people, and how to address them back."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    student_id: str
    name: str = ""
    email: str = ""
    #: The LMS's own handle for the student's files: Canvas ``<name>_<user>_<attachment>_``, Moodle
    #: ``<Full Name>_<id>_assignsubmission_file_``; bulk feedback uploads are named with it.
    handle: str = ""
    late: bool = False


class LmsClass(BaseModel):
    """What an LMS download holds: the system, its students and their submissions, what was skipped."""

    model_config = ConfigDict(extra="forbid")

    lms: LmsName
    students: list[LmsStudent]
    entries: list[RosterEntry]
    skipped: list[Skipped]


class StudentsFile(BaseModel):
    """``_students.json``: the students of the last LMS download graded into a results folder."""

    model_config = ConfigDict(extra="forbid")

    lms: LmsName
    students: list[LmsStudent]


def detect(folder: Path) -> LmsName | None:
    """Which layout ``folder`` has (Canvas, Moodle or Gradescope), or None; GitHub Classroom is not guessed."""
    if (folder / GRADESCOPE_METADATA).is_file():
        return "gradescope"
    try:
        names = [child.name for child in folder.iterdir() if not child.name.startswith(".")]
    except OSError:
        return None
    if not names:
        return None
    moodle = sum(bool(_MOODLE.match(name)) for name in names)
    canvas = sum(bool(_CANVAS_FILE.match(name)) and (folder / name).is_file() for name in names)
    # Most entries must follow the naming: a class folder may happen to hold one such name.
    if moodle * 2 > len(names):
        return "moodle"
    if canvas * 2 > len(names):
        return "canvas"
    return None


def read_lms(folder: Path, lms: LmsName, staging: Path) -> LmsClass:
    """Read the ``lms`` download in ``folder``; gathered files are copied below ``staging``."""
    readers: dict[str, Callable[[Path, Path], LmsClass]] = {
        "canvas": _read_canvas,
        "moodle": _read_moodle,
        "gradescope": lambda f, _: _read_gradescope(f),
        "github-classroom": lambda f, _: _read_github_classroom(f),
    }
    found = readers[lms](folder, staging)
    if not found.entries:
        raise RosterError(f"{folder}: no {lms} submissions found (is this the unpacked download folder?)")
    check_unique(found.entries)
    return found


def _checked_id(raw: str, where: Path) -> str:
    if re.match(ID_PATTERN, raw):
        return raw
    made = id_from_name(raw)
    if made is None:
        raise RosterError(f"{where}: the id {raw!r} cannot name a result file")
    return made


def _original_name(name: str) -> str:
    """A file uploaded again is renamed ``name-1.py`` by Canvas; the rubric wants ``name.py``."""
    match = _RESUBMITTED.match(name)
    return match.group("stem") + match.group("ext") if match else name


def _gather(files: list[tuple[Path, str]], target: Path) -> Path:
    """Copy one student's files (source, name in the submission) into ``target``; return the submission.

    A student whose only file is an archive is graded from the archive itself.
    """
    if len(files) == 1 and archive_stem(files[0][1]) is not None:
        return files[0][0]
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for source, name in files:
        if os.path.getsize(source) > MAX_STAGED_FILE_BYTES:
            continue  # never copied; the intake then reports the file as missing
        shutil.copyfile(source, target / name, follow_symlinks=False)
    return target


def _flat(folder: Path, staging: Path, lms: LmsName, pattern: re.Pattern[str], parts: Callable) -> LmsClass:
    """Group a flat download's files by student, stage each student's files in a folder."""
    groups: dict[str, list[tuple[Path, str]]] = {}
    students: dict[str, LmsStudent] = {}
    skipped: list[Skipped] = []
    for child in sorted(folder.iterdir(), key=lambda p: p.name):
        match = pattern.match(child.name)
        if child.name.startswith(".") or not child.is_file() or match is None:
            reason = "hidden" if child.name.startswith(".") else f"not named like a {lms} download file"
            skipped.append(Skipped(path=child, reason=reason))
            continue
        student, file_name = parts(match, child)
        if student is None:
            skipped.append(Skipped(path=child, reason=file_name))
            continue
        students.setdefault(student.student_id, student)
        groups.setdefault(student.student_id, []).append((child, file_name))
    entries = [
        RosterEntry(student_id=sid, path=_gather(files, staging / sid), origin=f"{lms} download {folder}")
        for sid, files in sorted(groups.items())
    ]
    return LmsClass(lms=lms, students=[students[e.student_id] for e in entries], entries=entries, skipped=skipped)


def _read_canvas(folder: Path, staging: Path) -> LmsClass:
    def parts(match: re.Match[str], child: Path) -> tuple[LmsStudent, str]:
        user = _checked_id(match.group("user"), child)
        handle = f"{match.group('name')}_{match.group('user')}_{match.group('attachment')}_"
        student = LmsStudent(student_id=user, name=match.group("name"), handle=handle, late=bool(match.group("late")))
        return student, _original_name(match.group("file"))

    return _flat(folder, staging, "canvas", _CANVAS_FILE, parts)


def _moodle_student(match: re.Match[str], where: Path) -> LmsStudent:
    handle = f"{match.group('name')}_{match.group('id')}_assignsubmission_file_"
    return LmsStudent(student_id=_checked_id(match.group("id"), where), name=match.group("name"), handle=handle)


def _read_moodle(folder: Path, staging: Path) -> LmsClass:
    folders = [c for c in folder.iterdir() if c.is_dir() and _MOODLE.match(c.name)]
    if not folders:  # the flat form: the same prefix on every file

        def parts(match: re.Match[str], child: Path) -> tuple[LmsStudent | None, str]:
            if match.group("plugin") != "file" or not match.group("file"):
                return None, f"a Moodle {match.group('plugin')} entry, not a submitted file"
            return _moodle_student(match, child), match.group("file")

        return _flat(folder, staging, "moodle", _MOODLE, parts)
    students, entries, skipped = [], [], []
    for child in sorted(folder.iterdir(), key=lambda p: p.name):
        match = _MOODLE.match(child.name)
        if match is None or not child.is_dir():
            skipped.append(Skipped(path=child, reason="not a Moodle participant folder"))
        elif match.group("plugin") != "file":
            skipped.append(Skipped(path=child, reason=f"a Moodle {match.group('plugin')} entry, not submitted files"))
        else:
            student = _moodle_student(match, child)
            students.append(student)
            entries.append(RosterEntry(student_id=student.student_id, path=child, origin=f"moodle download {folder}"))
    return LmsClass(lms="moodle", students=students, entries=entries, skipped=skipped)


def _read_gradescope(folder: Path) -> LmsClass:
    try:
        import yaml
    except ImportError:
        raise RosterError("reading a Gradescope export needs PyYAML: pip install pyyaml") from None
    metadata_path = folder / GRADESCOPE_METADATA
    try:
        metadata = yaml.safe_load(metadata_path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RosterError(f"{metadata_path}: cannot read ({str(exc).splitlines()[0]})") from None
    if not isinstance(metadata, dict):
        raise RosterError(f"{metadata_path}: expected a mapping of submission folders")
    students, entries, skipped = [], [], []
    for name, record in sorted(metadata.items()):
        path = folder / str(name)
        submitters = (record or {}).get(":submitters") or []
        if not path.is_dir() or not submitters:
            skipped.append(Skipped(path=path, reason="listed in the metadata without a folder or a submitter"))
            continue
        first = submitters[0]
        raw = str(first.get(":sid") or first.get(":email") or name)
        student = LmsStudent(
            student_id=_checked_id(raw, path),
            name=str(first.get(":name") or ""),
            email=str(first.get(":email") or ""),
            handle=str(name),
        )
        students.append(student)
        entries.append(RosterEntry(student_id=student.student_id, path=path, origin=f"gradescope export {folder}"))
    listed = {str(name) for name in metadata}
    for child in sorted(folder.iterdir(), key=lambda p: p.name):
        if child.name != GRADESCOPE_METADATA and child.name not in listed:
            skipped.append(Skipped(path=child, reason=f"not listed in {GRADESCOPE_METADATA}"))
    return LmsClass(lms="gradescope", students=students, entries=entries, skipped=skipped)


def _read_github_classroom(folder: Path) -> LmsClass:
    repos = sorted((c for c in folder.iterdir() if c.is_dir() and not c.name.startswith(".")), key=lambda p: p.name)
    skipped = [Skipped(path=c, reason="not a student repository") for c in folder.iterdir() if c not in repos]
    # The assignment's prefix is what all repository names share up to a "-": "hw2-ada", "hw2-alan".
    prefix = os.path.commonprefix([r.name for r in repos]) if len(repos) > 1 else ""
    prefix = prefix[: prefix.rfind("-") + 1] if "-" in prefix else ""
    students, entries = [], []
    for repo in repos:
        username = repo.name[len(prefix) :]
        student = LmsStudent(student_id=_checked_id(username, repo), name=username, handle=repo.name)
        students.append(student)
        entries.append(RosterEntry(student_id=student.student_id, path=repo, origin=f"github classroom {folder}"))
    return LmsClass(lms="github-classroom", students=students, entries=entries, skipped=skipped)


def write_students(out: Path, found: LmsClass) -> Path:
    """Record the students of ``found`` in the results folder, for ``grade report``'s LMS exports."""
    from grader.results import write_atomic

    path = out / STUDENTS_FILE
    write_atomic(path, StudentsFile(lms=found.lms, students=found.students).model_dump_json(indent=2) + "\n")
    return path


def read_students(folder: Path) -> StudentsFile | None:
    """The students recorded in a results folder, or None when it was not graded from an LMS download."""
    path = folder / STUDENTS_FILE
    if not path.is_file():
        return None
    return StudentsFile.model_validate_json(path.read_bytes())
