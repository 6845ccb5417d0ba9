#!/usr/bin/env bash
# Builds and runs usage-analytics on SQLite (data/usage-analytics.db) with demo data on the
# first run, then serves the dashboard and prints its URL. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh

say "building (release; the first build takes a few minutes)"
cargo leptos build --release

bin=target/release/usage-analytics
export LEPTOS_SITE_ROOT=target/site LEPTOS_OUTPUT_NAME=usage-analytics
export LEPTOS_SITE_ADDR="${LEPTOS_SITE_ADDR:-127.0.0.1:3000}"

if [[ -z "$("$bin" projects list)" ]]; then
  say "first run: generating 90 days of demo traffic"
  "$bin" demo --events "${DEMO_EVENTS:-150000}" --days 90
  # An ingest key for trying the API (shown once; only its hash is stored).
  "$bin" keys create --project "Customer Support Chatbot"
fi

say "dashboard: http://$LEPTOS_SITE_ADDR/"
exec "$bin" serve
