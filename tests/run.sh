#!/usr/bin/env bash
# Install the project with its test extras into a virtual environment, lint the tree with ruff
# (pyproject.toml's [tool.ruff]; any finding fails the run) and run the whole test suite.
# Usage: bash tests/run.sh [pytest arguments]     (LUNAR_VENV picks the environment folder, default .venv)
# On CI (CI=true), or with LUNAR_INSTALL_TOOLCHAINS=1, it first installs the cross compilers and
# qemu the export tests run on (Debian packages, .ci/install_toolchains.sh); elsewhere those
# tests skip a missing toolchain and say why.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${LUNAR_VENV:-.venv}"
if [ "${CI:-}" = "true" ] || [ "${LUNAR_INSTALL_TOOLCHAINS:-}" = "1" ]; then
    bash .ci/install_toolchains.sh
fi
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[dev]"
"$venv/bin/python" -m ruff check .
exec "$venv/bin/python" -m pytest -q "$@"
