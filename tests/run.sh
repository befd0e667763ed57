#!/usr/bin/env bash
# Install the project with its test extras into a virtual environment and run the whole test suite.
# Usage: bash tests/run.sh [pytest arguments]     (LUNAR_VENV picks the environment folder, default .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${LUNAR_VENV:-.venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[dev]"
exec "$venv/bin/python" -m pytest -q "$@"
