"""The result of grading one submission: the single source of truth for every output format.

Everything the grader reports is a `GradeResult` holding one `CheckResult` per rubric check. The models
enforce the invariants the rest of the grader relies on, so no writer has to re-check them:

- every float is finite (NaN and infinity are rejected, never silently written as ``null``);
- a check's score is clamped into ``[0, max_score]`` and a skipped check scores 0;
- free text (feedback, titles, messages) has terminal escapes and other control characters removed and
  is truncated, because much of it comes from student code (SECURITY-NOTES G1);
- the totals equal the sums of the checks and check names are unique.

Files are written once, by the trusted process, through `write_atomic` (temporary file + rename) and
read back by `load_result`, which refuses oversized files and NaN/Infinity literals.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
import tempfile
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

Status = Literal["passed", "failed", "error", "skipped"]
Visibility = Literal["visible", "hidden", "after_due_date", "after_published"]
GradeStatus = Literal["graded", "rejected", "error"]

SCHEMA_VERSION = 1
TEXT_LIMIT = 8_000  # characters kept of one check's feedback, title or diagnosis
LOG_LIMIT = 32_000  # characters kept of the submission-wide log
MAX_RESULT_BYTES = 16 * 1024 * 1024  # load_result refuses larger files
TRUNCATION_MARKER = "… (truncated)"
HIDDEN_OUTPUT = "Hidden check."
SCORE_TOLERANCE = 1e-9

# ANSI/VT sequences are removed whole, so "\x1b[32mALL PASSED" shows as "ALL PASSED", not "[32mALL PASSED".
_ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: cursor moves, colours, screen clears
    r"|\x1b\][^\x07\x1b\n]*(?:\x07|\x1b\\)?"  # OSC: window titles, hyperlinks
    r"|\x1b[PX^_][^\x1b\n]*(?:\x1b\\)?"  # DCS, SOS, PM, APC strings
    r"|\x1b[@-Z\\-_]"  # two-character escapes
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
)
# C0 except tab and newline, DEL, C1, lone surrogates (unencodable), and the bidirectional overrides that
# can make a terminal or browser display text in a different order than it is stored.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")


def clean_text(text: str, *, limit: int = TEXT_LIMIT, one_line: bool = False) -> str:
    """Return `text` safe to show anywhere: no control characters but ``\\n``/``\\t``, at most `limit` chars.

    Carriage returns become newlines (a lone ``\\r`` could overwrite a terminal line). With `one_line`,
    newlines and tabs become spaces. Text longer than `limit` is cut and ends with a visible marker.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _ESCAPE_SEQUENCE.sub("", text)
    text = _CONTROL.sub("", text)
    if one_line:
        text = " ".join(text.split())
    if len(text) > limit:
        marker = TRUNCATION_MARKER if one_line else "\n" + TRUNCATION_MARKER
        text = text[: max(limit - len(marker), 0)].rstrip() + marker
    return text


def _text(value: str) -> str:
    return clean_text(value)


def _line(value: str) -> str:
    return clean_text(value, one_line=True)


def _log(value: str) -> str:
    return clean_text(value, limit=LOG_LIMIT)


Text = Annotated[str, AfterValidator(_text)]
OneLine = Annotated[str, AfterValidator(_line)]
Log = Annotated[str, AfterValidator(_log)]
NonNegative = Annotated[float, Field(ge=0.0)]


class _Model(BaseModel):
    # allow_inf_nan=False makes every float field (also inside dicts) reject NaN and +-inf.
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")


class CheckResult(_Model):
    """The outcome of one rubric check."""

    name: OneLine = Field(min_length=1, description="Stable id, e.g. 'test_loss.py::test_toy_loss'.")
    title: OneLine = Field(description="Human title shown to students.")
    score: float
    max_score: NonNegative = Field(description="Points available for this check (>= 0).")
    status: Status
    output: Text = Field(description="Feedback for this check.")
    visibility: Visibility = "visible"
    diagnosis: OneLine | None = Field(default=None, description="A recognised common mistake, if any.")
    duration_s: NonNegative = 0.0
    tags: list[OneLine] = Field(default_factory=list)

    @model_validator(mode="after")
    def _clamp_score(self) -> CheckResult:
        # Direct __dict__ writes: assigning attributes inside an after-validator could re-enter validation.
        score = min(max(self.score, 0.0), self.max_score)
        if self.status == "skipped":
            score = 0.0
        self.__dict__["score"] = score
        return self


class GradeResult(_Model):
    """Everything known about grading one submission. Build it with `GradeResult.build`."""

    schema_version: Literal[1] = SCHEMA_VERSION
    assignment: str = Field(min_length=1)
    assignment_version: str
    grader_version: str
    submission_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    sandbox: str
    isolated: bool
    score: NonNegative
    max_score: NonNegative
    tests: list[CheckResult]
    status: GradeStatus = Field(
        description="graded; rejected (the submission could not be taken in, every check scores 0); "
        "error (the grader itself failed)."
    )
    message: OneLine = ""
    started_at: datetime
    duration_s: NonNegative
    timings: dict[str, NonNegative] = Field(default_factory=dict, description="Phase name -> seconds.")
    versions: dict[str, str] = Field(default_factory=dict, description="python, numpy, torch, ...")
    output: Log = Field(default="", description="A log for the student.")
    secret_fingerprint: str = Field(
        default="",
        pattern=r"^([0-9a-f]{16})?$",
        description="One-way digest of the grading secret the checks' inputs were derived from "
        "(empty in results written before it was recorded).",
    )

    @model_validator(mode="after")
    def _check_totals(self) -> GradeResult:
        duplicates = sorted(n for n, count in Counter(t.name for t in self.tests).items() if count > 1)
        if duplicates:
            raise ValueError(f"check names must be unique, repeated: {', '.join(duplicates)}")
        for field, total in (
            ("score", math.fsum(t.score for t in self.tests)),
            ("max_score", math.fsum(t.max_score for t in self.tests)),
        ):
            value = getattr(self, field)
            if not math.isclose(value, total, rel_tol=1e-12, abs_tol=SCORE_TOLERANCE):
                raise ValueError(f"{field} {value!r} is not the sum over the checks ({total!r})")
        if self.status == "rejected" and any(t.score != 0 or t.status != "error" for t in self.tests):
            raise ValueError("a rejected submission must list every check with score 0 and status 'error'")
        return self

    @classmethod
    def build(cls, *, tests: Sequence[CheckResult], **fields: Any) -> GradeResult:
        """Create a result whose `score` and `max_score` are the sums over `tests`.

        Callers never compute totals themselves; passing `score` or `max_score` is a TypeError.
        """
        if "score" in fields or "max_score" in fields:
            raise TypeError("GradeResult.build computes score and max_score from the checks")
        tests = list(tests)
        return cls(
            **fields,
            tests=tests,
            score=math.fsum(t.score for t in tests),
            max_score=math.fsum(t.max_score for t in tests),
        )

    def validated(self) -> GradeResult:
        """Return a freshly validated copy; raises ValueError if the object was edited into a bad state."""
        return type(self).model_validate(self.model_dump())

    def student_view(
        self, *, hide: Sequence[Visibility] = ("hidden", "after_due_date", "after_published")
    ) -> GradeResult:
        """Return a copy in which checks whose visibility is in `hide` reveal nothing but title and points.

        Their feedback becomes "Hidden check.", the diagnosis is dropped and the duration set to 0 (a
        per-check time could encode hidden inputs, SECURITY-NOTES B4/B5).
        """
        tests = [
            t.model_copy(update={"output": HIDDEN_OUTPUT, "diagnosis": None, "duration_s": 0.0})
            if t.visibility in hide
            else t
            for t in self.tests
        ]
        return self.model_copy(update={"tests": tests}).validated()

    def to_json(self) -> str:
        """Serialise as pretty JSON (2-space indent, trailing newline).

        The object is re-validated first, so in-place edits after construction cannot produce an invalid
        file, and NaN/Infinity raise ValueError instead of being written (pydantic's own `model_dump_json`
        would silently write them as ``null``).
        """
        data = self.validated().model_dump(mode="json")
        return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a result file (`GradeResult`), for ``grade schema``."""
    schema = GradeResult.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def write_atomic(path: Path | str, text: str, *, mode: int = 0o644) -> None:
    """Write `text` (UTF-8) to `path` so readers see either the old file or the complete new one.

    The data goes to a new temporary file in the same folder (created with O_EXCL, never through an
    existing link), is fsynced, and is renamed over `path`. If `path` is a symlink, the link itself is
    replaced and its target is left untouched.
    """
    path = Path(path)
    data = text.encode("utf-8")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; not every platform can open a directory.
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed in a result file")


def load_result(path: Path | str, *, max_bytes: int = MAX_RESULT_BYTES) -> GradeResult:
    """Read and validate a result file written by `GradeResult.to_json`.

    Raises ValueError with the path and a one-line reason for anything that is not a valid result:
    a missing or non-regular file, more than `max_bytes`, bad UTF-8 or JSON, NaN/Infinity, or a schema
    violation.
    """
    path = Path(path)
    try:
        # O_NONBLOCK: opening a FIFO planted in place of a result must not hang the batch.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        raise ValueError(f"{path}: cannot read result file: {e.strerror or e}") from e
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"{path}: not a regular file")
        try:
            raw = f.read(max_bytes + 1)
        except OSError as e:
            raise ValueError(f"{path}: cannot read result file: {e.strerror or e}") from e
    if len(raw) > max_bytes:
        raise ValueError(f"{path}: result file larger than {max_bytes} bytes")
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: result file is not UTF-8") from e
    except RecursionError as e:
        raise ValueError(f"{path}: result file is nested too deeply") from e
    except ValueError as e:  # json.JSONDecodeError, NaN/Infinity, huge integers
        raise ValueError(f"{path}: invalid JSON in result file: {e}") from e
    try:
        return GradeResult.model_validate(data)
    except ValueError as e:
        raise ValueError(f"{path}: not a valid grade result: {_first_error(e)}") from e


def _first_error(error: ValueError) -> str:
    errors = getattr(error, "errors", None)
    if callable(errors):
        details = errors()
        if details:
            where = ".".join(str(p) for p in details[0].get("loc", ())) or "result"
            more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
            return f"{where}: {details[0].get('msg', error)}{more}"
    return str(error)
