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
# the workspace, on an embedded SQLite file
rm -f out/demo.db && rm -rf out/demo.db.evidence
.venv/bin/prodsec product add examples/products/router.yaml --db out/demo.db
.venv/bin/prodsec assess "Fictinet AX3000 Home Router" --db out/demo.db >/dev/null
.venv/bin/prodsec status "Fictinet AX3000 Home Router" uk-psti:schedule-1:1 --set met --evidence README.md --db out/demo.db
.venv/bin/prodsec gaps "Fictinet AX3000 Home Router" --db out/demo.db --format markdown | head -20
.venv/bin/prodsec audit verify --db out/demo.db
echo "pictures, report and workspace written to out/"
