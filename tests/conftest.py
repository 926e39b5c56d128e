"""Fixtures shared by the test modules."""

from __future__ import annotations

import os

import pytest

from grader.sandbox import Sandbox, SandboxUnavailable, select_sandbox, zygote

# The tests written for the first pack grade hlcv-ex2 submissions without naming the pack on every
# command line; they say so here, once. Tests of other packs always pass --assignment.
os.environ["BACKPROP_GRADER_ASSIGNMENT"] = "hlcv-ex2"
# A test process grades many submissions, as a batch worker does.
zygote.keep_warm()


@pytest.fixture(scope="session")
def grading_sandbox() -> Sandbox:
    """An isolated sandbox for tests that grade whole submissions: bwrap, else the process backend.

    Skips with the reason when neither can run here; with ``BACKPROP_GRADER_REQUIRE_BWRAP=1`` (CI)
    that is a failure instead, so the grading tests can never skip silently where they must run.
    """
    reasons = []
    for name in ("bwrap", "process"):
        try:
            return select_sandbox(name)
        except SandboxUnavailable as exc:
            reasons.append(f"{name}: {exc}")
    message = "no sandbox can run here (" + "; ".join(reasons) + ")"
    if os.environ.get("BACKPROP_GRADER_REQUIRE_BWRAP") == "1":
        pytest.fail(f"BACKPROP_GRADER_REQUIRE_BWRAP=1 but {message}")
    pytest.skip(message)


@pytest.fixture(scope="session", autouse=True)
def grading_secret_file(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep the grading secret the tests create out of the home folder (one per test session)."""
    from grader.engine.secret import SECRET_ENV, SECRET_FILE_ENV

    if os.environ.get(SECRET_ENV) or os.environ.get(SECRET_FILE_ENV):
        return
    os.environ[SECRET_FILE_ENV] = str(tmp_path_factory.mktemp("secret") / "secret")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files with slow tests run first, each keeping its own order.

    ``scripts/test.sh`` hands whole files to parallel workers in collection order; started last, one
    long file would run alone at the end while the other workers sit idle.
    """
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)
