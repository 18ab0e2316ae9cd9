#!/usr/bin/env python3
"""Beam-search references from HF transformers generate(num_beams=k, do_sample=False).

For each model and beam width k in (2, 4): 8 prompts, max_new_tokens 12,
num_return_sequences k, HF defaults (length_penalty 1.0, early_stopping False) and
the model's generation_config eos ids. Writes tests/golden/beam/<model>.json with
the generated ids (after the prompt, padding stripped) and sequences_scores.

Run with the venv of tools/golden/requirements-logits.txt:
  /work/venvs/torch/bin/python tools/golden/beam/gen_beam.py
"""
import json
import os
import sys

import torch
import transformers
from transformers import AutoModelForCausalLM, GenerationConfig

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")

MODELS = {
    "stories260k": ("shared", "models/stories260k"),
    "tinystories-656k": ("shared", "models/tinystories-656k"),
    "qwen2-tiny": ("repo", "tests/models/qwen2-tiny"),
}
PROMPT_LENGTHS = [1, 2, 5, 9, 13, 20, 32, 57]


def prompts_for(model_name, vocab):
    # Prompts from the logits goldens (same texts, tokenized by HF there), cut to the lengths above.
    with open(os.path.join(ROOT, "tests/golden/logits", model_name + ".json")) as f:
        cases = json.load(f)["cases"]
    longest = max(cases, key=lambda c: len(c["prompt_ids"]))["prompt_ids"]
    out = []
    for i, n in enumerate(PROMPT_LENGTHS):
        src = cases[i % len(cases)]["prompt_ids"]
        p = (src + longest)[:n]
        out.append([t % vocab for t in p])
    return out


def main():
    torch.manual_seed(0)
    for name, (kind, rel) in MODELS.items():
        path = os.path.join(SHARED if kind == "shared" else ROOT, rel)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation="eager").eval()
        gen = GenerationConfig.from_pretrained(path) if os.path.exists(os.path.join(path, "generation_config.json")) else GenerationConfig()
        eos = gen.eos_token_id if gen.eos_token_id is not None else model.config.eos_token_id
        if isinstance(eos, int):
            eos = [eos]
        vocab = model.config.vocab_size
        result = {"name": name, "model": {"kind": kind, "path": rel}, "eos_token_ids": eos, "max_new_tokens": 12,
                  "length_penalty": 1.0, "early_stopping": False,
                  "generator": {"script": "tools/golden/beam/gen_beam.py", "transformers": transformers.__version__,
                                "torch": torch.__version__}, "cases": []}
        for prompt in prompts_for(name, vocab):
            for k in (2, 4):
                ids = torch.tensor([prompt])
                with torch.no_grad():
                    out = model.generate(ids, attention_mask=torch.ones_like(ids), num_beams=k, num_return_sequences=k,
                                         do_sample=False, max_new_tokens=12, eos_token_id=eos, pad_token_id=eos[0],
                                         length_penalty=1.0, early_stopping=False, output_scores=True,
                                         return_dict_in_generate=True)
                seqs = []
                for row, bi in zip(out.sequences.tolist(), out.beam_indices.tolist()):
                    gen_len = sum(1 for b in bi if b >= 0)
                    seqs.append(row[len(prompt):len(prompt) + gen_len])
                result["cases"].append({"prompt_ids": prompt, "num_beams": k, "sequences": seqs,
                                        "scores": [float(s) for s in out.sequences_scores.tolist()]})
        with open(os.path.join(ROOT, "tests/golden/beam", name + ".json"), "w") as f:
            json.dump(result, f, indent=1)
        print(name, len(result["cases"]), "cases", file=sys.stderr)


if __name__ == "__main__":
    main()
