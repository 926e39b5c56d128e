"""The torch-backprop CIFAR-2 accuracy check, run for real on a synthetic data set in CIFAR-10's format.

The release has the real file layout (five pickled training batches and a test batch) with fewer
images per batch, most of them airplanes and birds. Each class is a fixed random image plus heavy
noise, so the handout's network trained by a correct ``train_manual_update`` separates airplanes
from birds far above the 80% threshold, and one trained with a vanishing learning rate stays near
chance (50%): those are the expectations, independent of the grader. The grader takes its real
path: CIFAR-2 built and normalised in the trusted process, the training split mounted read-only
into the sandbox, training there with the submission's ``hyperparams.json``, accuracy measured by
the grader on validation and test images whose labels never enter the sandbox.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_cifar10 import write_python_release

from grader.engine.grading import GradeOptions, grade
from grader.results import GradeResult
from grader.sandbox import Sandbox

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

GOOD = Path(__file__).resolve().parent / "corpus" / "torch-backprop" / "good"
CHECK = "test_cifar2_accuracy"
#: Images per batch file: airplanes (0), birds (2), and a few of another class (which CIFAR-2 drops).
PER_CLASS, OTHERS = 200, 40
QUICK = {"lr": 0.01, "momentum": 0.9, "weight_decay": 0.0, "n_epochs": 2, "batch_size": 64}


@pytest.fixture(scope="module")
def synthetic_cifar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(0)
    templates = rng.integers(0, 256, (10, 3072))
    batches = []
    for _ in range(6):
        labels = np.array([0] * PER_CLASS + [2] * PER_CLASS + [5] * OTHERS)
        rng.shuffle(labels)
        noisy = templates[labels] + rng.normal(0, 80, (len(labels), 3072))
        batches.append((np.clip(noisy, 0, 255).astype(np.uint8), [int(v) for v in labels]))
    parent = tmp_path_factory.mktemp("cifar")
    write_python_release(parent, batches)
    return parent


def _grade(folder: Path, hyperparams: dict, data_dir: Path, sandbox: Sandbox) -> GradeResult:
    shutil.copytree(GOOD, folder)
    (folder / "hyperparams.json").write_text(json.dumps(hyperparams))
    options = GradeOptions(assignment="torch-backprop", sandbox=sandbox, data_dir=data_dir, visible_only=True)
    return grade(folder, options)


def _accuracy_check(result: GradeResult):
    return next(t for t in result.tests if t.name == CHECK)


def test_a_well_trained_network_passes(synthetic_cifar: Path, tmp_path: Path, grading_sandbox: Sandbox) -> None:
    result = _grade(tmp_path / "submission", QUICK, synthetic_cifar, grading_sandbox)
    check = _accuracy_check(result)
    assert (check.status, check.score) == ("passed", check.max_score), check
    # 5 x 400 CIFAR-2 training images split 90/10; 400 test images.
    assert "on 200 images" in check.output and "on 400 images" in check.output
    assert "measured by the grader" in check.output
    assert result.score == result.max_score


def test_a_network_that_does_not_learn_fails(synthetic_cifar: Path, tmp_path: Path, grading_sandbox: Sandbox) -> None:
    stalled = {**QUICK, "lr": 1e-9, "momentum": 0.0}
    check = _accuracy_check(_grade(tmp_path / "submission", stalled, synthetic_cifar, grading_sandbox))
    assert (check.status, check.score) == ("failed", 0), check
    assert "at least 80%" in check.output
