"""The student's ``hyperparams.json``: read with a size cap, strict types and sane ranges.

Read on the trusted side from the grader's own copy of the submission (the sandbox mounts it
read-only), never evaluated: NaN/Infinity literals and unknown keys are refused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

MAX_BYTES = 64 * 1024


class HyperparamError(ValueError):
    """An unusable hyperparams.json; the message is one line naming the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class TwoLayerSettings(_Strict):
    hidden_size: int = Field(ge=1, le=2048)
    learning_rate: float = Field(gt=0, le=10)
    learning_rate_decay: float = Field(gt=0, le=1)
    reg: float = Field(ge=0, le=100)
    num_iters: int = Field(ge=1, le=20000)
    batch_size: int = Field(ge=1, le=10000)
    momentum: float = Field(ge=0, lt=1)


class MlpSettings(_Strict):
    hidden_layers: list[int] = Field(min_length=1, max_length=8)
    epochs: int = Field(ge=1, le=100)
    batch_size: int = Field(ge=1, le=10000)
    learning_rate: float = Field(gt=0, le=10)
    weight_decay: float = Field(ge=0, le=1)
    optimizer: Literal["adam", "sgd"]


class Hyperparams(_Strict):
    two_layer: TwoLayerSettings
    mlp: MlpSettings


def _reject(name: str) -> None:
    raise HyperparamError(f"hyperparams.json: {name} is not a number")


def load_hyperparams(path: Path) -> Hyperparams:
    """Parse and validate ``hyperparams.json``; raise :class:`HyperparamError` with one line."""
    if not path.is_file():
        raise HyperparamError("hyperparams.json is missing from the submission")
    if path.stat().st_size > MAX_BYTES:
        raise HyperparamError(f"hyperparams.json is larger than {MAX_BYTES} bytes")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"), parse_constant=_reject)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError) as exc:
        if isinstance(exc, HyperparamError):
            raise
        raise HyperparamError(f"hyperparams.json is not valid JSON: {str(exc).splitlines()[0]}") from None
    # JSON has one number type: accept 1.0 for an int field only if it is integral, and ints for floats.
    try:
        return Hyperparams.model_validate(_coerce(raw))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise HyperparamError(f"invalid hyperparameter {where}: {first['msg']}") from None


_FLOAT_FIELDS = {"learning_rate", "learning_rate_decay", "reg", "momentum", "weight_decay"}


def _coerce(raw: object) -> object:
    """Let JSON integers stand for floats where a float is expected (``"reg": 0`` is fine)."""
    if not isinstance(raw, dict):
        return raw
    out = {}
    for key, value in raw.items():
        if isinstance(value, dict):
            value = _coerce(value)
        elif key in _FLOAT_FIELDS and type(value) is int:
            value = float(value)
        out[key] = value
    return out
