"""The student's ``hyperparams.json`` for the PyTorch MLP: read with a size cap, strict types, sane
ranges, never evaluated. NaN/Infinity literals and unknown keys are refused."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

MAX_BYTES = 64 * 1024


class HyperparamError(ValueError):
    """An unusable hyperparams.json; the message is one line naming the field."""


class TorchSettings(BaseModel):
    """What ``mlp_pytorch.train`` is called with (the optimizer is the student's own choice)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    hidden_dims: list[int] = Field(min_length=1, max_length=8)
    lr: float = Field(gt=0, le=10)
    use_batch_norm: bool
    batch_size: int = Field(ge=2, le=10_000)
    epochs: int = Field(ge=1, le=50)


def _reject(name: str) -> None:
    raise HyperparamError(f"hyperparams.json: {name} is not a number")


def load_hyperparams(path: Path) -> TorchSettings:
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
    if isinstance(raw, dict) and type(raw.get("lr")) is int:
        raw["lr"] = float(raw["lr"])  # JSON has one number type: "lr": 1 is fine
    if isinstance(raw, dict) and any(type(h) is not int or not 1 <= h <= 4096 for h in raw.get("hidden_dims", [])):
        raise HyperparamError("invalid hyperparameter hidden_dims: widths must be integers from 1 to 4096")
    try:
        return TorchSettings.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the file"
        raise HyperparamError(f"invalid hyperparameter {where}: {first['msg']}") from None
