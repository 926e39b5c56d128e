"""Training data made once per grader process and handed to every grading's sandbox read-only.

A pack's training checks put arrays into the grading's training folder (the ``training_data_dir``
fixture), which the training worker sees read-only and memory-maps (``Ref("$file", NAME)``). Loading and
normalising a data set, then writing it there, took seconds per submission: CIFAR-10's training split
alone is 600 MB as float32. :func:`place_arrays` makes the arrays once per process (a batch worker grades
many submissions), keeps them as read-only ``.npy`` files in a private folder of this process, and
hard-links them into each grading's training folder, which costs nothing. The trusted side gets the
same arrays memory-mapped, so a batch worker holds at most page cache for them, not a copy per grading.

Isolation is unchanged: a file is linked only into folders that sandboxes see read-only, its mode is
0444, and no sandbox can reach the private folder. The folder is removed when the process exits
normally; a process killed outright leaves it in the temporary folder (``backprop-grader-shared-*``).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Hashable, Mapping
from pathlib import Path

import numpy as np

_lock = threading.Lock()
_made: dict[Hashable, dict[str, Path]] = {}
_folder: Path | None = None


def place_arrays(folder: Path, key: Hashable, make: Callable[[], Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Put ``NAME.npy`` into ``folder`` for every array ``make()`` returns; return them memory-mapped.

    ``make`` runs once per process for ``key`` (say, the data folder and what is taken from it); later
    calls with the same key link the files made then. Names must be identifiers (``Ref("$file", NAME)``).
    """
    with _lock:
        files = _made.get(key)
        if files is None:
            files = _made[key] = _save(make())
    arrays = {}
    for name, source in files.items():
        target = folder / source.name
        try:
            os.link(source, target)
        except OSError:  # another file system: a copy, still read-only
            shutil.copyfile(source, target)
            target.chmod(0o444)
        # A plain, read-only ndarray over the mapping: a memmap subclass is refused where arrays are sent.
        arrays[name] = np.asarray(np.load(source, mmap_mode="r", allow_pickle=False))
    return arrays


def folder_signature(folder: Path) -> tuple:
    """The files under ``folder`` with their sizes and modification times: part of a key, so that a
    data set changed on disk is made again."""
    return tuple(sorted((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()))


def _save(arrays: Mapping[str, np.ndarray]) -> dict[str, Path]:
    """Write the arrays as read-only ``NAME.npy`` files in a new folder of the private one."""
    folder = _private_folder() / str(len(_made))
    folder.mkdir(mode=0o755)
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
        _folder = Path(tempfile.mkdtemp(prefix="backprop-grader-shared-"))
        atexit.register(shutil.rmtree, _folder, True)
    return _folder
