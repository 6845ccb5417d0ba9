#!/usr/bin/env bash
# Measures the streaming raw export: N demo events (default 1,000,000) in a fresh SQLite file,
# then one `GET /api/v1/events/export` of all of them; prints events/s and the server's peak
# memory (VmHWM) as a markdown table. Needs a release build (scripts/run.sh or test.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
events="${1:-1000000}"
bin=target/release/usage-analytics
[[ -x $bin ]] || { echo "build first: cargo leptos build --release" >&2; exit 1; }
dir=$(mktemp -d)
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$dir"' EXIT
export DATABASE_URL="sqlite://$dir/bench.db" LEPTOS_SITE_ADDR=127.0.0.1:3077 LEPTOS_SITE_ROOT=target/site

start=$(date +%s.%N)
"$bin" demo --events "$events" --days 90 --seed 7 >/dev/null 2>&1
demo_s=$(echo "$(date +%s.%N) - $start" | bc)

token=$("$bin" tokens create --name bench-export | tail -1)
"$bin" serve >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -sf http://127.0.0.1:3077/readyz >/dev/null && break; sleep 0.1; done
rss_before=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
start=$(date +%s.%N)
# Whole local days in UTC from 91 days ago to today cover every generated event.
range="startDate=$(date -u -d '91 days ago' +%F)&endDate=$(date -u +%F)&tz=UTC"
bytes=$(curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:3077/api/v1/events/export?$range&format=csv" | tee >(wc -l > "$dir/lines") | wc -c)
export_s=$(echo "$(date +%s.%N) - $start" | bc)
rows=$(( $(cat "$dir/lines") - 1 ))
rss_after=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)

printf '| measurement | value |\n|---|---|\n'
printf '| events generated and ingested (demo, SQLite) | %d in %.1f s (%.0f events/s) |\n' "$events" "$demo_s" "$(echo "$events / $demo_s" | bc -l)"
printf '| raw CSV export | %d rows, %.1f MB in %.2f s (%.0f events/s) |\n' "$rows" "$(echo "$bytes / 1000000" | bc -l)" "$export_s" "$(echo "$rows / $export_s" | bc -l)"
printf '| server peak memory (VmHWM) before / after export | %.1f MB / %.1f MB |\n' "$(echo "$rss_before / 1024" | bc -l)" "$(echo "$rss_after / 1024" | bc -l)"
printf '| machine | %s, %s cores |\n' "$(uname -m)" "$(nproc)"
