#!/usr/bin/env bash
# One command on a fresh machine: install dependencies, build, fetch the default
# model and run the main job on it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh
model=$(bash scripts/fetch_default_model.sh)
# SmolLM2 ids for "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
# (text prompts arrive with the tokenizer).
./build/pagoda generate --model "$model" --prompt-ids 1,4093,198,1780,314,260,3575,282,4649,47,2,198,1,520,9531,198 --max-tokens 32
