"""The engine files a student bundle carries (``ENGINE_FILES`` in grader/engine/bundle.py) cover every
module of this grader that the bundle's ``grade check`` and ``grade ci`` import, found by reading the
imports (also those inside functions) from the bundle's entry points, without building a bundle."""

from __future__ import annotations

import ast
from pathlib import Path

from grader.engine.bundle import ENGINE_FILES

GRADER = Path(__file__).resolve().parents[1] / "grader"
#: Where the bundle's command starts, and the modules its checks and frozen tables load.
ENTRY_POINTS = ("cli/student.py", "cli/selfcheck.py", "cli/ci.py", "engine/grading.py", "engine/frozen.py", "pack.py")
#: Written by the bundle itself (its own ``grade`` command), never copied.
WRITTEN_BY_THE_BUNDLE = {"cli/__init__.py"}


def _module_file(name: str) -> Path | None:
    path = GRADER.parent.joinpath(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_files(start: list[Path]) -> set[Path]:
    """Every file of ``grader`` reachable by imports from ``start`` (parent packages included)."""
    seen: set[Path] = set()
    todo = list(start)
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        package = path.relative_to(GRADER.parent).with_suffix("").parts[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join([*package[: len(package) - node.level + 1], *([base] if base else [])])
                names = [base, *(f"{base}.{a.name}" for a in node.names)]
            for name in names:
                parts = name.split(".")
                if parts[0] != "grader":
                    continue
                for i in range(1, len(parts) + 1):
                    found = _module_file(".".join(parts[:i]))
                    if found is not None and found.relative_to(GRADER).as_posix() not in WRITTEN_BY_THE_BUNDLE:
                        todo.append(found)
    return seen


def _carried(relative: str) -> bool:
    return any(relative == entry or relative.startswith(entry.rstrip("/") + "/") for entry in ENGINE_FILES)


def test_engine_files_cover_every_module_grade_check_imports() -> None:
    start = [GRADER / p for p in ENTRY_POINTS]
    for entry in ENGINE_FILES:
        folder = GRADER / entry
        assert folder.exists(), f"ENGINE_FILES names {entry}, which does not exist"
        if folder.is_dir():
            start += sorted(folder.rglob("*.py"))
    needed = {p.relative_to(GRADER).as_posix() for p in _imported_files(start)}
    assert {"engine/secret.py", "engine/budget.py", "cli/console.py", "sandbox/seccomp.py"} <= needed
    missing = sorted(p for p in needed if not _carried(p))
    assert not missing, f"grade check imports modules the bundle does not carry: {missing}"
