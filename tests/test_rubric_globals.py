"""Process-wide numeric settings around a grading, including while torch is still being imported.

hlcv-ex2 imports torch in a background thread so that the import overlaps with the numpy checks.
A grading that starts while that import runs must neither read a half-initialised torch (it raises
"unsupported scalarType") nor leave a default dtype behind. Each test runs in a fresh interpreter, the
only place where torch is not imported yet.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

HALF_IMPORTED = textwrap.dedent(
    """
    import sys, threading, time
    from grader.engine.rubric import _restored_globals, _torch_default_dtype

    importer = threading.Thread(target=lambda: __import__("torch"))
    importer.start()
    deadline = time.monotonic() + 60
    # Wait for the most dangerous moment: torch's functions defined, its C extension not ready yet.
    while not hasattr(sys.modules.get("torch"), "get_default_dtype") and time.monotonic() < deadline:
        pass
    assert getattr(sys.modules["torch"].__spec__, "_initializing", False), "torch finished importing too soon"
    assert _torch_default_dtype() is None
    with _restored_globals():
        importer.join()
        import torch
        torch.set_default_dtype(torch.float64)  # what a pack's code might do
    assert torch.get_default_dtype() is torch.float32, torch.get_default_dtype()
    print("ok")
    """
)

RESTORED = textwrap.dedent(
    """
    import numpy as np, torch
    from grader.engine.rubric import _restored_globals

    torch.set_default_dtype(torch.float64)
    np.random.seed(7)
    expected = np.random.random()
    np.random.seed(7)
    with _restored_globals():
        torch.set_default_dtype(torch.float32)
        np.random.seed(1)
        np.seterr(all="ignore")
    assert torch.get_default_dtype() is torch.float64
    assert np.random.random() == expected
    assert np.geterr()["divide"] == "warn"
    print("ok")
    """
)

#: Prints torch's thread count after the rubric's set-up, with torch imported before it or after it.
MATH_THREADS = textwrap.dedent(
    """
    import sys
    from grader.engine.rubric import _one_math_thread

    if sys.argv[1] == "before":
        import torch
    _one_math_thread()
    import torch

    print(torch.get_num_threads())
    """
)


def _run(script: str, *args: str, env: dict[str, str] | None = None) -> str:
    argv = [sys.executable, "-c", script, *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_a_grading_that_starts_while_torch_is_being_imported_neither_fails_nor_leaks_a_dtype() -> None:
    assert _run(HALF_IMPORTED) == "ok"


def test_numpy_and_torch_settings_come_back_as_they_were_before_the_grading() -> None:
    assert _run(RESTORED) == "ok"


def test_the_trusted_side_computes_on_one_torch_thread_unless_the_environment_says_otherwise() -> None:
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    assert _run(MATH_THREADS, "before", env=env) == "1"
    assert _run(MATH_THREADS, "after", env=env) == "1"
    assert _run(MATH_THREADS, "after", env={**env, "OMP_NUM_THREADS": "2"}) == "2"
