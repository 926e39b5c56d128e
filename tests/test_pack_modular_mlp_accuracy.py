"""The modular-mlp accuracy checks, run for real on a small synthetic data set in CIFAR-10's format.

Five training batches and a test batch of 300 images each (the real release has 10,000): the grader
takes its real path, a 90/10 training/validation split standardised and mounted read-only, both
``train`` functions run in the sandbox, and the test accuracy of the returned models is measured by
the grader. Each class is a fixed random image plus heavy noise, so a network trained as the handout
says is far above the thresholds, and one whose training never moves its weights stays near chance
(10%): those are the expectations, independent of the grader.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_cifar10 import write_python_release

from grader.assignments.modular_mlp import write_example
from grader.engine.grading import GradeOptions, grade
from grader.results import GradeResult
from grader.sandbox import Sandbox

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

IMAGES_PER_BATCH = 300
ACCURACY_CHECKS = ("test_numpy_accuracy", "test_torch_accuracy")
#: The files the accuracy checks need (the batch-norm file is left out: its checks are not the point).
FILES = ("modules.py", "mlp_numpy.py", "mlp_pytorch.py", "hyperparams.json")


@pytest.fixture(scope="module")
def synthetic_cifar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(0)
    templates = rng.integers(0, 256, (10, 3072))
    batches = []
    for _ in range(6):
        labels = rng.integers(0, 10, IMAGES_PER_BATCH)
        noisy = templates[labels] + rng.normal(0, 80, (IMAGES_PER_BATCH, 3072))
        batches.append((np.clip(noisy, 0, 255).astype(np.uint8), [int(v) for v in labels]))
    parent = tmp_path_factory.mktemp("cifar")
    write_python_release(parent, batches)
    return parent


def _grade(folder: Path, data_dir: Path, sandbox: Sandbox, frozen: bool = False) -> GradeResult:
    """Grade the example; ``frozen``: its training never changes a weight (no numpy update, lr 1e-9)."""
    folder.mkdir()
    example = write_example(folder.parent / "example")
    for name in FILES:
        (folder / name).write_text((example / name).read_text())
    if frozen:
        source = (folder / "mlp_numpy.py").read_text()
        (folder / "mlp_numpy.py").write_text(source.replace("-= lr * layer.grads", "-= 0.0 * layer.grads"))
        settings = json.loads((folder / "hyperparams.json").read_text())
        (folder / "hyperparams.json").write_text(json.dumps({**settings, "lr": 1e-9}))
    options = GradeOptions(assignment="modular-mlp", sandbox=sandbox, data_dir=data_dir, visible_only=True)
    return grade(folder, options)


def test_well_trained_networks_pass_the_accuracy_checks(
    synthetic_cifar: Path, tmp_path: Path, grading_sandbox: Sandbox
) -> None:
    (tmp_path / "example").mkdir()
    result = _grade(tmp_path / "submission", synthetic_cifar, grading_sandbox)
    for name in ACCURACY_CHECKS:
        check = next(t for t in result.tests if t.name == name)
        assert (check.status, check.score) == ("passed", check.max_score), check
        assert "test accuracy" in check.output and "measured by the grader" in check.output
        assert "on 300 images" in check.output


def test_networks_that_never_learn_fail_the_accuracy_checks(
    synthetic_cifar: Path, tmp_path: Path, grading_sandbox: Sandbox
) -> None:
    (tmp_path / "example").mkdir()
    result = _grade(tmp_path / "submission", synthetic_cifar, grading_sandbox, frozen=True)
    for name in ACCURACY_CHECKS:
        check = next(t for t in result.tests if t.name == name)
        assert (check.status, check.score) == ("failed", 0), check
        assert "must be at least" in check.output, check.output
