"""A data folder that does not hold the assignment's data set is refused before anything is graded.

The releases are written in CIFAR-10's documented binary layout (records of one label byte and 3072
pixel bytes, 10,000 per batch); a full-size one is a sparse file of zeros, so it costs no disk.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from test_cifar10 import make_batches, write_binary_release, write_python_release

from grader.cli.app import main
from grader.engine.datasets import DatasetError, check_data_dir
from grader.engine.packs import DataRules, load_assignment

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "student_template" / "hlcv-ex2"
#: The release's documented sizes: 5 training batches and one test batch of 10,000 images each.
RECORD = 1 + 32 * 32 * 3
PER_BATCH = 10_000
DOWNLOAD = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"


@pytest.fixture(scope="module")
def assignment():
    return load_assignment("hlcv-ex2")


def write_full_binary_release(parent: Path) -> Path:
    folder = parent / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        with open(folder / name, "wb") as handle:
            handle.truncate(PER_BATCH * RECORD)  # all zeros: label 0, black pixels
    return folder


def test_hlcv_ex2_declares_cifar10(assignment) -> None:
    assert assignment.dataset == "cifar10"


def test_no_folder_is_nothing_to_check(assignment) -> None:
    assert check_data_dir(assignment, None) is None


def test_a_full_release_is_accepted_and_described(assignment, tmp_path: Path) -> None:
    release = write_full_binary_release(tmp_path)
    found = check_data_dir(assignment, tmp_path)
    assert found is not None
    assert "binary release" in found and str(release) in found
    assert "50000 training, 10000 test images" in found


@pytest.mark.parametrize(
    "make, says",
    [
        (lambda tmp: tmp / "missing", "does not exist"),
        (lambda tmp: tmp, "no CIFAR-10 release"),
        (lambda tmp: (tmp / "file.txt").write_text("x") and tmp / "file.txt", "is not a folder"),
    ],
)
def test_a_wrong_folder_says_what_was_expected_and_where_to_get_it(assignment, tmp_path, make, says) -> None:
    with pytest.raises(DatasetError) as caught:
        check_data_dir(assignment, make(tmp_path))
    message = str(caught.value)
    assert "\n" not in message
    assert says in message
    assert "cifar-10-batches-py/" in message and "cifar-10-batches-bin/" in message
    assert DOWNLOAD in message and "docs/data.md" in message


def test_a_truncated_batch_is_named(assignment, tmp_path: Path) -> None:
    release = write_full_binary_release(tmp_path)
    with open(release / "data_batch_3.bin", "r+b") as handle:
        handle.truncate(PER_BATCH * RECORD - 5)
    with pytest.raises(DatasetError, match=r"data_batch_3\.bin: size .* not a whole number"):
        check_data_dir(assignment, tmp_path)


def test_a_missing_batch_is_named(assignment, tmp_path: Path) -> None:
    release = write_full_binary_release(tmp_path)
    (release / "test_batch.bin").unlink()
    with pytest.raises(DatasetError, match=r"missing CIFAR-10 batch file: .*test_batch\.bin"):
        check_data_dir(assignment, tmp_path)


@pytest.mark.parametrize("writer", [write_python_release, write_binary_release])
def test_too_few_images_for_the_split_is_refused(assignment, tmp_path: Path, writer) -> None:
    writer(tmp_path, make_batches())  # 20 images per batch: readable, but not the release
    with pytest.raises(DatasetError, match=r"100 training and 20 test images, .* at least 50000 and 1000"):
        check_data_dir(assignment, tmp_path)


def test_no_check_for_a_pack_that_needs_no_data_set(assignment, tmp_path: Path) -> None:
    none = assignment.model_copy(update={"data": DataRules(dataset=None)})
    assert check_data_dir(none, tmp_path / "missing") is None


@pytest.mark.parametrize("command", [["run", str(TEMPLATE)], ["check", str(TEMPLATE)]])
def test_the_command_line_refuses_a_wrong_data_dir_with_exit_2(tmp_path: Path, command: list[str]) -> None:
    out = tmp_path / "results.json"
    extra = ["--out", str(out)] if command[0] == "run" else []
    result = CliRunner().invoke(main, [*command, "--data-dir", str(tmp_path / "nope"), *extra], prog_name="grade")
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "does not exist" in lines[0]
    assert not out.exists()


def test_the_environment_variable_is_checked_too(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["run", str(TEMPLATE), "--out", str(tmp_path / "r.json")],
        env={"BACKPROP_GRADER_DATA_DIR": str(tmp_path)},
        prog_name="grade",
    )
    assert result.exit_code == 2
    assert "BACKPROP_GRADER_DATA_DIR" in result.stderr and "no CIFAR-10 release" in result.stderr
