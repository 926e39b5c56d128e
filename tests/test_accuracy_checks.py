"""The CIFAR-10 accuracy checks, run for real on a synthetic data set in the CIFAR-10 file format.

The data set has the real release's layout and sizes (five training batches and a test batch of
10,000 32x32x3 images each), so the grader takes its real path: the exercise's 49,000 / 1,000 split,
mean subtraction, training images mounted read-only into the sandbox, training there with the
student's ``hyperparams.json``, and validation accuracy measured by the grader. Each class is a
fixed random image plus heavy noise, so a correctly trained network is far above the 48% threshold
and one trained with a vanishing learning rate stays near chance (10%): those are the expectations,
independent of the grader.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_cifar10 import write_python_release

from grader.assignments.hlcv_ex2 import write_example
from grader.engine.grading import GradeOptions, grade
from grader.results import GradeResult
from grader.sandbox import Sandbox

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

IMAGES_PER_BATCH = 10_000
ACCURACY_CHECKS = ("test_two_layer_accuracy", "test_mlp_accuracy")
TEMPLATE_HYPERPARAMS = Path(__file__).resolve().parents[1] / "student_template" / "hlcv-ex2" / "hyperparams.json"


def quick_settings(**learning_rates: float) -> dict:
    """The handout's default settings, shortened to 200 iterations (plenty for this data set)."""
    settings = json.loads(TEMPLATE_HYPERPARAMS.read_text())
    settings["two_layer"]["num_iters"] = 200
    for model, rate in learning_rates.items():
        settings[model]["learning_rate"] = rate
    return settings


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


def _grade(folder: Path, hyperparams: dict, data_dir: Path, sandbox: Sandbox) -> GradeResult:
    folder.mkdir()
    write_example(folder)
    (folder / "hyperparams.json").write_text(json.dumps(hyperparams))
    return grade(folder, GradeOptions(sandbox=sandbox, data_dir=data_dir))


def test_well_trained_networks_pass_the_accuracy_checks(
    synthetic_cifar: Path, tmp_path: Path, grading_sandbox: Sandbox
) -> None:
    result = _grade(tmp_path / "submission", quick_settings(), synthetic_cifar, grading_sandbox)
    for name in ACCURACY_CHECKS:
        check = next(t for t in result.tests if t.name == name)
        assert (check.status, check.score) == ("passed", check.max_score), check
        assert "validation accuracy" in check.output and "measured by the grader" in check.output
    assert result.score == result.max_score


def test_untrained_networks_fail_the_accuracy_checks(
    synthetic_cifar: Path, tmp_path: Path, grading_sandbox: Sandbox
) -> None:
    stalled = quick_settings(two_layer=1e-9, mlp=1e-9)
    result = _grade(tmp_path / "submission", stalled, synthetic_cifar, grading_sandbox)
    for name in ACCURACY_CHECKS:
        check = next(t for t in result.tests if t.name == name)
        assert (check.status, check.score) == ("failed", 0), check
        assert "must be above 48%" in check.output, check.output
