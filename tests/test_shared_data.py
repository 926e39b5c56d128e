"""A data set is read once per process; its training arrays are linked read-only into every grading's folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from grader.engine.shared_data import PREFIX, share_data_set
from grader.sandbox.owners import current_owner

TRAINING = {"X_train": np.arange(12.0).reshape(3, 4), "y_train": np.array([2, 0, 1])}


def _folders(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A data folder holding one file, and two gradings' training folders."""
    folders = tmp_path / "data", tmp_path / "first", tmp_path / "second"
    for folder in folders:
        folder.mkdir()
    (folders[0] / "batch").write_bytes(b"images")
    return folders


def test_a_data_set_is_read_once_and_every_grading_gets_the_same_read_only_files(tmp_path: Path) -> None:
    data, first, second = _folders(tmp_path)
    reads = []

    def load(folder: Path) -> tuple[str, dict[str, np.ndarray]]:
        reads.append(folder)
        return "kept by the checks", TRAINING

    kept, arrays = share_data_set("test-pack", data, first, load)
    kept_again, again = share_data_set("test-pack", data, second, load)
    assert reads == [data.resolve()]
    assert kept == kept_again == "kept by the checks"
    for name, expected in TRAINING.items():
        for folder in (first, second):
            path = folder / f"{name}.npy"
            assert np.array_equal(np.load(path), expected)
            assert path.stat().st_mode & 0o777 == 0o444
        assert os.path.samefile(first / f"{name}.npy", second / f"{name}.npy")
        for returned in (arrays[name], again[name]):
            assert type(returned) is np.ndarray and isinstance(returned.base, np.memmap)
            assert not returned.flags.writeable
            assert np.array_equal(returned, expected)


def test_a_data_set_changed_on_disk_is_read_again(tmp_path: Path) -> None:
    data, first, second = _folders(tmp_path)
    reads = []

    def load(folder: Path) -> tuple[int, dict[str, np.ndarray]]:
        reads.append(folder)
        return len(reads), {"X_train": np.full(3, float(len(reads)))}

    share_data_set("changing-pack", data, first, load)
    (data / "batch").write_bytes(b"other images")
    kept, arrays = share_data_set("changing-pack", data, second, load)
    assert kept == 2 and np.array_equal(arrays["X_train"], np.full(3, 2.0))
    assert np.array_equal(np.load(first / "X_train.npy"), np.full(3, 1.0))  # the first grading's copy stays


def test_a_name_the_sandbox_cannot_ask_for_is_refused(tmp_path: Path) -> None:
    data, training, _ = _folders(tmp_path)
    with pytest.raises(ValueError, match="identifier"):
        share_data_set("bad-name-pack", data, training, lambda folder: (None, {"X-train": np.zeros(2)}))


#: A grader process in brief: it shares a data set, then exits normally or is killed outright.
SHARE_THEN = """
import os, signal, sys
from pathlib import Path
import numpy as np
from grader.engine.shared_data import PREFIX, share_data_set
from grader.sandbox.owners import current_owner
data, training, ending = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
share_data_set("test-pack", data, training, lambda folder: (None, {"X_train": np.zeros(3)}))
if ending == "killed":
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_the_folder_of_a_grader_killed_outright_goes_when_the_next_one_shares_a_data_set(tmp_path: Path) -> None:
    data, first, second = _folders(tmp_path)
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = dict(os.environ, TMPDIR=str(temporary))

    def grader(training: Path, ending: str) -> int:
        argv = [sys.executable, "-c", SHARE_THEN, str(data), str(training), ending]
        return subprocess.run(argv, env=env, cwd=Path(__file__).parents[1]).returncode

    assert grader(first, "killed") == -signal.SIGKILL
    abandoned = list(temporary.glob(f"{PREFIX}*"))
    assert len(abandoned) == 1 and (next(abandoned[0].rglob("X_train.npy"))).is_file()
    # Folders that must stay: a running grader's (this one's) and one whose name names no owner.
    running = temporary / f"{PREFIX}{current_owner()}-abc123"
    unknown = temporary / f"{PREFIX}kept_by_hand"
    running.mkdir()
    unknown.mkdir()

    assert grader(second, "normally") == 0
    assert sorted(temporary.iterdir()) == sorted([running, unknown])
    # What the killed grader had linked into a grading's folder is that folder's, and stays.
    assert np.array_equal(np.load(first / "X_train.npy"), np.zeros(3))
