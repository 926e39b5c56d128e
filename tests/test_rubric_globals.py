"""Process-wide numeric settings around a grading, including while torch is still being imported.

hlcv-ex2 imports torch in a background thread so that the import overlaps with the numpy checks.
A grading that starts while that import runs must neither read a half-initialised torch (it raises
"unsupported scalarType") nor leave a default dtype behind. Each test runs in a fresh interpreter, the
only place where torch is not imported yet.
"""

from __future__ import annotations

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


def _run(script: str) -> str:
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_a_grading_that_starts_while_torch_is_being_imported_neither_fails_nor_leaks_a_dtype() -> None:
    assert _run(HALF_IMPORTED) == "ok"


def test_numpy_and_torch_settings_come_back_as_they_were_before_the_grading() -> None:
    assert _run(RESTORED) == "ok"
