#!/usr/bin/env bash
# Set up prodsec in .venv (embedded default: no server, no database needed) and run the main
# job: check the example products against every instrument, then draw the landscapes.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[pictures]'
.venv/bin/prodsec regulations
.venv/bin/prodsec check examples/products/ "$@"
mkdir -p out
.venv/bin/prodsec landscape --output out/landscape.svg
.venv/bin/prodsec check examples/products/camera.yaml --output out/camera-report.html --format markdown >/dev/null
echo "pictures and report written to out/"
