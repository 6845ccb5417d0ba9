#!/usr/bin/env python3
"""Converts LiteLLM's model_prices_and_context_window.json into our price catalogue
(server/src/pricing/catalogue.json, embedded in the binary).

    scripts/convert-litellm-prices.py [LITELLM_JSON]

Without an argument it takes the copy inside LiteLLM's wheel from PyPI (litellm ships it as
litellm/model_prices_and_context_window_backup.json), at the version pinned below. LiteLLM is
MIT-licensed; its notice is kept beside the data in server/src/pricing/LICENSE-LiteLLM.txt.

Kept: chat, completion, responses and embedding models of the providers we price (the names
of shared::PROVIDERS), with token prices. Prices become integers: micro-USD per million tokens
(USD per token x 10^12), as every price in the product. Corrections where a provider's own
price page differs from LiteLLM go in server/src/pricing/corrections.json, applied on top.
"""

import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

LITELLM_VERSION = "1.110.2"
ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "server/src/pricing/catalogue.json"
CORRECTIONS = ROOT / "server/src/pricing/corrections.json"

# LiteLLM's provider names -> OpenTelemetry's gen_ai.provider.name values.
PROVIDERS = {
    "openai": "openai",
    "text-completion-openai": "openai",
    "anthropic": "anthropic",
    "gemini": "gcp.gemini",
    "vertex_ai-language-models": "gcp.vertex_ai",
    "vertex_ai-anthropic_models": "gcp.vertex_ai",
    "vertex_ai-mistral_models": "gcp.vertex_ai",
    "vertex_ai-embedding-models": "gcp.vertex_ai",
    "azure": "azure.ai.openai",
    "azure_text": "azure.ai.openai",
    "azure_ai": "azure.ai.inference",
    "bedrock": "aws.bedrock",
    "bedrock_converse": "aws.bedrock",
    "mistral": "mistral_ai",
    "deepseek": "deepseek",
    "xai": "x_ai",
    "cohere": "cohere",
    "cohere_chat": "cohere",
}
# Name prefixes LiteLLM uses to route, which clients do not send.
PREFIXES = ["azure_ai/", "azure/", "bedrock/converse/", "bedrock/", "vertex_ai/", "gemini/",
            "mistral/", "deepseek/", "xai/", "cohere/", "anthropic/", "openai/",
            "text-completion-openai/"]
MODES = {"chat", "completion", "responses", "embedding"}


def micro(usd_per_token):
    """USD per token -> integer micro-USD per million tokens (exact for every price kept:
    none is finer than a micro-dollar per million tokens)."""
    if usd_per_token is None:
        return None
    value = usd_per_token * 1e12
    if abs(value - round(value)) > 1e-3:
        sys.exit(f"{usd_per_token} USD per token is finer than our unit")
    return round(value)


def tier(spec, suffix):
    """The prices of a service tier (`_batches`, `_flex`, `_priority`), if any."""
    t = {
        "input": micro(spec.get(f"input_cost_per_token{suffix}")),
        "output": micro(spec.get(f"output_cost_per_token{suffix}")),
        "cached_input": micro(spec.get(f"cache_read_input_token_cost{suffix}")),
        "cache_write": micro(spec.get(f"cache_creation_input_token_cost{suffix}")),
    }
    if t["input"] is None or t["output"] is None:
        return None
    return {k: v for k, v in t.items() if v is not None}


def long_context(spec):
    """The long-context tier: prices above N input tokens (200k, 272k, 128k …)."""
    for key in spec:
        if key.startswith("input_cost_per_token_above_") and key.endswith("k_tokens"):
            k = key[len("input_cost_per_token_above_"):-len("_tokens")]
            above = int(k[:-1]) * 1000
            out = {
                "above_input_tokens": above,
                "input": micro(spec[key]),
                "output": micro(spec.get(f"output_cost_per_token_above_{k}_tokens")),
                "cached_input": micro(spec.get(f"cache_read_input_token_cost_above_{k}_tokens")),
                "cache_write": micro(spec.get(f"cache_creation_input_token_cost_above_{k}_tokens")),
            }
            if out["output"] is None:
                continue
            return {k: v for k, v in out.items() if v is not None}
    return None


def convert(data):
    entries = {}
    for name, spec in data.items():
        if not isinstance(spec, dict) or spec.get("mode") not in MODES:
            continue
        provider = PROVIDERS.get(spec.get("litellm_provider"))
        if provider is None or spec.get("input_cost_per_token") is None:
            continue
        if spec.get("output_cost_per_token") is None and spec.get("mode") != "embedding":
            continue
        model = name
        for p in PREFIXES:
            if model.startswith(p):
                model = model[len(p):]
                break
        # Deployment-type and region paths (azure/eu/…, bedrock/us-gov-east-1/…): not
        # names clients send.
        if "/" in model:
            continue
        entry = {
            "model": model,
            "provider": provider,
            "input": micro(spec["input_cost_per_token"]),
            "output": micro(spec.get("output_cost_per_token")) or 0,
        }
        for field, key in [
            ("cached_input", "cache_read_input_token_cost"),
            ("cache_write", "cache_creation_input_token_cost"),
            ("cache_write_1h", "cache_creation_input_token_cost_above_1hr"),
        ]:
            if spec.get(key) is not None:
                entry[field] = micro(spec[key])
        for field, suffix in [("batch", "_batches"), ("flex", "_flex"), ("priority", "_priority")]:
            t = tier(spec, suffix)
            if t:
                entry[field] = t
        lc = long_context(spec)
        if lc:
            entry["long_context"] = lc
        entries[(provider, model.lower())] = entry
    return entries


def litellm_json():
    if len(sys.argv) > 1:
        return json.loads(Path(sys.argv[1]).read_text())
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "--only-binary=:all:", "-d", d, f"litellm=={LITELLM_VERSION}"],
                       check=True)
        wheel = next(Path(d).glob("litellm-*.whl"))
        with zipfile.ZipFile(wheel) as z:
            return json.loads(z.read("litellm/model_prices_and_context_window_backup.json"))


def main():
    entries = convert(litellm_json())
    corrections = json.loads(CORRECTIONS.read_text())
    for c in corrections["models"]:
        entries[(c["provider"], c["model"].lower())] = {k: v for k, v in c.items() if k != "why"}
    models = sorted(entries.values(), key=lambda e: (e["provider"], e["model"]))
    doc = {
        "source": f"LiteLLM model_prices_and_context_window.json, litellm {LITELLM_VERSION} "
                  "(MIT, Copyright (c) 2023 Berri AI: see LICENSE-LiteLLM.txt), "
                  "with corrections.json on top",
        "taken": corrections["taken"],
        "unit": "micro-USD per million tokens",
        "models": models,
    }
    # One model per line, so that a new copy of LiteLLM's file reads as a short diff.
    head = {k: v for k, v in doc.items() if k != "models"}
    lines = [json.dumps(m, separators=(",", ":")) for m in models]
    text = json.dumps(head, indent=1)[:-2] + ',\n "models": [\n' + ",\n".join(lines) + "\n ]\n}\n"
    json.loads(text)
    OUT.write_text(text)
    print(f"{len(models)} models written to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
