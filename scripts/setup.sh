#!/usr/bin/env bash
# Create .venv with the grader (editable) and its development tools. Safe to run again: it only
# reinstalls when pyproject.toml or the constraints changed.
#
# Environment: PYTHON (interpreter to build the venv from), BACKPROP_GRADER_VENV (venv folder),
# BACKPROP_GRADER_APT=0 (never install Debian packages).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${BACKPROP_GRADER_VENV:-$ROOT/.venv}

say() { printf '%s\n' "setup: $*" >&2; }

# bubblewrap is the sandbox for `grade` when Docker is absent; as root with apt we add it.
if [ "$(id -u)" = 0 ] && [ "${BACKPROP_GRADER_APT:-1}" = 1 ] && command -v apt-get >/dev/null \
        && ! command -v bwrap >/dev/null; then
    bash scripts/apt-install.sh bubblewrap
fi

usable() {  # usable PYTHON: Python >= 3.10 that can make a venv
    "$1" -c 'import sys, venv; sys.exit(sys.version_info < (3, 10))' 2>/dev/null
}

world_reachable() {  # world_reachable PATH: every folder above PATH is searchable by other users
    local dir
    dir=$(dirname "$(readlink -f "$1")")
    while [ "$dir" != / ]; do
        [ "$(( 0$(stat -c %a "$dir") & 01 ))" = 1 ] || return 1
        dir=$(dirname "$dir")
    done
}

pick_python() {
    if [ -n "${PYTHON:-}" ]; then echo "$PYTHON"; return; fi
    local candidate base
    for candidate in python3.11 python3 python; do
        candidate=$(command -v "$candidate" 2>/dev/null) || continue
        usable "$candidate" || continue
        # As root the sandbox drops to an unprivileged user who must still run this interpreter:
        # an interpreter under a private home (pyenv in /root) cannot serve the process sandbox.
        if [ "$(id -u)" = 0 ]; then
            base=$("$candidate" -c 'import sys; print(sys.base_prefix)')
            world_reachable "$base/bin" || continue
        fi
        echo "$candidate"; return
    done
    for candidate in /usr/bin/python3.11 /usr/bin/python3 "$(command -v python3 2>/dev/null)"; do
        [ -x "$candidate" ] && usable "$candidate" && { echo "$candidate"; return; }
    done
    say "no Python >= 3.10 with the venv module found; set PYTHON=/path/to/python3"; exit 2
}

if [ ! -x "$VENV/bin/python" ]; then
    PY=$(pick_python)
    say "creating $VENV from $PY ($("$PY" --version 2>&1))"
    # --without-pip: Debian's interpreter ships no ensurepip; pip installs into the venv from outside.
    "$PY" -m venv --without-pip "$VENV"
fi
if [ "$(id -u)" = 0 ] && ! world_reachable "$VENV/bin/python"; then
    say "note: $VENV is under a folder other users cannot enter; '--sandbox process' will not work as root"
fi

# A pip that can install into another interpreter (pip >= 22.3 has --python).
PIP=()
for candidate in "$VENV/bin/python" python3 python /usr/bin/python3; do
    if "$candidate" -m pip --version >/dev/null 2>&1; then PIP=("$candidate" -m pip); break; fi
done
if [ ${#PIP[@]} = 0 ]; then
    say "pip is missing; install it (for example: apt-get install python3-pip)"; exit 2
fi

STAMP="$VENV/.backprop-grader-installed"
WANT=$(cat pyproject.toml scripts/constraints.txt | sha256sum | cut -c1-16)
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
    say "installing the grader and its development tools into $VENV"
    "${PIP[@]}" --python "$VENV/bin/python" install --quiet --disable-pip-version-check \
        -c scripts/constraints.txt -e ".[dev]" pip
    echo "$WANT" > "$STAMP"
fi
say "ready: $VENV/bin/grade ($("$VENV/bin/grade" --version))"
