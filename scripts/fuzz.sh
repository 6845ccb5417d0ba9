#!/usr/bin/env bash
# Fuzzes request parsing with cargo-fuzz (libFuzzer + AddressSanitizer, overflow checks on):
#   ingest_body   ingest bodies (JSON / NDJSON) through validation, pricing and roll-up
#   query_params  REST query strings and the web UI's JSON queries through range resolution
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET, default 60] [TARGET...]
# Exits non-zero when a target crashes; the input is saved in fuzz/artifacts/<target>/ and
# replays with `cargo +nightly fuzz run <target> fuzz/artifacts/<target>/crash-…`.
# The growing corpus is kept in fuzz/corpus/<target>/ (not in git); seeds are in fuzz/seeds/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

seconds=${1:-60}
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "usage: $0 [SECONDS_PER_TARGET] [TARGET...]" >&2; exit 2; }
shift $(( $# > 0 ? 1 : 0 ))
targets=("$@")
(( ${#targets[@]} )) || targets=(ingest_body query_params)

rustup toolchain list | grep -q '^nightly' || { say "installing the nightly toolchain"; rustup toolchain install nightly --profile minimal; }
command -v cargo-fuzz >/dev/null || { say "installing cargo-fuzz"; cargo install cargo-fuzz --locked; }

failed=()
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t"
  say "fuzzing $t for ${seconds}s"
  # -max_len: room for a batch of a few dozen events or a long query string.
  if ! cargo +nightly fuzz run "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
      -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1; then
    failed+=("$t")
  fi
done

if (( ${#failed[@]} )); then
  say "crashed: ${failed[*]} (inputs in fuzz/artifacts/)"
  exit 1
fi
say "no crash in ${targets[*]} (${seconds}s each)"
