#!/usr/bin/env bash
# Install (Debian packages) and start the services the tests use: PostgreSQL on 127.0.0.1, and chromium.
# Prints the environment variables the tests read. Safe to run twice.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

need=()
command -v pg_ctlcluster >/dev/null 2>&1 || need+=(postgresql)
command -v chromium >/dev/null 2>&1 || need+=(chromium chromium-driver)
if [ ${#need[@]} -gt 0 ]; then
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

# PostgreSQL: the Debian cluster, started, with a test role and database.
version=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h | grep -q "^${version} main"; then
  $SUDO pg_createcluster "$version" main >&2
fi
$SUDO pg_ctlcluster "$version" main start >&2 2>/dev/null || true
for _ in $(seq 1 30); do
  pg_isready -h 127.0.0.1 -q && break
  sleep 0.5
done
$SUDO -u postgres psql -q -h 127.0.0.1 -d postgres -c "select 1" >/dev/null 2>&1 || \
  $SUDO runuser -u postgres -- psql -q -d postgres -c "select 1" >/dev/null
run_psql() { if [ -z "$SUDO" ]; then runuser -u postgres -- psql -q -d postgres -c "$1"; else sudo -u postgres psql -q -d postgres -c "$1"; fi; }
run_psql "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'consentry') THEN
  CREATE ROLE consentry LOGIN SUPERUSER PASSWORD 'consentry'; END IF; END \$\$;" >&2
run_psql "SELECT 1 FROM pg_database WHERE datname = 'consentry_test'" | grep -q 1 || \
  run_psql "CREATE DATABASE consentry_test OWNER consentry" >&2

echo "export CONSENTRY_TEST_POSTGRES_URL=postgresql://consentry:consentry@127.0.0.1:5432/consentry_test"
