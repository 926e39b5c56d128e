"""The student's ``hyperparams.json``: read with a size cap, strict types and consistent ranges.

Read on the trusted side from the grader's own copy of the submission, never evaluated: NaN and
Infinity literals and unknown keys are refused.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

#: Largest hyperparams.json read.
MAX_BYTES = 64 * 1024


class HyperparamError(ValueError):
    """An unusable hyperparams.json; the message is one line naming the field."""


class SearchRange(BaseModel):
    """A range of ``log10(lam)`` searched (lam drawn as ``10**l`` with ``l_min <= l <= l_max``)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    l_min: float = Field(ge=-10, le=1)
    l_max: float = Field(ge=-10, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> SearchRange:
        if not self.l_min < self.l_max:
            raise ValueError("l_min must be below l_max")
        return self


class Hyperparams(BaseModel):
    """The chosen ``lam``, schedule and batch size, and the coarse and fine search ranges used."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    lam: float = Field(gt=0, le=1)
    n_s: int = Field(ge=1, le=100_000)
    cycles: int = Field(ge=1, le=100)
    n_batch: int = Field(ge=1, le=5000)
    coarse: SearchRange
    fine: SearchRange

    @model_validator(mode="after")
    def _consistent(self) -> Hyperparams:
        if not (self.coarse.l_min <= self.fine.l_min and self.fine.l_max <= self.coarse.l_max):
            raise ValueError("the fine range must lie inside the coarse range")
        level = math.log10(self.lam)
        if not self.fine.l_min - 1e-9 <= level <= self.fine.l_max + 1e-9:
            raise ValueError(f"lam = {self.lam:g} (log10 {level:.3f}) is outside the fine range")
        return self

    @property
    def updates(self) -> int:
        """Updates of the final run: ``2 n_s`` per cycle."""
        return 2 * self.n_s * self.cycles


def _reject(name: str) -> None:
    raise HyperparamError(f"hyperparams.json: {name} is not a number")


def _floats(raw: object) -> object:
    """Let JSON integers stand for floats where a float is expected (``"l_min": -5`` is fine)."""
    if isinstance(raw, dict):
        return {
            k: float(v) if k in ("lam", "l_min", "l_max") and type(v) is int else _floats(v) for k, v in raw.items()
        }
    return raw


def load_hyperparams(path: Path) -> Hyperparams:
    """Parse and validate ``hyperparams.json``; raise :class:`HyperparamError` with one line."""
    if not path.is_file():
        raise HyperparamError("hyperparams.json is missing from the submission")
    if path.stat().st_size > MAX_BYTES:
        raise HyperparamError(f"hyperparams.json is larger than {MAX_BYTES} bytes")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"), parse_constant=_reject)
    except HyperparamError:
        raise
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError) as exc:
        raise HyperparamError(f"hyperparams.json is not valid JSON: {str(exc).splitlines()[0]}") from None
    try:
        return Hyperparams.model_validate(_floats(raw))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "content"
        raise HyperparamError(f"hyperparams.json: invalid {where}: {first['msg']}") from None
