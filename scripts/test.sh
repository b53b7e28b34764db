#!/usr/bin/env bash
# The README's second command: set up .venv with the test extras and run lint, type checks and
# the whole test suite (arguments go to pytest). The suite's data ships in tests/data.
#
# PostgreSQL: every database test also runs on PostgreSQL, found in this order —
#   1. PRODSEC_TEST_POSTGRES_URL, when set (it must be reachable);
#   2. postgresql://postgres@127.0.0.1:5432/test, when reachable;
#   3. a throwaway cluster in a temporary directory, when PostgreSQL's server binaries are
#      installed (/usr/lib/postgresql/*/bin), stopped and removed on exit;
#   4. otherwise those tests are skipped, and the run says so loudly.
# At the end it prints how many tests were skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_venv.sh

mkdir -p out
LOG=out/test-setup.log
: >"$LOG"
WORK=$(mktemp -d)
PG_DATA=""
PG_BIN=""

cleanup() {
  if [ -n "$PG_DATA" ]; then
    as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA/data" -m immediate stop >>"$LOG" 2>&1 || true
    rm -rf "$PG_DATA"
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

banner() { printf '\n%s\n%s\n%s\n\n' "=================================================================" "$*" "=================================================================" >&2; }

# Run a command as a user PostgreSQL accepts (initdb refuses root).
as_postgres() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

reachable() {
  .venv/bin/python - "$1" <<'EOF' >>"$LOG" 2>&1
import sys

import psycopg

url = sys.argv[1].replace("postgresql+psycopg://", "postgresql://", 1)
psycopg.connect(url, connect_timeout=3).close()
EOF
}

start_cluster() {
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$PG_BIN" ] && [ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pg_ctl" ] || return 1
  if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
    echo "as root, a throwaway cluster needs the 'postgres' user" >>"$LOG"
    return 1
  fi
  PG_DATA=$(mktemp -d /tmp/prodsec-pg.XXXXXX)
  [ "$(id -u)" != 0 ] || chown postgres "$PG_DATA"
  local port
  port=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  as_postgres "$PG_BIN/initdb" -D "$PG_DATA/data" -U postgres --auth=trust -E UTF8 >>"$LOG" 2>&1 || return 1
  as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA/data" -l "$PG_DATA/server.log" -w \
    -o "-p $port -k $PG_DATA -c listen_addresses=127.0.0.1 -c fsync=off" start >>"$LOG" 2>&1 || return 1
  as_postgres "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres test >>"$LOG" 2>&1 || return 1
  export PRODSEC_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$port/test"
}

ensure_venv test "$LOG"

# The web UI's end-to-end tests drive Debian's Chromium (never a downloaded browser).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "note: install Debian's chromium package to run the browser tests" >&2
  fi
fi

# CSAF provider trees are signed and checked with GnuPG (python-gnupg drives the gpg binary).
if ! command -v gpg >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnupg >/dev/null
  else
    echo "note: install Debian's gnupg package to run the CSAF signature tests" >&2
  fi
fi

POSTGRES=""
DEFAULT_URL="postgresql+psycopg://postgres@127.0.0.1:5432/test"
if [ -n "${PRODSEC_TEST_POSTGRES_URL:-}" ]; then
  if ! reachable "$PRODSEC_TEST_POSTGRES_URL"; then
    echo "error: PRODSEC_TEST_POSTGRES_URL=$PRODSEC_TEST_POSTGRES_URL is not reachable (details in $LOG)" >&2
    exit 2
  fi
  POSTGRES="PostgreSQL at PRODSEC_TEST_POSTGRES_URL"
elif reachable "$DEFAULT_URL"; then
  export PRODSEC_TEST_POSTGRES_URL="$DEFAULT_URL"
  POSTGRES="PostgreSQL at 127.0.0.1:5432, database test"
elif start_cluster; then
  POSTGRES="a throwaway PostgreSQL cluster in $PG_DATA (removed on exit)"
else
  PG_DATA=""
  unset PRODSEC_TEST_POSTGRES_URL
fi
if [ -n "$POSTGRES" ]; then
  echo "database tests: SQLite and $POSTGRES"
else
  banner "PostgreSQL half SKIPPED: no PostgreSQL reachable (PRODSEC_TEST_POSTGRES_URL, 127.0.0.1:5432)
and no server binaries to start one (/usr/lib/postgresql/*/bin; Debian: apt-get install postgresql).
Every database test runs on SQLite only."
fi

export PRODSEC_CACHE_DIR="${PRODSEC_CACHE_DIR:-$WORK/cache}"
.venv/bin/ruff check src tests bench
.venv/bin/mypy
status=0
.venv/bin/python -m pytest --junitxml="$WORK/junit.xml" "$@" || status=$?

skipped=$(.venv/bin/python - "$WORK/junit.xml" <<'EOF' 2>/dev/null || echo "?"
import sys
import xml.etree.ElementTree as ET

root = ET.parse(sys.argv[1]).getroot()
print(sum(int(s.get("skipped", 0)) for s in root.iter("testsuite")))
EOF
)
echo "skipped tests: $skipped"
[ -n "$POSTGRES" ] || banner "PostgreSQL half SKIPPED (see above): the database tests ran on SQLite only."
exit $status
