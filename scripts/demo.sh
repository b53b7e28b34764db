#!/usr/bin/env bash
# The README's first command. Sets up .venv with everything the demo uses, then runs the main
# job end to end: check the example products against every instrument, draw the landscapes,
# keep a product's compliance in a workspace (SQLite file), generate documents from it, and scan
# a real SBOM against real OSV advisories. Writes into out/demo/ and prints a short summary;
# every command's own output goes to out/demo/demo.log.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_venv.sh

OUT=out/demo
LOG=$OUT/demo.log
DB=$OUT/workspace.db
ROUTER="Fictinet AX3000 Home Router"
SBOM=tests/data/sbom/cyclonedx/SBOM/proton-bridge/proton-bridge-v1.8.0.bom.json
ADVISORIES=tests/data/osv/go
KEV=tests/data/kev/known_exploited_vulnerabilities.json
STEP=set-up

rm -rf "$OUT" && mkdir -p "$OUT" && : >"$LOG"
failed() { echo "demo failed at step '$STEP'; the end of $LOG:" >&2; tail -n 15 "$LOG" >&2; }
trap 'code=$?; [ $code = 0 ] || failed; exit $code' EXIT
# everything stays in out/demo/, the workspace's secret key (data dir) included
export PRODSEC_CACHE_DIR="$PWD/$OUT/cache" PRODSEC_EVIDENCE_DIR="$PWD/$OUT/evidence" \
  PRODSEC_DATA_DIR="$PWD/$OUT"

prodsec() { echo "\$ prodsec $*" >>"$LOG"; .venv/bin/prodsec "$@" 2>>"$LOG"; }
py() { .venv/bin/python -c "$@"; }
line() { printf '  %-10s %s\n' "$1" "$2"; }

echo "prodsec demo: writing to $OUT/ (the commands' output: $LOG)"
[ -x .venv/bin/prodsec ] || echo "  first run: installing prodsec and its extras into .venv (a few minutes)"
ensure_venv "pictures,server,vuln,pdf" "$LOG"
line set-up ".venv with prodsec[pictures,server,vuln,pdf] ($([ $SECONDS -lt 2 ] && echo "up to date" || echo "installed in $SECONDS s"))"

STEP=check
prodsec check examples/products/ --format markdown >"$OUT/portfolio.md"
prodsec check examples/products/router.yaml --output "$OUT/router-report.html" >>"$LOG"
instruments=$(prodsec regulations --format json | py 'import json,sys; print(len(json.load(sys.stdin)))')
products=$(ls examples/products/*.yaml | wc -l)
line check "$products example products × $instruments instruments: $OUT/portfolio.md, router-report.html"

STEP=landscape
prodsec landscape --output "$OUT/landscape.svg" >>"$LOG"
line landscape "$OUT/landscape-rigor.svg, landscape-scope.svg"

STEP=workspace
prodsec product add examples/products/router.yaml --db "$DB" >>"$LOG"
prodsec product release "$ROUTER" 1.0 --placed-on-market 2026-03-01 --support-end 2031-03-01 --db "$DB" >>"$LOG"
prodsec assess "$ROUTER" --db "$DB" >>"$LOG"
prodsec status "$ROUTER" uk-psti:schedule-1:1 --set met --evidence README.md --expires 2027-03-01 --db "$DB" >>"$LOG"
prodsec status "$ROUTER" eu-cra:annex-i:part-i:2:m --set not-applicable --justification "stores no user data" --db "$DB" >>"$LOG"
prodsec gaps "$ROUTER" --db "$DB" --format markdown >"$OUT/gaps.md"
progress=$(prodsec gaps "$ROUTER" --db "$DB" --format json | py '
import json, sys
rows = [i for i in json.load(sys.stdin)["instruments"] if i["status"] == "required"]
print(", ".join("%s %d/%d" % (i["regulation"], i["done"], i["total"]) for i in rows))')
prodsec audit verify --db "$DB" >>"$LOG"
line workspace "$DB: the router, release 1.0, assessed; 2 statuses set (one with evidence)"
line "" "done per required instrument: $progress; $OUT/gaps.md; audit chain verified"

STEP=documents
prodsec document eu-declaration "$ROUTER" --draft --format html --output "$OUT/eu-declaration.html" --db "$DB" >>"$LOG"
prodsec document technical-file "$ROUTER" --draft --format md --output "$OUT/technical-file.md" --db "$DB" >>"$LOG"
written="$OUT/eu-declaration.html, technical-file.md"
if .venv/bin/python -c 'import weasyprint' >>"$LOG" 2>&1; then
  prodsec document eu-declaration "$ROUTER" --draft --format pdf --output "$OUT/eu-declaration.pdf" --db "$DB" >>"$LOG"
  written="$written, eu-declaration.pdf"
else
  written="$written (no PDF: WeasyPrint cannot load its system libraries, e.g. Pango)"
fi
line documents "drafts, missing information marked: $written"

STEP=sbom
prodsec sbom scan "$SBOM" --advisories "$ADVISORIES" --format json >"$OUT/findings.json"
scanned=$(py '
import json, sys
findings = json.load(open(sys.argv[1]))["findings"]
print("%d findings on %d components" % (len(findings), len({f["component"] for f in findings})))' "$OUT/findings.json")
advisories=$(ls "$ADVISORIES"/osv/GO-*.json | wc -l)
line sbom "proton-bridge 1.8.0 (real Go SBOM) × $advisories Go advisories: $scanned; $OUT/findings.json"
prodsec sbom import "$ROUTER" 1.0 "$SBOM" --db "$DB" >>"$LOG"
prodsec advisories import "$ADVISORIES" --kev "$KEV" --db "$DB" >>"$LOG"
prodsec findings "$ROUTER" 1.0 --db "$DB" --format json >"$OUT/workspace-findings.json"
triage=$(py '
import json, sys
findings = json.load(open(sys.argv[1]))["findings"]
print("%d findings to triage, %d known exploited" % (len(findings), sum(f["known_exploited"] for f in findings)))
' "$OUT/workspace-findings.json")
line "" "imported as the router's release 1.0 (with the KEV catalogue): $triage"

cat <<EOF
done in $SECONDS s. Try next:
  . .venv/bin/activate
  export PRODSEC_DATA_DIR=$PWD/$OUT PRODSEC_EVIDENCE_DIR=$PWD/$OUT/evidence   # the demo's key and files
  prodsec regulation eu-cra                          # dates, routes, standards, requirements
  prodsec check examples/products/camera.yaml        # what applies to one product, and why
  prodsec gaps "$ROUTER" --db $DB
  prodsec findings "$ROUTER" --db $DB
  prodsec serve --db $DB           # web UI and API on http://127.0.0.1:8000
  ./scripts/test.sh                                  # lint, types and the whole test suite
EOF
