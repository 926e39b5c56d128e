"""Sandbox backends and how one is chosen (``--sandbox auto|docker|bwrap|process``)."""

from __future__ import annotations

from grader.sandbox.base import LaunchSpec, Limits, Sandbox, SandboxUnavailable, WorkerProcess

NAMES = ("auto", "docker", "bwrap", "process")


def backend_class(name: str) -> type[Sandbox]:
    """The backend class for a concrete name (imported lazily: docker pulls in its SDK)."""
    if name == "docker":
        from grader.sandbox.docker import DockerSandbox

        return DockerSandbox
    if name == "bwrap":
        from grader.sandbox.bwrap import BwrapSandbox

        return BwrapSandbox
    if name == "process":
        from grader.sandbox.process import ProcessSandbox

        return ProcessSandbox
    raise SandboxUnavailable(f"unknown sandbox {name!r} (choose one of {', '.join(NAMES)})")


def select_sandbox(name: str = "auto") -> Sandbox:
    """Return a ready backend. ``auto`` takes docker, then bwrap, then process; an explicitly
    requested backend that cannot run raises :class:`SandboxUnavailable`, never falls back."""
    if name != "auto":
        cls = backend_class(name)
        cls.check_available()
        return cls()
    reasons = []
    for candidate in ("docker", "bwrap", "process"):
        try:
            cls = backend_class(candidate)
            cls.check_available()
            chosen = cls()
            # Why the stronger backends were passed over, so a caller can say it (a stale image is
            # easy to miss when the grade still runs, only in a different sandbox).
            chosen.passed_over = reasons
            return chosen
        except (SandboxUnavailable, ImportError) as exc:
            reasons.append(f"{candidate}: {exc}")
    raise SandboxUnavailable("no sandbox can run here (" + "; ".join(reasons) + ")")


__all__ = [
    "NAMES",
    "LaunchSpec",
    "Limits",
    "Sandbox",
    "SandboxUnavailable",
    "WorkerProcess",
    "backend_class",
    "select_sandbox",
]
