"""Training arrays are made once per process and linked read-only into every grading's folder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from grader.engine.shared_data import place_arrays


def test_arrays_are_made_once_and_every_folder_gets_the_same_read_only_files(tmp_path: Path) -> None:
    made = []

    def make() -> dict[str, np.ndarray]:
        made.append(1)
        return {"X_train": np.arange(12.0).reshape(3, 4), "y_train": np.array([2, 0, 1])}

    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    key = ("test", str(tmp_path))
    arrays = place_arrays(first, key, make)
    again = place_arrays(second, key, make)
    assert len(made) == 1
    for name, expected in make().items():
        for folder in (first, second):
            path = folder / f"{name}.npy"
            assert np.array_equal(np.load(path), expected)
            assert path.stat().st_mode & 0o777 == 0o444
        assert os.path.samefile(first / f"{name}.npy", second / f"{name}.npy")
        for returned in (arrays[name], again[name]):
            assert type(returned) is np.ndarray and isinstance(returned.base, np.memmap)
            assert not returned.flags.writeable
            assert np.array_equal(returned, expected)


def test_a_name_the_sandbox_cannot_ask_for_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="identifier"):
        place_arrays(tmp_path, ("test", "bad name", str(tmp_path)), lambda: {"X-train": np.zeros(2)})
