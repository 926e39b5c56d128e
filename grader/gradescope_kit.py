"""The Gradescope autograder kit: the zip Gradescope's "Configure Autograder" page takes.

Gradescope unpacks the zip to ``/autograder/source``, runs ``setup.sh`` once while it builds the
autograder image (the only time the network is there), and for every submission copies the student's
files to ``/autograder/submission``, runs ``/autograder/run_autograder`` and reads
``/autograder/results/results.json``. The kit holds:

- ``setup.sh``: a virtual environment in ``/autograder/venv`` with the grader (from the bundled source)
  and its dependencies, from the bundled ``wheels/`` when there are any (no network needed), else from
  PyPI with PyTorch's CPU index; optionally CIFAR-10 into ``/autograder/data``;
- ``run_autograder``: ``grade run`` on the submission with ``--format gradescope`` and the hidden checks'
  feedback kept (Gradescope shows hidden tests to staff only, by their ``visibility``);
- ``backprop-grader/``: the grader's source (``pyproject.toml``, ``grader/``, ``reference/``).
"""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import grader

SOURCE_ROOT = Path(grader.__file__).resolve().parent.parent
#: What of the source tree goes into the kit: enough to ``pip install`` the grader.
SOURCE_ITEMS = ("pyproject.toml", "README.md", "grader", "reference")
CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image.
set -euo pipefail
cd /autograder/source
BUNDLED_PIP=$(compgen -G "wheels/pip-*.whl" | head -n 1 || true)
if ! command -v python3 >/dev/null || ! python3 -c "import venv" 2>/dev/null \\
    || ! {{ python3 -c "import ensurepip" 2>/dev/null || [ -n "$BUNDLED_PIP" ]; }}; then
  apt-get update && apt-get install -y --no-install-recommends python3 python3-venv python3-pip
fi
# numpy and torch already in the image are used as they are (--system-site-packages).
if python3 -c "import ensurepip" 2>/dev/null; then
  python3 -m venv --system-site-packages /autograder/venv
else
  python3 -m venv --without-pip --system-site-packages /autograder/venv
fi
# When python3 is itself a virtual environment's, its packages are not "system" ones: add them by name.
SITE='import sysconfig; print(sysconfig.get_paths()["purelib"])'
python3 -c "$SITE" > "$(/autograder/venv/bin/python -c "$SITE")/image-site-packages.pth"
if /autograder/venv/bin/python -m pip --version >/dev/null 2>&1; then
  PIP=(/autograder/venv/bin/python -m pip)
else                                                                  # run pip from its bundled wheel
  PIP=(/autograder/venv/bin/python "$BUNDLED_PIP/pip")
fi
if compgen -G "wheels/*.whl" >/dev/null; then                         # offline: the bundled wheels only
  "${{PIP[@]}}" install --disable-pip-version-check --no-index --find-links wheels ./backprop-grader
else
  "${{PIP[@]}}" install --disable-pip-version-check --extra-index-url https://download.pytorch.org/whl/cpu \\
    ./backprop-grader
fi
if [ "{with_cifar}" = "1" ]; then                                     # CIFAR-10 for the accuracy checks
  mkdir -p /autograder/data
  curl -fsSL {cifar_url} | tar -xz -C /autograder/data
fi
# grep reads the whole list (-q would stop at the first match and break the pipe under pipefail).
/autograder/venv/bin/grade assignments | grep -x '{assignment}' >/dev/null
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission: /autograder/submission in, results/results.json out.
set -uo pipefail
mkdir -p /autograder/results
DATA=()
if [ -d /autograder/data ]; then DATA=(--data-dir /autograder/data); fi
exec /autograder/venv/bin/grade run /autograder/submission --assignment '{assignment}' \\
  --format gradescope --include-hidden --out /autograder/results/results.json "${{DATA[@]}}"
"""


class KitError(Exception):
    """The kit cannot be built here (no source checkout, a missing wheelhouse); one line."""


def _add(archive: zipfile.ZipFile, name: str, data: bytes, *, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.external_attr = ((stat.S_IFREG | (0o755 if executable else 0o644)) & 0xFFFF) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def _source_files() -> list[Path]:
    missing = [item for item in SOURCE_ITEMS if not (SOURCE_ROOT / item).exists()]
    if missing:
        raise KitError(f"the kit is built from a source checkout; {SOURCE_ROOT} lacks {', '.join(missing)}")
    files = []
    for item in SOURCE_ITEMS:
        path = SOURCE_ROOT / item
        candidates = [path] if path.is_file() else sorted(path.rglob("*"))
        files += [p for p in candidates if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"]
    return files


def build_kit(out: Path, assignment: str, *, wheelhouse: Path | None = None, with_cifar: bool = False) -> Path:
    """Write the autograder zip for ``assignment`` to ``out`` and return it."""
    wheels = sorted(wheelhouse.glob("*.whl")) if wheelhouse is not None else []
    if wheelhouse is not None and not wheels:
        raise KitError(f"no wheels (*.whl) in {wheelhouse}")
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        values = {"assignment": assignment, "with_cifar": "1" if with_cifar else "0", "cifar_url": CIFAR_URL}
        _add(archive, "setup.sh", SETUP_SH.format(**values).encode(), executable=True)
        _add(archive, "run_autograder", RUN_AUTOGRADER.format(**values).encode(), executable=True)
        for path in _source_files():
            _add(archive, f"backprop-grader/{path.relative_to(SOURCE_ROOT).as_posix()}", path.read_bytes())
        for wheel in wheels:
            _add(archive, f"wheels/{wheel.name}", wheel.read_bytes())
    return out
