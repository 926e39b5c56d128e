"""Data sets that assignments declare, and the check that a ``--data-dir`` really holds one.

An assignment names the data set its checks need (``dataset = "cifar10"`` in ``assignment.toml``).
Without a data folder those checks are skipped with the reason; with one, the folder must hold a
readable copy *before* any submission is graded, because a wrong folder would otherwise skip the same
checks for every student and cost each of them the points silently. :func:`check_data_dir` raises
:class:`DatasetError` with one line saying what was found, what was expected and how to get it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from grader.engine.packs import Assignment


class DatasetError(Exception):
    """The data folder is missing, unreadable or holds no usable copy of the data set; one line."""


class Dataset(BaseModel):
    """A data set an assignment can need: what the folder must hold and how to get it."""

    model_config = ConfigDict(frozen=True)

    name: str
    title: str
    #: The files the folder must hold, for messages.
    expected: str
    #: Where to download it, for messages.
    source: str
    #: Where the instructions are.
    docs: str = "docs/data.md"


#: Images the exercise's split takes: 49,000 training + 1,000 validation, 1,000 test.
CIFAR10_TRAIN_NEEDED = 49_000 + 1_000
CIFAR10_TEST_NEEDED = 1_000

CIFAR10 = Dataset(
    name="cifar10",
    title="CIFAR-10",
    expected=(
        "cifar-10-batches-py/ (data_batch_1..5, test_batch) or cifar-10-batches-bin/ "
        "(data_batch_1.bin..5.bin, test_batch.bin), or that folder itself"
    ),
    source="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz (python release, unpack it in the folder)",
)


def _check_cifar10(folder: Path) -> str:
    from reference.cifar10 import CifarError, inspect_release

    try:
        info = inspect_release(folder)
    except CifarError as exc:
        raise DatasetError(str(exc)) from None
    if info.train_images < CIFAR10_TRAIN_NEEDED or info.test_images < CIFAR10_TEST_NEEDED:
        raise DatasetError(
            f"{info.folder}: {info.train_images} training and {info.test_images} test images, the grading split "
            f"needs at least {CIFAR10_TRAIN_NEEDED} and {CIFAR10_TEST_NEEDED} (an incomplete copy?)"
        )
    release = "python" if info.kind == "py" else "binary"
    return f"CIFAR-10 {release} release in {info.folder} ({info.train_images} training, {info.test_images} test images)"


#: Every data set the grader knows, with the function that checks a folder and describes what it found.
DATASETS: dict[str, tuple[Dataset, Callable[[Path], str]]] = {"cifar10": (CIFAR10, _check_cifar10)}


def needed_dataset(assignment: Assignment) -> Dataset | None:
    """The data set ``assignment``'s checks need (``[data] dataset``), or None when it declares none."""
    if assignment.dataset is None:
        return None
    try:
        return DATASETS[assignment.dataset][0]
    except KeyError:
        known = ", ".join(sorted(DATASETS))
        raise DatasetError(
            f"assignment {assignment.id} needs unknown data set {assignment.dataset!r} (known: {known})"
        ) from None


def check_data_dir(assignment: Assignment, data_dir: Path | None) -> str | None:
    """Check that ``data_dir`` holds the data set ``assignment`` needs; describe what was found.

    Returns None when there is nothing to check (no folder given, or no data set needed). Raises
    :class:`DatasetError` naming the problem, the expected files and where to download them.
    """
    dataset = needed_dataset(assignment)
    if data_dir is None or dataset is None:
        return None
    folder = Path(data_dir)
    try:
        if not folder.exists():
            problem = f"{folder} does not exist"
        elif not folder.is_dir():
            problem = f"{folder} is not a folder"
        else:
            return DATASETS[dataset.name][1](folder)
    except DatasetError as exc:
        problem = str(exc)
    except OSError as exc:
        problem = f"{folder}: cannot read ({exc.strerror or exc})"
    raise DatasetError(
        f"{problem}; {assignment.id} needs {dataset.title} in the data folder: {dataset.expected}. "
        f"Get it from {dataset.source}; see {dataset.docs}"
    )
