#!/usr/bin/env bash
# One command on a fresh machine: install dependencies, build, fetch the default
# model and run the main job on it: the OpenAI-compatible server on
# http://127.0.0.1:8000 (PAGODA_PORT to change; Ctrl-C stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh
model=$(bash scripts/fetch_default_model.sh)
# A one-line check that the model answers, then the server.
./build/pagoda generate --model "$model" --chat "What is the capital of France?" --max-tokens 32 --quiet
exec ./build/pagoda serve "$model" --host 127.0.0.1 --port "${PAGODA_PORT:-8000}" --served-model-name smollm2
