"""Assignment packs: ``grader/assignments/<id>/assignment.toml`` plus pytest checks beside it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ASSIGNMENTS_DIR = Path(__file__).resolve().parent.parent / "assignments"


class AssignmentError(Exception):
    """An unknown assignment id or an invalid ``assignment.toml``; the message is one line."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileRules(_Strict):
    required: list[str]
    optional: list[str] = Field(default_factory=list)


class LimitSettings(_Strict):
    check_seconds: float = Field(20, gt=0, le=3600)
    train_seconds: float = Field(300, gt=0, le=7200)
    memory_mb: int = Field(2048, ge=256, le=65536)
    train_memory_mb: int = Field(4096, ge=256, le=65536)
    max_processes: int = Field(64, ge=8, le=4096)
    tmpfs_mb: int = Field(64, ge=1, le=4096)


class AccuracySettings(_Strict):
    mode: Literal["retrain", "weights", "off"] = "retrain"
    two_layer_min: float = Field(0.48, ge=0, le=1)
    mlp_min: float = Field(0.48, ge=0, le=1)


class Assignment(_Strict):
    """The parsed ``assignment.toml`` of one assignment pack."""

    id: str
    title: str
    version: str
    files: FileRules
    limits: LimitSettings = LimitSettings()
    accuracy: AccuracySettings = AccuracySettings()
    #: The data set the accuracy checks need (a name in ``grader.engine.datasets.DATASETS``), if any.
    dataset: str | None = None
    folder: Path = Field(exclude=True)

    def allows(self, relative_path: str) -> bool:
        """Whether a submission file is taken in (everything else is dropped at intake)."""
        return relative_path in self.files.required or relative_path in self.files.optional


def available() -> list[str]:
    """Ids of the assignment packs that ship with the grader."""
    return sorted(p.parent.name for p in ASSIGNMENTS_DIR.glob("*/assignment.toml"))


def load_assignment(assignment_id: str) -> Assignment:
    """Load an assignment pack by id, or raise :class:`AssignmentError`."""
    folder = ASSIGNMENTS_DIR / assignment_id
    if "/" in assignment_id or not (folder / "assignment.toml").is_file():
        known = ", ".join(available()) or "none"
        raise AssignmentError(f"unknown assignment {assignment_id!r} (available: {known})")
    try:
        raw = tomllib.loads((folder / "assignment.toml").read_text(encoding="utf-8"))
        return Assignment.model_validate({**raw, "folder": folder})
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        first = str(exc).splitlines()[0]
        raise AssignmentError(f"invalid assignment.toml for {assignment_id}: {first}") from None
