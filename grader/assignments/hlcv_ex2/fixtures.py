"""Shared inputs, fixtures and helpers of the hlcv-ex2 checks. Expected values come from
``reference.hlcv_ex2`` here, in the trusted process; the sandboxed submission only ever receives inputs."""

from __future__ import annotations

import functools
import importlib
import threading
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from grader.pack import CheckFailed, Remote, Student, as_array, as_dict, as_float, close_relative
from reference.hlcv_ex2 import toy
from reference.hlcv_ex2.two_layernet import PARAM_NAMES, init_params

from .inputs import random_problem  # noqa: F401 - the checks take it from here
from .mutants import FLOAT32_MISTAKE
from .patterns import FLOAT32_WORDS

REFERENCE_MLP = "reference.hlcv_ex2.mlp"
#: What the first ``optimizer.step()`` imports (about a second of CPU): the reference's training needs it.
OPTIMIZER_SUPPORT = "torch._dynamo"


@functools.cache
def _background_import(module: str) -> threading.Thread:
    """Import ``module`` in a thread of its own, started on the first call for it."""

    def run() -> None:
        try:
            importlib.import_module(module)
        except Exception:  # noqa: BLE001, S110 - the import in the check runs again and reports the error
            pass

    thread = threading.Thread(target=run, name=f"import-{module}", daemon=True)
    thread.start()
    return thread


@pytest.fixture(scope="session", autouse=True)
def _reference_torch_in_background() -> None:
    """Importing torch takes seconds. Started when the first check sets up, it overlaps with the numpy
    checks, during which this process mostly waits for the sandboxed worker; the MLP checks wait for it
    in reference_mlp(). A submission that is rejected never sets a check up and never pays for it."""
    _background_import(REFERENCE_MLP)


def reference_mlp() -> ModuleType:
    """``reference.hlcv_ex2.mlp`` (and so torch), once the background import has finished."""
    _background_import(REFERENCE_MLP).join()
    return importlib.import_module(REFERENCE_MLP)


def student_mlp_built() -> None:
    """The submission built an MLP: the reference will train one too. Its optimizers' support imported
    now, in the background, overlaps with the student's calls. A submission whose MLP cannot be built
    (the handout) never pays for it."""
    _background_import(OPTIMIZER_SUPPORT)


def reference_optimizers() -> ModuleType:
    """:func:`reference_mlp`, with ``torch._dynamo`` imported for its optimizers."""
    mlp = reference_mlp()
    _background_import(OPTIMIZER_SUPPORT).join()
    return mlp


NUMPY_FILE = "two_layernet.py"
TORCH_FILE = "ex2_pytorch.py"
NUMPY_MODULE = "two_layernet"
TORCH_MODULE = "ex2_pytorch"


@pytest.fixture(scope="session")
def toy_params() -> dict[str, np.ndarray]:
    """The toy network's weights, drawn exactly as the assignment says (seed 0, std 0.1)."""
    np.random.seed(0)
    return init_params(toy.INPUT_SIZE, toy.HIDDEN_SIZE, toy.NUM_CLASSES, std=0.1)


@pytest.fixture(scope="session")
def toy_xy() -> tuple[np.ndarray, np.ndarray]:
    return toy.toy_data()


def student_net(student: Student, params: dict[str, np.ndarray]) -> Remote:
    """A student TwoLayerNet whose weights are set to ``params`` (so checks of the forward and
    backward pass do not depend on the student's initialisation)."""
    d, h = params["W1"].shape
    c = params["W2"].shape[1]
    net = student.new(NUMPY_MODULE, "TwoLayerNet", d, h, c, seed=0)
    for key in PARAM_NAMES:
        net.set("params", key, value=params[key].copy())
    return net


def loss_and_grads_of(net: Remote, X: np.ndarray, y: np.ndarray, reg: float, params: dict) -> tuple[float, dict]:
    """Call ``net.loss(X, y, reg)`` and validate the ``(loss, grads)`` reply strictly."""
    value, _ = net.call("loss", X, y=y, reg=reg)
    return loss_and_grads_reply(value, params)


def loss_and_grads_reply(value: Any, params: dict) -> tuple[float, dict]:
    """Validate a ``loss(X, y, reg)`` reply strictly: ``(loss, grads)`` with finite values of the right shapes."""
    if type(value) is not list or len(value) != 2:
        raise CheckFailed("loss(X, y, reg) must return a tuple (loss, grads)")
    loss = as_float(value[0], "loss")
    grads = as_dict(value[1], "grads", list(PARAM_NAMES))
    return loss, {k: as_array(grads[k], f"grads['{k}']", params[k].shape) for k in PARAM_NAMES}


def diagnose(check: Any, matches: list[tuple[str, bool]]) -> str | None:
    """Record the first matching mistake on ``check`` and return it."""
    for description, matched in matches:
        if matched:
            check.diagnose(description)
            return description
    return None


def same(actual: np.ndarray, expected: np.ndarray, limit: float = 1e-6) -> bool:
    return close_relative(actual, expected, limit)[0]


def fresh_problem(hidden_seed: int, salt: int) -> tuple[dict, np.ndarray, np.ndarray, float]:
    """A problem of random sizes drawn from ``hidden_seed`` (the grader's per-grading secret): a function
    that only returns the handout's published toy answers fails on it. Returns (params, X, y, reg)."""
    rng = np.random.default_rng([hidden_seed, salt])
    n, d, h, c = (int(v) for v in rng.integers(3, 9, 4))
    reg = float(rng.uniform(0.01, 0.5))
    params, X, y = random_problem(int(rng.integers(2**31)), n=n + c, d=d, h=h, c=c)
    return params, X, y, reg


def name_or_describe(check: Any, matches: list[tuple[str, bool]], pattern: str | None) -> str | None:
    """Name the first matching catalogue mistake; without one, add the error pattern as a note."""
    found = diagnose(check, matches)
    if found is None and pattern:
        note_pattern(check, pattern)
    return found


def note_pattern(check: Any, pattern: str) -> None:
    """Add an error pattern as feedback; float32-sized errors are a catalogue mistake of their own, named
    from the pattern because mixed float32/float64 code matches no all-float32 variant exactly."""
    if FLOAT32_WORDS in pattern:
        check.diagnose(FLOAT32_MISTAKE)
    check.note(pattern)
