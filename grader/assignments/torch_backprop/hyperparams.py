"""``hyperparams.json`` of a submission: the CIFAR-2 MLP's training settings, validated."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

#: The largest file taken as hyperparams.json.
MAX_BYTES = 4096


class Hyperparams(BaseModel):
    """The settings ``train_manual_update`` gets for CIFAR-2 (every field required, nothing else)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lr: float = Field(gt=0, le=10)
    momentum: float = Field(ge=0, lt=1)
    weight_decay: float = Field(ge=0, le=1)
    n_epochs: int = Field(ge=1, le=100)
    batch_size: int = Field(ge=1, le=9000)


class HyperparamError(Exception):
    """hyperparams.json is missing or invalid; the message is one line."""


def load_hyperparams(path: Path) -> Hyperparams:
    """Read and validate ``path``, or raise :class:`HyperparamError`."""
    if not path.is_file():
        raise HyperparamError("hyperparams.json is missing: the CIFAR-2 model is trained with its settings")
    if path.stat().st_size > MAX_BYTES:
        raise HyperparamError(f"hyperparams.json is larger than {MAX_BYTES} bytes")
    try:
        return Hyperparams.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HyperparamError(f"hyperparams.json is not valid JSON: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise HyperparamError(f"hyperparams.json: {where}: {first['msg']}") from None
