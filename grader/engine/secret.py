"""The grading secret: where the inputs of checks come from, so a submission cannot know them in advance.

Every input a check scores on is derived from the secret and the submission's content hash. Without a
secret those inputs would follow from files that ship with the grader, and a submission could carry
answers computed offline. So the grader always has one: ``BACKPROP_GRADER_SECRET`` when set, else the
secret kept in a file (``BACKPROP_GRADER_SECRET_FILE``, default ``~/.config/backprop-grader/secret``),
which the first grading on a machine creates with 256 random bits and mode 0600.

Regrading with the same secret reproduces every input. Each result records the secret's
*fingerprint* (a one-way digest, never the secret), so an instructor can tell which secret graded it,
and a batch regrades results whose fingerprint is not the current one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from pathlib import Path

SECRET_ENV = "BACKPROP_GRADER_SECRET"
SECRET_FILE_ENV = "BACKPROP_GRADER_SECRET_FILE"
#: Bytes of randomness in a secret the grader creates.
SECRET_BYTES = 32
#: Hex digits of the fingerprint written into results.
FINGERPRINT_CHARS = 16


class SecretError(RuntimeError):
    """The secret file cannot be read or created; the message names the file and the fix."""


def secret_path() -> Path:
    """Where the grader keeps its secret when ``BACKPROP_GRADER_SECRET`` is not set."""
    if os.environ.get(SECRET_FILE_ENV):
        return Path(os.environ[SECRET_FILE_ENV])
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config / "backprop-grader" / "secret"


def load_secret() -> str:
    """The grading secret: from the environment, else the secret file, created on first use."""
    value = os.environ.get(SECRET_ENV, "")
    if value:
        return value
    path = secret_path()
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(SECRET_BYTES) + "\n")
        try:
            # link() fails if another grading created the file first; then both use that one.
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            temporary.unlink()
        return _read(path)
    except OSError as exc:
        raise SecretError(
            f"cannot create the grading secret {path}: {exc.strerror}; set {SECRET_ENV} or {SECRET_FILE_ENV}"
        ) from None


def _read(path: Path) -> str:
    try:
        value = path.read_text().strip()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise SecretError(f"cannot read the grading secret {path}: {exc.strerror}") from None
    if not value:
        raise SecretError(f"the grading secret file {path} is empty; delete it to have a new one created")
    return value


def fingerprint(secret: str) -> str:
    """A short one-way digest naming the secret in results (telling secrets apart, revealing nothing)."""
    return hashlib.sha256(b"backprop-grader secret fingerprint\0" + secret.encode()).hexdigest()[:FINGERPRINT_CHARS]


def derive_seed(secret: str, submission_sha256: str, label: str = "") -> int:
    """A 32-bit seed for the inputs named ``label`` of one submission's grading under ``secret``."""
    material = f"{secret}:{submission_sha256}" + (f":{label}" if label else "")
    return int.from_bytes(hashlib.sha256(material.encode()).digest()[:4], "big")
