#!/usr/bin/env bash
# Set up, then grade the built-in example submission (the reference solution) and print the table.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec "${BACKPROP_GRADER_VENV:-.venv}/bin/grade" demo --assignment "${BACKPROP_GRADER_ASSIGNMENT:-hlcv-ex2}" "$@"
