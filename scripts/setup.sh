#!/usr/bin/env bash
# Installs the build toolchain on a fresh Debian machine that has Rust, Node and apt, skipping
# whatever is already present at the right version. Sourced by run.sh and test.sh (it also
# puts the npm-installed wasm-opt on PATH).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

if ! rustup target list --installed | grep -q '^wasm32-unknown-unknown$'; then
  say "adding the wasm32 target"
  rustup target add wasm32-unknown-unknown
fi

# cargo-leptos 0.3.11 needs rustc 1.96; 0.3.10 works with this toolchain.
if [[ "$(cargo leptos --version 2>/dev/null || true)" != *"0.3.10"* ]]; then
  say "installing cargo-leptos 0.3.10 (about 10 minutes, once)"
  cargo install cargo-leptos --version 0.3.10 --locked
fi

# The wasm-bindgen CLI must equal the library version in Cargo.lock exactly.
wbg_version=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')
if [[ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $wbg_version" ]]; then
  say "installing wasm-bindgen-cli $wbg_version"
  cargo install wasm-bindgen-cli --version "$wbg_version"
fi

# wasm-opt from npm's binaryen 132 (Debian's v108 breaks hydration); cargo-leptos would
# otherwise try to download it from GitHub.
if [[ ! -x .tools/node_modules/.bin/wasm-opt ]]; then
  say "installing wasm-opt (npm binaryen@132)"
  npm install --silent --no-audit --no-fund --prefix .tools binaryen@132
fi
export PATH="$PWD/.tools/node_modules/.bin:$PATH"
