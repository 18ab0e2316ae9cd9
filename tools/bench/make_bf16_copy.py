"""Makes the bf16 Hugging Face copy of the default model for `pagoda bench`.

The foundation issue's HF copy (~/.cache/pagoda/hf/smollm2-135m-instruct, made by
tools/golden/logits/gen_logits.py) holds the GGUF Q4_1 weights dequantized to
float32. This script loads it with transformers in bfloat16 and saves it again,
so that the benchmarks can measure the bf16 safetensors format the CPU-speed
issue names. The weights are the Q4_1 values rounded to bf16 (not a model
trained in bf16); the tokenizer files are copied unchanged.

    /work/venvs/torch/bin/python tools/bench/make_bf16_copy.py
Versions: tools/golden/requirements-logits.txt (transformers, torch), the /work/venvs/torch venv.
"""
import os
import shutil
import sys

import torch
import transformers

HF = os.path.expanduser("~/.cache/pagoda/hf")
SRC = os.path.join(HF, "smollm2-135m-instruct")
DST = os.path.join(HF, "smollm2-135m-instruct-bf16")


def main():
    if not os.path.isdir(SRC):
        sys.exit(f"{SRC} is missing: run tools/golden/logits/gen_logits.py first")
    model = transformers.AutoModelForCausalLM.from_pretrained(SRC, dtype=torch.bfloat16)
    os.makedirs(DST, exist_ok=True)
    model.save_pretrained(DST)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja", "generation_config.json"):
        if os.path.exists(os.path.join(SRC, name)):
            shutil.copy(os.path.join(SRC, name), os.path.join(DST, name))
    print(f"wrote {DST}")


if __name__ == "__main__":
    main()
