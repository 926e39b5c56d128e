"""Frozen trusted values (grader/engine/frozen.py): record calls to a trusted module, replay them as data.

A small trusted module stands in for a pack's reference: plain functions, one that changes its argument
in place, one that draws from numpy's global random state, a constant holding a function. Expected values
are computed here with numpy directly, never by the code under test.
"""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pytest

from grader.engine import frozen


def _trusted_module() -> types.ModuleType:
    module = types.ModuleType("trustedmod")

    def add(a: np.ndarray, b: float) -> np.ndarray:
        return a + b

    def scale(d: dict, k: float) -> None:
        d["x"] *= k

    def draw() -> np.ndarray:
        return np.random.rand(2)

    module.add, module.scale, module.draw = add, scale, draw
    module.TABLE = [("double", lambda v: 2 * v)]
    module.NAMES = ("W1", "b1")
    return module


@pytest.fixture
def replayed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[types.ModuleType, frozen.Store]:
    """A frozen module recorded against the real one in check ``t.py::test_a``, saved, loaded, replayed."""
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "t.py::test_a (call)")
    real = _trusted_module()
    recorder = frozen.RecordStore(lambda path: {"trustedmod": real}[path])
    recording = frozen.FrozenModule("trustedmod", recorder)
    assert np.array_equal(recording.add(np.ones(2), 1.0), [2.0, 2.0])
    d = {"x": np.ones(3)}
    recording.scale(d, 3.0)
    assert np.array_equal(d["x"], [3.0, 3.0, 3.0])
    np.random.seed(7)
    recording.draw()
    name, double = recording.TABLE[0]
    assert name == "double" and double(4.0) == 8.0
    assert recording.NAMES == ("W1", "b1")
    recorder.table.save(tmp_path)
    store = frozen.ReplayStore(frozen.Table.load(tmp_path))
    return frozen.FrozenModule("trustedmod", store), store


def test_replay_answers_recorded_calls_from_data(
    replayed: tuple[types.ModuleType, frozen.Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    module, store = replayed
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "t.py::test_a (call)")  # the check the values were recorded in
    store.counter = frozen._Counter()  # a new grading: occurrence numbers start again
    assert np.array_equal(module.add(np.ones(2), 1.0), np.ones(2) + 1.0)
    d = {"x": np.ones(3)}
    assert module.scale(d, 3.0) is None
    assert np.array_equal(d["x"], np.full(3, 3.0)), "the in-place change is replayed on the caller's dict"
    np.random.seed(7)
    expected = np.random.rand(2)
    after = np.random.rand(1)
    np.random.seed(7)
    assert np.array_equal(module.draw(), expected)
    assert np.array_equal(np.random.rand(1), after), "the random state the call left behind is restored"
    name, double = module.TABLE[0]
    assert name == "double" and double(4.0) == 8.0
    assert module.NAMES == ("W1", "b1")


def test_an_unrecorded_call_is_a_check_failure_that_says_so(
    replayed: tuple[types.ModuleType, frozen.Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    module, _ = replayed
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "t.py::test_a (call)")
    with pytest.raises(frozen.FrozenMiss, match="cannot judge this answer offline"):
        module.add(np.ones(2), 2.0)
    with pytest.raises(frozen.FrozenMiss):
        module.add(lambda: 0, 1.0)  # not plain data: never frozen
    with pytest.raises(AttributeError):
        module.not_recorded  # noqa: B018


def test_stored_table_holds_data_and_names_only(
    tmp_path: Path, replayed: tuple[types.ModuleType, frozen.Store]
) -> None:
    text = (tmp_path / frozen.FROZEN_JSON).read_text()
    assert "lambda" not in text and "def " not in text and "return" not in text
    with np.load(tmp_path / frozen.FROZEN_NPZ, allow_pickle=False) as arrays:
        assert all(arrays[name].dtype.kind in "biufc" for name in arrays.files)


def test_the_public_seed_is_stored_with_the_table_and_only_a_self_check_uses_it(tmp_path: Path) -> None:
    from grader.engine.grading import GradeOptions, _public_seed
    from grader.engine.packs import load_assignment

    table = frozen.Table()
    table.seed = 3_141_592
    table.save(tmp_path)
    assert frozen.recorded_seed(tmp_path) == 3_141_592
    assert frozen.recorded_seed(tmp_path / "no-table") is None
    # A built-in pack has no frozen table: a self-check there uses the secret unless a seed is asked for.
    assignment = load_assignment("hlcv-ex2")
    assert _public_seed(GradeOptions(visible_only=True), assignment) is None
    assert _public_seed(GradeOptions(visible_only=True, public_seed=7), assignment) == 7
    assert _public_seed(GradeOptions(), assignment) is None
    with pytest.raises(ValueError, match="only for a self-check"):
        _public_seed(GradeOptions(public_seed=7), assignment)


def test_a_real_function_that_imports_at_call_time_gets_the_real_module(monkeypatch: pytest.MonkeyPatch) -> None:
    """While recording, the checks' own imports find the frozen proxy; a real trusted function that imports
    the reference when called (as hlcv-ex2's train_mlp variants do) must find the real module instead."""
    import importlib
    import sys

    monkeypatch.setenv("PYTEST_CURRENT_TEST", "t.py::test_a (call)")
    helper = types.ModuleType("trustedhelper")
    helper.triple = lambda v: 3 * v
    caller = types.ModuleType("trustedcaller")
    caller.use = lambda v: importlib.import_module("trustedhelper").triple(v)
    modules = {"trustedcaller": caller, "trustedhelper": helper}
    recorder = frozen.RecordStore(modules.__getitem__, modules)
    proxy = frozen.FrozenModule("trustedhelper", recorder)
    monkeypatch.setitem(sys.modules, "trustedhelper", proxy)  # what the checks' own code imports
    assert frozen.FrozenModule("trustedcaller", recorder).use(np.arange(3)).tolist() == [0, 3, 6]
    assert sys.modules["trustedhelper"] is proxy, "the proxy is back once the real call returns"
    (key,) = recorder.table.calls
    assert "trustedcaller.use" in key
