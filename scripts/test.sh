#!/usr/bin/env bash
# Set up everything the tests use, then run them: .venv, and as root with apt also bubblewrap, a
# Docker engine, debootstrap (for the registry-free sandbox image) and chromium (the HTML report
# check). Extra arguments go to pytest.
#
# Without root or apt, the sandbox tests skip and say why. BACKPROP_GRADER_REQUIRE_SANDBOXES=1
# (set by CI) turns those skips into failures.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${BACKPROP_GRADER_VENV:-$PWD/.venv}
say() { printf '%s\n' "test: $*" >&2; }

bash scripts/setup.sh

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && [ "${BACKPROP_GRADER_APT:-1}" = 1 ]; then
    bash scripts/apt-install.sh bubblewrap docker.io debootstrap chromium
fi

if command -v dockerd >/dev/null && ! docker info >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    say "starting dockerd (log: /tmp/backprop-grader-dockerd.log)"
    nohup dockerd >/tmp/backprop-grader-dockerd.log 2>&1 &
    for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
fi

if docker info >/dev/null 2>&1; then
    # Reuses the image when nothing it is built from changed; otherwise builds it without a registry.
    "$VENV/bin/grade" image build
fi

if [ "${BACKPROP_GRADER_REQUIRE_SANDBOXES:-0}" = 1 ]; then
    export BACKPROP_GRADER_REQUIRE_DOCKER=1 BACKPROP_GRADER_REQUIRE_BWRAP=1 BACKPROP_GRADER_REQUIRE_CHROMIUM=1
fi
# Test files run in parallel, one file per worker at a time (pytest-xdist's loadfile), files with
# slow tests first (tests/conftest.py): a file's module fixtures (a corpus graded once, a bundle
# built once) are never built twice. BACKPROP_GRADER_TEST_WORKERS=1 runs serially; an explicit -n or
# -p no:xdist wins. One worker more than there are cores (at most 4): many tests wait on a
# subprocess, a container or a time limit, and a third worker on 2 cores keeps both busy (measured:
# 99% busy over a whole run).
CORES=$(nproc)
WORKERS=${BACKPROP_GRADER_TEST_WORKERS:-$(( CORES + 1 < 4 ? CORES + 1 : 4 ))}
PARALLEL=()
if [ "$WORKERS" -gt 1 ] && [[ " $* " != *" -n "* && " $* " != *" -p no:xdist "* ]]; then
    PARALLEL=(-n "$WORKERS" --dist loadfile --no-loadscope-reorder)
fi
set +e
"$VENV/bin/python" -m pytest "${PARALLEL[@]}" "$@"
status=$?
set -e
# pytest's 5 means "no tests collected", for example with a -k that matches nothing.
[ $status = 5 ] && { say "no tests matched"; status=0; }
exit $status
