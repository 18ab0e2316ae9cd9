#!/usr/bin/env bash
# One command on a fresh machine: install dependencies, build, fetch the default
# model and run the main job on it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh
model=$(bash scripts/fetch_default_model.sh)
./build/pagoda generate --model "$model" --chat "What is the capital of France?" --max-tokens 64
