"""What of the grader's Python environment a bwrap worker may see: an allow-list, not a hide-list.

The worker needs the interpreter, its standard library, numpy and torch. Each ``site-packages``
folder of the running interpreter is therefore mounted as an empty tmpfs with only the allowed
distributions bound back into it: numpy, torch and what they require to import. The grader, the
reference, the packs, pydantic, pytest and anything else installed beside them are not in the
worker's file system at all, however they were installed (editable, wheel, or a ``.pth`` file).
"""

from __future__ import annotations

import csv
import os
import re
import site
import sys
from functools import cache
from importlib import metadata
from pathlib import Path

#: The distributions a worker imports; their runtime requirements are added transitively.
WORKER_DISTRIBUTIONS = ("numpy", "torch")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _runtime_requirements(dist: metadata.Distribution) -> list[str]:
    """Names a distribution needs at run time here: requirements behind an ``extra``, or whose
    environment marker does not hold for this interpreter, are left out."""
    names = []
    for requirement in dist.requires or []:
        name, _, marker = requirement.partition(";")
        if "extra" in marker or not _marker_holds(marker.strip()):
            continue
        match = _NAME.match(name)
        if match:
            names.append(match.group(1))
    return names


def _marker_holds(marker: str) -> bool:
    if not marker:
        return True
    try:
        from packaging.markers import InvalidMarker, Marker
    except ImportError:  # without packaging, allow it: one package too many beats a worker that cannot import torch
        return True
    try:
        return Marker(marker).evaluate()
    except InvalidMarker:
        return True


@cache
def allowed_distributions() -> tuple[metadata.Distribution, ...]:
    """numpy, torch and their installed run-time requirements, each once."""
    seen: dict[str, metadata.Distribution] = {}
    pending = list(WORKER_DISTRIBUTIONS)
    while pending:
        name = _normalise(pending.pop())
        if name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # an optional or platform-specific requirement that is not installed here
        seen[name] = dist
        pending += _runtime_requirements(dist)
    return tuple(seen.values())


def site_dirs() -> list[str]:
    """The interpreter's ``site-packages`` folders (resolved), where installed packages live."""
    found = {os.path.realpath(p) for p in site.getsitepackages() if os.path.isdir(p)}
    return sorted(found)


def _top_level_names(dist: metadata.Distribution) -> set[str]:
    """The first path component of every file the distribution installed, relative to its base.

    Read from its ``RECORD`` as CSV text: torch lists about 15,000 files, and a path object for each
    (``dist.files``) cost about 0.3 s on the way to every bwrap grading's first worker.
    """
    record = dist.read_text("RECORD")
    if record is None:  # not installed from a wheel (an egg-info folder): the slower, general way
        return {Path(file).parts[0] for file in dist.files or [] if Path(file).parts}
    return {row[0].split("/", 1)[0] for row in csv.reader(record.splitlines()) if row and row[0]}


@cache
def allowed_entries() -> tuple[str, ...]:
    """Absolute paths of the top-level files and folders of the allowed distributions, inside
    :func:`site_dirs`, including each one's ``.dist-info`` and bundled-library folders (``numpy.libs``)."""
    roots = site_dirs()
    entries: set[str] = set()
    for dist in allowed_distributions():
        base = os.path.realpath(str(dist.locate_file("")))
        if base not in roots:
            continue
        for top in _top_level_names(dist):
            # __pycache__ at the top holds bytecode of every single-file module installed here.
            if top in ("..", "__pycache__") or top.endswith(".pth"):
                continue
            path = os.path.join(base, top)
            if os.path.exists(path):
                entries.add(path)
    return tuple(sorted(entries))


def describe() -> str:
    """One line for the README and diagnostics: the allowed distributions with their versions."""
    return ", ".join(f"{d.metadata['Name']} {d.version}" for d in allowed_distributions())


if __name__ == "__main__":  # pragma: no cover - a maintenance aid: python -m grader.sandbox.allowlist
    print(describe())
    for entry in allowed_entries():
        print(entry)
    sys.exit(0)
