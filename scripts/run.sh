#!/usr/bin/env bash
# Builds and runs usage-analytics on SQLite (data/usage-analytics.db) with demo data on the
# first run, then serves the dashboard and prints its URL. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh

say "building (release; the first build takes a few minutes)"
cargo leptos build --release --split

bin=target/release/usage-analytics
export LEPTOS_SITE_ROOT=target/site LEPTOS_OUTPUT_NAME=usage-analytics
export LEPTOS_SITE_ADDR="${LEPTOS_SITE_ADDR:-127.0.0.1:3000}"

if [[ -z "$("$bin" projects list)" ]]; then
  say "first run: generating 90 days of demo traffic"
  "$bin" demo --events "${DEMO_EVENTS:-150000}" --days 90
  # A monthly organisation budget and an error-rate alert, so those panels have something
  # to show (change them or add more on the admin page).
  "$bin" budgets create --usd 20000 --period month
  "$bin" alerts create --name "Error rate" --metric error_rate --above 5 --minutes 15
  # An ingest key for trying the API (shown once; only its hash is stored).
  "$bin" keys create --project "Customer Support Chatbot"
fi

# The demo admin: a random password on the first run, kept (owner-readable only) in data/.
login_file=data/demo-login.txt
if [[ ! -f "$login_file" ]]; then
  password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  # (An admin@example.com left from an earlier data/ gets the new password instead.)
  UA_PASSWORD="$password" "$bin" users create --email admin@example.com --role admin ||
    UA_PASSWORD="$password" "$bin" users password admin@example.com
  (umask 077; printf 'email: admin@example.com\npassword: %s\n' "$password" > "$login_file")
fi

say "dashboard: http://$LEPTOS_SITE_ADDR/  (sign in with the demo admin below; also in $login_file)"
cat "$login_file"
exec "$bin" serve
