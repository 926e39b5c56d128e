"""Assignment packs: how an assignment is found, loaded and validated.

A pack is one assignment, a Python package holding:

- ``assignment.toml``: id, title, version, the submission's files, limits, and a ``[settings]``
  table that the pack validates with its own pydantic model (``Settings`` in ``__init__.py``);
- ``fixtures.py``: the pack's pytest fixtures and helpers, registered by the engine as a plugin
  (packs have no ``conftest.py``: the engine runs pytest with ``--noconftest``);
- ``test_*.py``: the checks; ``mutants.py``: the mistake catalogue;
- its reference (trusted code) and its handout (what students get).

Built-in packs live in ``grader/assignments/<package>/`` with the reference in
``reference/<package>/`` and the handout in ``student_template/<id>/``. An instructor's own pack is
one folder anywhere (``--assignment PATH``, or a folder of packs in ``BACKPROP_GRADER_PACKS``) with
``reference/`` and ``handout/`` inside it.

Every pack is imported under a package name of its own (built-in: ``grader.assignments.<package>``;
a folder: ``backprop_grader_packs.<package>_<hash of its path>``), so two packs graded in one
process never share a module, whatever their files are called.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "assignments"
BUILTIN_PACKAGE = "grader.assignments"
#: Where packs loaded from a folder are registered in ``sys.modules``.
FOLDER_PACKAGE = "backprop_grader_packs"
#: Folders of instructors' packs listed by ``grade assignments`` (``os.pathsep``-separated).
PACKS_ENV = "BACKPROP_GRADER_PACKS"
#: The assignment used when a command names none (an id or a pack folder), for example set once
#: for a course's CI or a student bundle.
ASSIGNMENT_ENV = "BACKPROP_GRADER_ASSIGNMENT"
_REPO_ROOT = BUILTIN_DIR.parent.parent
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class AssignmentError(Exception):
    """An unknown assignment or an invalid pack; the message is one line."""


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


class DataRules(_Strict):
    #: The data set the training checks need (``cifar10``), or None.
    dataset: str | None = None


class NoSettings(_Strict):
    """The settings model of a pack that declares none: an empty ``[settings]`` table."""


class Assignment(_Strict):
    """One loaded assignment pack: its ``assignment.toml`` plus where its parts are."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    id: str = Field(pattern=_ID.pattern)
    title: str
    version: str
    files: FileRules
    limits: LimitSettings = LimitSettings()
    data: DataRules = DataRules()
    #: The pack's own ``[settings]``, validated by its ``Settings`` model.
    settings: BaseModel = Field(default_factory=NoSettings, exclude=True)
    #: The folder holding ``assignment.toml`` and the checks.
    folder: Path = Field(exclude=True)
    #: The importable package name of the pack (unique per pack folder).
    package: str = Field(exclude=True)
    #: The handout folder (files students start from), when the pack has one here.
    handout: Path | None = Field(default=None, exclude=True)
    builtin: bool = Field(default=True, exclude=True)

    @property
    def dataset(self) -> str | None:
        """The data set the pack's training checks need (``[data] dataset``), or None."""
        return self.data.dataset

    def allows(self, relative_path: str) -> bool:
        """Whether a submission file is taken in (everything else is dropped at intake)."""
        return relative_path in self.files.required or relative_path in self.files.optional

    @property
    def module(self) -> ModuleType:
        """The pack's package (its ``__init__``), imported."""
        return importlib.import_module(self.package)

    def hook(self, name: str) -> Callable[..., Any] | None:
        """A function the pack's ``__init__`` may define (``write_example``, ``check_reference``)."""
        value = getattr(self.module, name, None)
        return value if callable(value) else None


def builtin_ids() -> list[str]:
    """Ids of the packs that ship with the grader."""
    return sorted(_builtin_folders())


def available() -> list[str]:
    """Ids of the built-in packs, then ``id (PATH)`` for packs found in ``BACKPROP_GRADER_PACKS``."""
    listed = builtin_ids()
    for folder in _configured_folders():
        listed.append(f"{_read_toml(folder).get('id', folder.name)} ({folder})")
    return listed


def default_assignment() -> str | None:
    """The assignment used when none is named: the only pack there is, or None when there are several."""
    ids = builtin_ids()
    return ids[0] if len(ids) == 1 and not _configured_folders() else None


def load_assignment(name: str | Path) -> Assignment:
    """Load a pack by built-in id, by id in ``BACKPROP_GRADER_PACKS``, or by folder path.

    Raises :class:`AssignmentError` with a one-line reason for an unknown id or an invalid pack.
    """
    text = str(name)
    builtin = _builtin_folders()
    if text in builtin:
        folder = builtin[text]
        return _load(folder, f"{BUILTIN_PACKAGE}.{folder.name}", _REPO_ROOT / "student_template" / text, True)
    for folder in _configured_folders():
        if _read_toml(folder).get("id") == text:
            return load_folder(folder)
    path = Path(text).expanduser()
    if os.sep in text or path.is_dir():
        return load_folder(path)
    known = ", ".join(available()) or "none"
    raise AssignmentError(f"unknown assignment {text!r} (available: {known}; or give a pack folder's path)")


def load_folder(folder: Path) -> Assignment:
    """Load an instructor's pack from ``folder`` (which holds ``assignment.toml`` and ``__init__.py``)."""
    folder = folder.resolve()
    if not (folder / "assignment.toml").is_file():
        raise AssignmentError(f"{folder} is not an assignment pack: it has no assignment.toml")
    if not (folder / "__init__.py").is_file():
        raise AssignmentError(f"{folder} is not an assignment pack: it has no __init__.py (packs are packages)")
    digest = hashlib.sha256(str(folder).encode()).hexdigest()[:10]
    package = f"{FOLDER_PACKAGE}.{re.sub(r'[^0-9A-Za-z_]', '_', folder.name)}_{digest}"
    _register_folder_package(package, folder)
    return _load(folder, package, folder / "handout", False)


def _load(folder: Path, package: str, handout: Path, builtin: bool) -> Assignment:
    raw = _read_toml(folder)
    try:
        module = importlib.import_module(package)
    except Exception as exc:  # noqa: BLE001 - any failure of the pack's own code is the pack's error
        raise AssignmentError(f"pack {folder.name} does not import: {type(exc).__name__}: {exc}") from None
    settings_model = getattr(module, "Settings", NoSettings)
    if not (isinstance(settings_model, type) and issubclass(settings_model, BaseModel)):
        raise AssignmentError(f"pack {folder.name}: Settings must be a pydantic model")
    where = raw.get("id", folder.name)
    try:
        settings = settings_model.model_validate(raw.pop("settings", {}))
    except ValidationError as exc:
        raise AssignmentError(f"invalid [settings] in {where}/assignment.toml: {_first_error(exc)}") from None
    try:
        return Assignment.model_validate(
            {
                **raw,
                "settings": settings,
                "folder": folder,
                "package": package,
                "handout": handout if handout.is_dir() else None,
                "builtin": builtin,
            }
        )
    except ValidationError as exc:
        raise AssignmentError(f"invalid assignment.toml in {where}: {_first_error(exc)}") from None


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    location = ".".join(str(part) for part in error["loc"]) or "(top level)"
    return f"{location}: {error['msg']}"


def _read_toml(folder: Path) -> dict[str, Any]:
    try:
        return tomllib.loads((folder / "assignment.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AssignmentError(f"unreadable assignment.toml in {folder}: {first}") from None


@cache
def _builtin_folders() -> dict[str, Path]:
    """Built-in pack id -> folder (the id comes from each ``assignment.toml``)."""
    found = {}
    for toml in sorted(BUILTIN_DIR.glob("*/assignment.toml")):
        found[str(_read_toml(toml.parent).get("id", toml.parent.name))] = toml.parent
    return found


def _configured_folders() -> list[Path]:
    """Pack folders inside the folders named by ``BACKPROP_GRADER_PACKS``."""
    folders = []
    for entry in filter(None, os.environ.get(PACKS_ENV, "").split(os.pathsep)):
        base = Path(entry).expanduser()
        candidates = [base] if (base / "assignment.toml").is_file() else sorted(base.glob("*/assignment.toml"))
        folders += [c.parent if c.name == "assignment.toml" else c for c in candidates]
    return [f.resolve() for f in folders]


def _register_folder_package(package: str, folder: Path) -> None:
    """Make ``package`` importable from ``folder`` without putting the folder on ``sys.path``."""
    if package in sys.modules:
        return
    if FOLDER_PACKAGE not in sys.modules:
        parent = ModuleType(FOLDER_PACKAGE)
        parent.__path__ = []  # a namespace for every folder pack; each registers itself below
        sys.modules[FOLDER_PACKAGE] = parent
    spec = importlib.util.spec_from_file_location(
        package, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    if spec is None or spec.loader is None:
        raise AssignmentError(f"{folder} cannot be imported as a package")
    module = importlib.util.module_from_spec(spec)
    sys.modules[package] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - the pack's own code failed
        del sys.modules[package]
        raise AssignmentError(f"pack {folder.name} does not import: {type(exc).__name__}: {exc}") from None


def resolve_assignment(name: str | Path | None) -> Assignment:
    """:func:`load_assignment` of ``name``; when ``name`` is None, of ``BACKPROP_GRADER_ASSIGNMENT``
    or else the only pack there is."""
    if name is None or str(name) == "":
        name = os.environ.get(ASSIGNMENT_ENV) or None
    if name is None:
        only = default_assignment()
        if only is None:
            known = ", ".join(available()) or "none"
            raise AssignmentError(
                f"several assignments are installed: choose one with --assignment or {ASSIGNMENT_ENV} ({known})"
            )
        name = only
    return load_assignment(name)


def infer_assignment(folder: Path) -> str | None:
    """The built-in pack whose required files are all in ``folder``, when exactly one pack fits."""
    fitting = []
    for pack_id in builtin_ids():
        required = _required_files(_builtin_folders()[pack_id])
        if required and all((folder / name).is_file() for name in required):
            fitting.append(pack_id)
    return fitting[0] if len(fitting) == 1 else None


def _required_files(folder: Path) -> list[str]:
    """The required submission files a pack's ``assignment.toml`` names (without importing the pack)."""
    files = _read_toml(folder).get("files", {})
    required = files.get("required", []) if isinstance(files, dict) else []
    return [str(name) for name in required]
