#!/usr/bin/env bash
# Measures migration 0012 (the duplicate key moves to (project, timestamp, id)) on a database
# an older release filled: OLD_BINARY (built from a commit before 0012) writes N bench events
# into the EMPTY database at DATABASE_URL, then this build's server opens it. Prints, as a
# markdown table: the time until /readyz answered 200, the peak extra disk used meanwhile
# (free space sampled every 0.2 s on the database's file system), the database's size before
# and after, and whether `verify` passed and the roll-ups' sums are unchanged.
#
#   scripts/bench-migration.sh OLD_BINARY N sqlite:///tmp/m.db
#   scripts/bench-migration.sh OLD_BINARY N postgres://usage:usage@localhost/bench_m
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
old=$1 events=$2 url=$3
new=target/release/usage-analytics
[[ -x $new ]] || { echo "build first: cargo leptos build --release" >&2; exit 1; }
export DATABASE_URL=$url LEPTOS_SITE_ADDR=127.0.0.1:3099 LEPTOS_SITE_ROOT=target/site
log=$(mktemp)
trap 'kill "${pid:-}" 2>/dev/null || true; rm -f "$log"' EXIT

case $url in
  sqlite://*) file=${url#sqlite://}; dir=$(dirname "$file")
    sql() { sqlite3 "$file" "$1"; }
    size() { du -cb "$file"* | tail -1 | cut -f1; } ;;
  postgres*) dir=$(psql "$url" -tAc "SHOW data_directory" 2>/dev/null || echo /var/lib/postgresql)
    [[ -d $dir ]] || dir=/
    sql() { psql "$url" -tAc "$1"; }
    size() { psql "$url" -tAc "SELECT pg_database_size(current_database())"; } ;;
esac
sums="SELECT COUNT(*), SUM(requests), SUM(cost_nanos), SUM(input_tokens), SUM(latency_sum_ms) FROM rollup_1d"

echo "filling with the old binary ($events events)…" >&2
"$old" bench --events "$events" --ingest-only >&2
rollups_before=$(sql "$sums")
events_before=$(sql "SELECT COUNT(*) FROM events")
size_before=$(size)
free_before=$(df -B1 --output=avail "$dir" | tail -1)

echo "opening it with this build…" >&2
start=$(date +%s.%N)
"$new" serve >"$log" 2>&1 &
pid=$!
min_free=$free_before
until curl -sf "http://$LEPTOS_SITE_ADDR/readyz" >/dev/null; do
  kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; echo "the server stopped" >&2; exit 1; }
  free=$(df -B1 --output=avail "$dir" | tail -1)
  (( free < min_free )) && min_free=$free
  sleep 0.2
done
ready_s=$(echo "$(date +%s.%N) - $start" | bc)
kill "$pid"; wait "$pid" 2>/dev/null || true
grep -i "migration" "$log" | sed 's/^/    /' >&2 || true

rollups_after=$(sql "$sums")
events_after=$(sql "SELECT COUNT(*) FROM events")
size_after=$(size)
verify=$("$new" verify 2>&1 | tail -1)
mb() { echo "$(( $1 / 1000000 )) MB"; }

printf '| measurement | value |\n|---|---|\n'
printf '| database | %s, %s events |\n' "${url%%:*}" "$events_before"
printf '| until /readyz answered 200 | %.1f s |\n' "$ready_s"
printf '| peak extra disk during the migration | %s |\n' "$(mb $(( free_before - min_free )))"
printf '| database size before / after | %s / %s |\n' "$(mb "$size_before")" "$(mb "$size_after")"
printf '| events before / after | %s / %s |\n' "$events_before" "$events_after"
printf '| roll-up sums unchanged | %s |\n' "$([[ $rollups_before == "$rollups_after" ]] && echo yes || echo "NO: $rollups_before -> $rollups_after")"
printf '| verify | %s |\n' "$verify"
