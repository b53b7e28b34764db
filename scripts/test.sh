#!/usr/bin/env bash
# Set up prodsec with its test extras in .venv and run the whole test suite (lint, types, tests).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
export PRODSEC_CACHE_DIR="${PRODSEC_CACHE_DIR:-$(mktemp -d)}"
.venv/bin/ruff check src tests bench
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
