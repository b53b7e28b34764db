# Sourced by demo.sh and test.sh: make .venv with a Python >= 3.11 and install prodsec with the
# given extras, skipping pip when pyproject.toml and the extras are unchanged since it last ran.

find_python() {
  local candidate
  for candidate in "${PYTHON:-}" python3 python3.13 python3.12 python3.11; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

# ensure_venv EXTRAS LOG: e.g. ensure_venv test out/test.log
ensure_venv() {
  local extras=$1 log=$2 python stamp=.venv/.prodsec-installed want
  if [ ! -x .venv/bin/python ]; then
    if ! python=$(find_python); then
      echo "error: prodsec needs Python >= 3.11; none found (set PYTHON=/path/to/python3.11 or newer)" >&2
      return 2
    fi
    "$python" -m venv .venv
  fi
  want="$extras $(sha256sum pyproject.toml | cut -d' ' -f1)"
  if ! grep -qxF "$want" "$stamp" 2>/dev/null; then
    if ! .venv/bin/python -m pip install --disable-pip-version-check -e ".[$extras]" >>"$log" 2>&1; then
      echo "error: pip install -e '.[$extras]' failed; its output is in $log" >&2
      return 1
    fi
    echo "$want" >>"$stamp"
  fi
}
