#!/usr/bin/env bash
# Builds the release (issue 33): one stripped binary that carries its site (wasm, JS, CSS and
# public files, precompressed with brotli and gzip, the app's files under a content-hashed
# name), and a tarball with it, the README, DEPLOY.md, the licence and the third-party
# notices. Output: dist/usage-analytics-<version>-<target>.tar.gz (and the unpacked
# directory beside it). Needs what scripts/setup.sh installs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh

say "building the site and the server (cargo leptos build --release --split)"
cargo leptos build --release --split
say "embedding the site in the binary"
# The same LEPTOS_OUTPUT_NAME and RUSTFLAGS cargo-leptos compiles with (the leptos crates read
# the name at compile time; `always-erase-components` in Cargo.toml sets the flag), so only
# the server crate is built again, and its views are erased as the browser's are.
UA_EMBED_SITE="$PWD/target/site" LEPTOS_OUTPUT_NAME=usage-analytics RUSTFLAGS="--cfg erase_components" \
  cargo build --release --package=server --bin=usage-analytics --no-default-features

version=$(target/release/usage-analytics --version | awk '{print $2}')
triple=$(rustc -vV | awk '/^host:/ {print $2}')
name="usage-analytics-$version-$triple"
out="dist/$name"
rm -rf "$out" "dist/$name.tar.gz"
mkdir -p "$out"
cp target/release/usage-analytics "$out/"
strip "$out/usage-analytics"
cp README.md LICENSE docs/DEPLOY.md "$out/"
python3 scripts/third-party-notices.py > "$out/THIRD-PARTY-NOTICES.txt"
tar -C dist -czf "dist/$name.tar.gz" "$name"
echo "$name" > dist/latest
say "built dist/$name.tar.gz ($(du -h "dist/$name.tar.gz" | cut -f1)); binary $(du -h "$out/usage-analytics" | cut -f1)"
