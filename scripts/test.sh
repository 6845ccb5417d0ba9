#!/usr/bin/env bash
# Runs every test: unit, integration on SQLite and PostgreSQL (real servers on port 0), and
# end-to-end in Debian's Chromium. Installs what is missing on a fresh Debian machine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }
apt_updated=""
apt_install() {
  [[ -n "$apt_updated" ]] || { as_root apt-get update -qq; apt_updated=1; }
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

[[ -x /usr/bin/chromium ]] || { say "installing Chromium"; apt_install chromium; }
command -v pg_ctlcluster >/dev/null || { say "installing PostgreSQL"; apt_install postgresql; }

# PostgreSQL: start the cluster and make sure the test role exists.
pg_version=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h | grep -q "^$pg_version *main .*online"; then
  say "starting PostgreSQL $pg_version"
  as_root pg_ctlcluster "$pg_version" main start
fi
psql_admin() { as_root su postgres -c "psql -v ON_ERROR_STOP=1 -tAc \"$1\""; }
if [[ "$(psql_admin "SELECT 1 FROM pg_roles WHERE rolname = 'usage'")" != "1" ]]; then
  psql_admin "CREATE ROLE usage WITH LOGIN CREATEDB PASSWORD 'usage'"
fi
# Each integration test creates its own ua_test_… database and leaves it behind; they are
# dropped before and after the tests (left to pile up, they kept autovacuum from reaching a
# benchmark's database in time: it visits one database at a time).
drop_test_databases() {
  for db in $(psql_admin "SELECT datname FROM pg_database WHERE datname LIKE 'ua\\_test\\_%'"); do
    psql_admin "DROP DATABASE $db" >/dev/null
  done
}
drop_test_databases
export TEST_POSTGRES_URL="${TEST_POSTGRES_URL:-postgres://usage:usage@localhost:5432/postgres}"

# The real OpenTelemetry exporters and the openai client, for the OTLP tests.
venv=target/otel-venv
if ! cmp -s server/tests/otlp/requirements.txt "$venv/requirements.txt" 2>/dev/null; then
  say "installing the Python OpenTelemetry clients (pinned)"
  rm -rf "$venv"
  python3 -c "import venv, ensurepip" 2>/dev/null || apt_install python3-venv
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r server/tests/otlp/requirements.txt
  cp server/tests/otlp/requirements.txt "$venv/requirements.txt"
fi
export UA_TEST_PYTHON="$PWD/$venv/bin/python"
(cd server/tests/otlp/js && npm ci --silent --no-audit --no-fund)

say "formatting and lints"
cargo fmt --all -- --check
cargo clippy -p shared -p app -p server --all-targets -- -D warnings
# The browser's side too: code behind `feature = "hydrate"` is compiled only for wasm.
cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings

say "unit and integration tests (SQLite and PostgreSQL)"
if ! cargo nextest --version >/dev/null 2>&1; then
  say "installing cargo-nextest 0.9.143"
  cargo install cargo-nextest --version 0.9.143 --locked
fi
# cargo-nextest runs each test in a process of its own, so each has the one Tokio runtime a
# server process has (several runtimes in one process let a server-side render wait on a task
# spawned onto another test's runtime; see docs/ARCHITECTURE.md), and ends a hung test
# (.config/nextest.toml) instead of holding the run. The three crates are built together,
# as `cargo test` would (the app's tests need the server-side features the server enables).
# The crates have no doc tests, which nextest does not run.
cargo nextest run -p shared -p app -p server
drop_test_databases

say "end-to-end tests in Chromium"
(cd end2end && npm ci --silent --no-audit --no-fund)
e2e_dir=$(mktemp -d)
trap 'rm -rf "$e2e_dir"' EXIT
export DATABASE_URL="sqlite://$e2e_dir/e2e.db"
# A free port, not 3000: the product may be running there (scripts/run.sh), and the specs
# would then run against it.
free_port() {
  local port
  for _ in $(seq 1 100); do
    port=$((20000 + RANDOM % 40000))
    # Nothing answers a connection there.
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
  done
  echo "no free port found" >&2; return 1
}
port=$(free_port)
export LEPTOS_SITE_ADDR="127.0.0.1:$port" BASE_URL="http://127.0.0.1:$port"
# The webhook spec's receiver listens on loopback, which webhooks reach only when allowed.
export UA_WEBHOOK_ALLOW_PRIVATE=1
cargo leptos end-to-end --release --split

# The wasm's size budgets (gzip -9 bytes). Issue 32's target is 350 KB; until it is reached
# these hold the figures reached, so that a change cannot grow the wasm unnoticed: raise one
# only on purpose, and say why in the commit. The main bundle is what every page loads (874,347
# bytes at the end of 2026-12-07's fifth session; 599,175 once components were type-erased in
# release builds; 447,620 once the admin and end-user pages became chunks of their own,
# `--split`; 448,077 once panels ask the server only while their section shows); the chunks
# are fetched when those pages open (178,282 bytes together; 180,309 once the end-user page
# became the only user of a panel body without a section, whose code moved into its chunk).
wasm_budget=449000
chunks_budget=181000
wasm_gzip=$(gzip -9 -c target/site/pkg/usage-analytics.wasm | wc -c)
chunks_gzip=0
chunks=(target/site/pkg/split_*.wasm target/site/pkg/chunk_*.wasm)
[[ -e ${chunks[0]} ]] || { echo "no split-off wasm chunk in target/site/pkg: was --split lost?" >&2; exit 1; }
for chunk in "${chunks[@]}"; do
  if [[ -e $chunk ]]; then chunks_gzip=$((chunks_gzip + $(gzip -9 -c "$chunk" | wc -c))); fi
done
say "wasm: main bundle $wasm_gzip bytes gzipped (budget $wasm_budget), chunks $chunks_gzip (budget $chunks_budget)"
if (( wasm_gzip > wasm_budget || chunks_gzip > chunks_budget )); then
  echo "the wasm grew past its budget: main $wasm_gzip > $wasm_budget or chunks $chunks_gzip > $chunks_budget bytes gzipped" >&2
  exit 1
fi

say "the release: its tarball's binary, copied alone into an empty directory"
scripts/release.sh
unpacked="$e2e_dir/release"
mkdir -p "$unpacked"
tar -xzf "dist/$(cat dist/latest).tar.gz" -C "$unpacked"
(cd end2end && UA_RELEASE_BINARY="$unpacked/$(cat ../dist/latest)/usage-analytics" \
  npx playwright test -c release.config.mjs)
say "all tests passed"
