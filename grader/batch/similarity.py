"""Fingerprints of submissions, to flag identical and near-identical ones for the instructor to look at.

Identical means the same content hash (the intake's sha256 over the accepted files). Near-identical is
measured on code: each accepted ``.py`` file is tokenised (comments, blank lines and indentation
dropped, so reformatting and comments change nothing), every run of :data:`SHINGLE` tokens is hashed,
and two submissions are compared by the Jaccard similarity of those hash sets. Runs that most of the
class shares (the handout, :data:`COMMON_FRACTION`) are left out first: starting from the same template
is not copying. A pair at or above :data:`NEAR_IDENTICAL` is flagged. The grader decides nothing from
this: the report lists the pairs, with their similarity, for a person to read.

``grade batch`` writes ``OUT/_fingerprints.json`` (student id -> content hash and run hashes); the
submissions are read through the intake, with its limits, and never run.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import shutil
import tempfile
import tokenize
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from grader.engine.intake import IntakeLimits, SubmissionError, take_in

FINGERPRINTS_FILE = "_fingerprints.json"
#: Tokens per compared run: long enough that short common phrases ("return self.x") do not count.
SHINGLE = 8
#: A run found in more than this share of the class's submissions is common code (the handout).
COMMON_FRACTION = 0.5
#: Jaccard similarity from which a pair is flagged as near-identical.
NEAR_IDENTICAL = 0.8
_SKIPPED_TOKENS = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT}


class Fingerprint(BaseModel):
    """One submission's content hash and the hashes of its token runs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sha256: str
    shingles: list[int]


class Fingerprints(BaseModel):
    """``_fingerprints.json``: every fingerprinted submission of a results folder, by student id."""

    model_config = ConfigDict(extra="forbid")

    students: dict[str, Fingerprint]


class Match(BaseModel):
    """Two different submissions whose code is nearly the same."""

    model_config = ConfigDict(frozen=True)

    first: str
    second: str
    similarity: float


def _tokens(source: str) -> list[str]:
    try:
        return [
            tok.string
            for tok in tokenize.generate_tokens(io.StringIO(source).readline)
            if tok.type not in _SKIPPED_TOKENS and tok.string
        ]
    except (tokenize.TokenError, SyntaxError, ValueError):
        return source.split()  # not valid Python: compare its words


def shingles(sources: Iterable[str]) -> list[int]:
    """The sorted, distinct 64-bit hashes of every run of ``SHINGLE`` tokens in ``sources``."""
    found: set[int] = set()
    for source in sources:
        tokens = _tokens(source)
        for start in range(max(len(tokens) - SHINGLE + 1, 0)):
            run = "\x00".join(tokens[start : start + SHINGLE]).encode("utf-8", "surrogatepass")
            found.add(int.from_bytes(hashlib.blake2b(run, digest_size=8).digest(), "big"))
    return sorted(found)


def fingerprint(source: Path, limits: IntakeLimits | None = None) -> Fingerprint | None:
    """Take ``source`` in (never running it) and fingerprint its ``.py`` files; None if it is refused."""
    work = Path(tempfile.mkdtemp(prefix="backprop-grader-fingerprint-"))
    try:
        try:
            submission = take_in(source, work, limits or IntakeLimits())
        except SubmissionError:
            return None
        texts = [
            (submission.root / rel).read_text(encoding="utf-8", errors="replace")
            for rel in submission.files
            if rel.endswith(".py")
        ]
        return Fingerprint(sha256=submission.sha256, shingles=shingles(texts))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def write_fingerprints(out: Path, entries: Iterable[tuple[str, Path]]) -> Path:
    """Fingerprint ``(student id, path)`` pairs into ``out/_fingerprints.json``, keeping earlier ones."""
    from grader.results import write_atomic

    path = out / FINGERPRINTS_FILE
    known = read_fingerprints(out)
    students = dict(known.students) if known else {}
    for student_id, source in entries:
        found = fingerprint(source)
        if found is None:
            students.pop(student_id, None)
        else:
            students[student_id] = found
    write_atomic(path, Fingerprints(students=students).model_dump_json() + "\n")
    return path


def read_fingerprints(folder: Path) -> Fingerprints | None:
    """The fingerprints of a results folder, or None when there are none (or the file is damaged)."""
    path = folder / FINGERPRINTS_FILE
    try:
        return Fingerprints.model_validate_json(path.read_bytes()) if path.is_file() else None
    except ValueError:
        return None


def identical(prints: dict[str, str]) -> list[list[str]]:
    """Groups of two or more students (sorted) whose submissions have the same content hash."""
    groups: dict[str, list[str]] = {}
    for student_id, sha in sorted(prints.items()):
        groups.setdefault(sha, []).append(student_id)
    return sorted((ids for ids in groups.values() if len(ids) > 1), key=lambda ids: (-len(ids), ids))


def near_identical(prints: dict[str, Fingerprint]) -> list[Match]:
    """Pairs of different submissions at or above NEAR_IDENTICAL, most similar first; runs common to
    the class are left out (see above), and identical submissions are :func:`identical`'s business."""
    counts: Counter[int] = Counter(h for fp in prints.values() for h in fp.shingles)
    common = {h for h, n in counts.items() if len(prints) > 2 and n > COMMON_FRACTION * len(prints)}
    own = {sid: set(fp.shingles) - common for sid, fp in prints.items()}
    found = []
    for first, second in itertools.combinations(sorted(prints), 2):
        if prints[first].sha256 == prints[second].sha256:
            continue
        a, b = own[first], own[second]
        if not a or not b:
            continue
        similarity = len(a & b) / len(a | b)
        if similarity >= NEAR_IDENTICAL:
            found.append(Match(first=first, second=second, similarity=round(similarity, 4)))
    return sorted(found, key=lambda m: (-m.similarity, m.first, m.second))
