#!/usr/bin/env python3
"""Prints the third-party notices of a release (scripts/release.sh): every crate linked into
the server binary or the browser's wasm (`cargo tree`, normal dependencies), its licence, and
the licence and notice files it ships, each distinct text once; then the data we bundle (the
price catalogue converted from LiteLLM)."""
import glob
import os
import subprocess
import sys
from collections import OrderedDict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def crates(package, target=None):
    args = ["cargo", "tree", "--locked", "-p", package, "-e", "normal", "--prefix", "none",
            "--format", "{p}\t{l}"]
    if target:
        args += ["--target", target]
    out = subprocess.run(args, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        spec, _, licence = line.partition("\t")
        licence = licence.replace("(*)", "")  # cargo tree's mark of a crate listed before
        parts = spec.split()
        if len(parts) < 2:
            continue
        name, version = parts[0], parts[1].lstrip("v")
        local = len(parts) > 2 and parts[2].startswith("(/")
        yield name, version, licence.strip() or "(not stated)", local


def licence_files(name, version):
    homes = [os.environ.get("CARGO_HOME", os.path.expanduser("~/.cargo"))]
    found = []
    for home in homes:
        for d in glob.glob(os.path.join(home, "registry", "src", "*", f"{name}-{version}")):
            for pattern in ("LICEN[CS]E*", "COPYING*", "NOTICE*", "license*", "UNLICENSE"):
                found += sorted(glob.glob(os.path.join(d, pattern)))
            if found:
                return found
    return found


def main():
    seen = OrderedDict()
    for package, target in (("server", None), ("frontend", "wasm32-unknown-unknown")):
        for name, version, licence, local in crates(package, target):
            if not local:
                seen[(name, version)] = licence
    texts = OrderedDict()
    print("Third-party notices of usage-analytics")
    print("=" * 38)
    print()
    print(f"The binary and its embedded web bundle contain these {len(seen)} crates from")
    print("crates.io (name, version, licence). Their licence and notice files follow, each")
    print("distinct text once with the crates it comes with.")
    print()
    for (name, version), licence in seen.items():
        print(f"  {name} {version}: {licence}")
        for path in licence_files(name, version):
            if os.path.isfile(path):
                with open(path, encoding="utf-8", errors="replace") as f:
                    text = f.read().strip()
                texts.setdefault(text, []).append(f"{name} {version} ({os.path.basename(path)})")
    for text, owners in texts.items():
        print()
        print("-" * 78)
        print("For: " + ", ".join(owners))
        print()
        print(text)
    print()
    print("-" * 78)
    print("Data: the model price catalogue (server/src/pricing/catalogue.json) is converted")
    print("from LiteLLM's model_prices_and_context_window.json, under this licence:")
    print()
    with open(os.path.join(ROOT, "server", "src", "pricing", "LICENSE-LiteLLM.txt"), encoding="utf-8") as f:
        print(f.read().strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
