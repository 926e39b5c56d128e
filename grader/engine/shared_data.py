"""Training data made once per grader process and handed to every grading's sandbox read-only.

A pack's training checks put arrays into the grading's training folder (the ``training_data_dir``
fixture), which the training worker sees read-only and memory-maps (``Ref("$file", NAME)``). Loading and
normalising a data set, then writing it there, took seconds per submission: CIFAR-10's training split
alone is 600 MB as float32. :func:`share_data_set` reads a data set once per process (a batch worker
grades many submissions), keeps its training arrays as read-only ``.npy`` files in a private folder of
this process, and hard-links them into each grading's training folder, which costs nothing. The trusted
side gets the same arrays memory-mapped, so a batch worker holds at most page cache for them, not a copy
per grading.

Isolation is unchanged: a file is linked only into folders that sandboxes see read-only, its mode is
0444, and no sandbox can reach the private folder. The folder is removed when the process exits
normally. A process killed outright leaves it in the temporary folder (``backprop-grader-shared-*``,
named after its owner) until the next grader on the host shares a data set and removes it.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Hashable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from grader.sandbox.owners import current_owner, owner_alive

#: Start of a private folder's name, followed by its owner and a random tail.
PREFIX = "backprop-grader-shared-"

_lock = threading.Lock()
#: Per pack, the data set read last: its key, what the checks keep, and the files of its arrays.
_made: dict[str, tuple[Hashable, Any, dict[str, Path]]] = {}
_folder: Path | None = None

Kept = TypeVar("Kept")


def share_data_set(
    pack: str,
    data_dir: Path,
    training_dir: Path,
    load: Callable[[Path], tuple[Kept, Mapping[str, np.ndarray]]],
) -> tuple[Kept, dict[str, np.ndarray]]:
    """A pack's data set, read once per process: what its checks keep, and the training arrays.

    ``load(folder)`` returns what the checks keep on the trusted side and the arrays the training worker
    may see (names are identifiers, ``Ref("$file", NAME)``). It runs once per process for the data folder
    as it is on disk (its files, sizes and times: a changed data set is read again). The arrays are linked
    into ``training_dir`` and come back memory-mapped; the kept part is shared by every grading of the
    process, so the checks must not change it.
    """
    folder = Path(data_dir).resolve()
    key = (folder, _signature(folder))
    with _lock:
        made = _made.get(pack)
        if made is None or made[0] != key:
            kept, arrays = load(folder)
            if made is not None:  # the data set changed on disk: its old files go (linked copies stay)
                for old in made[2].values():
                    old.unlink(missing_ok=True)
            made = _made[pack] = (key, kept, _save(arrays))
    _, kept, files = made
    return kept, _link(files, training_dir)


def _link(files: dict[str, Path], training_dir: Path) -> dict[str, np.ndarray]:
    """Hard-link the files into a grading's training folder; the arrays, memory-mapped read-only."""
    arrays = {}
    for name, source in files.items():
        target = training_dir / source.name
        try:
            os.link(source, target)
        except OSError:  # another file system: a copy, still read-only
            shutil.copyfile(source, target)
            target.chmod(0o444)
        # A plain, read-only ndarray over the mapping: a memmap subclass is refused where arrays are sent.
        arrays[name] = np.asarray(np.load(source, mmap_mode="r", allow_pickle=False))
    return arrays


def _signature(folder: Path) -> tuple:
    """The files under ``folder`` with their sizes and modification times."""
    return tuple(sorted((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()))


def _save(arrays: Mapping[str, np.ndarray]) -> dict[str, Path]:
    """Write the arrays as read-only ``NAME.npy`` files in a new folder of the private one."""
    folder = Path(tempfile.mkdtemp(dir=_private_folder()))
    folder.chmod(0o755)
    files = {}
    for name, array in arrays.items():
        if not name.isidentifier():
            raise ValueError(f"a training array's name must be an identifier, got {name!r}")
        path = folder / f"{name}.npy"
        np.save(path, array, allow_pickle=False)  # keeps the array's order (Fortran order stays so)
        path.chmod(0o444)
        files[name] = path
    return files


def _private_folder() -> Path:
    global _folder
    if _folder is None:
        _folder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{current_owner()}-"))
        atexit.register(shutil.rmtree, _folder, True)
        remove_abandoned_folders(_folder.parent)
    return _folder


def remove_abandoned_folders(parent: Path) -> list[Path]:
    """Remove the shared data folders in ``parent`` whose grader process is gone; return them.

    A folder's name holds its owner (``grader.sandbox.owners``); folders of running graders, of other
    hosts, and of unknown owners stay.
    """
    removed = []
    for folder in parent.glob(f"{PREFIX}*"):
        # mkdtemp's random tail never holds "-", so the owner is everything between prefix and last "-".
        owner = folder.name[len(PREFIX) :].rpartition("-")[0]
        if owner.count(":") == 2 and not owner_alive(owner):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed
