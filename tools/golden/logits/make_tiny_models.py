#!/usr/bin/env python3
"""Creates the tiny random-weight models under tests/models/<name>/ with HF transformers.

Each model is built from a config with a fixed seed, its weights re-initialized with a
larger spread than HF's default (normal std 0.15, norm weights 1 + 0.1*randn, non-zero
biases) so that logits are far from uniform, then saved with save_pretrained
(model.safetensors, config.json, generation_config.json). A TOKENIZER.txt names the real
tokenizer under ../shared/tokenizers/ that the golden prompts were tokenized with.

Run (from the repo root):
  /work/venvs/torch/bin/python tools/golden/logits/make_tiny_models.py [name ...]
Rerunning rewrites the same files: the seeds are fixed.
"""

import argparse
import json
import os
import shutil
import sys

import torch
import transformers

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
OUT_DIR = os.path.join(REPO, "tests", "models")
VOCAB = 4096
WEIGHT_STD = 0.15
BIAS_STD = 0.1
NORM_STD = 0.1

# Common small shapes. max_position_embeddings covers the longest prompt (200) plus 32
# greedy steps unless a model needs a small value on purpose.
LLAMA_BASE = dict(
    vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
    num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
    rms_norm_eps=1e-5, bos_token_id=1, eos_token_id=2, tie_word_embeddings=True,
)


def rope(theta, rope_type="default", **kw):
    """transformers 5 keeps rope_theta and the scaling inside one rope_parameters dict."""
    return dict(rope_type=rope_type, rope_theta=theta, **kw)


def llama(rope_parameters=None, **kw):
    cfg = dict(LLAMA_BASE)
    cfg.update(kw)
    return transformers.LlamaConfig(rope_parameters=rope_parameters or rope(10000.0), **cfg)


# name -> (seed, config factory, tokenizer family under ../shared/tokenizers, save dtype)
MODELS = {
    "mistral-tiny": (
        101,
        lambda: transformers.MistralConfig(
            vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
            rms_norm_eps=1e-5, rope_parameters=rope(10000.0), sliding_window=16,
            tie_word_embeddings=True, bos_token_id=1, eos_token_id=2),
        "mistral-7b", torch.float32),
    "qwen2-tiny": (
        102,
        lambda: transformers.Qwen2Config(
            vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
            rms_norm_eps=1e-6, rope_parameters=rope(1000000.0), tie_word_embeddings=True,
            use_sliding_window=False, bos_token_id=None, eos_token_id=2),
        "qwen2.5-instruct", torch.float32),
    "qwen3-tiny": (
        103,
        lambda: transformers.Qwen3Config(
            vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, head_dim=32,
            max_position_embeddings=256, rms_norm_eps=1e-6, rope_parameters=rope(1000000.0),
            tie_word_embeddings=False, use_sliding_window=False, bos_token_id=None,
            eos_token_id=2),
        "qwen3", torch.bfloat16),
    "gpt2-tiny": (
        104,
        lambda: transformers.GPT2Config(
            vocab_size=VOCAB, n_positions=256, n_embd=64, n_layer=2, n_head=4,
            layer_norm_epsilon=1e-5, bos_token_id=0, eos_token_id=0,
            resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0),
        "gpt2", torch.float32),
    "gptneox-tiny": (
        105,
        lambda: transformers.GPTNeoXConfig(
            vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
            num_attention_heads=2, max_position_embeddings=256,
            rope_parameters=rope(10000.0, partial_rotary_factor=0.25),
            layer_norm_eps=1e-5, use_parallel_residual=True,
            tie_word_embeddings=False, hidden_dropout=0.0, attention_dropout=0.0,
            bos_token_id=0, eos_token_id=0),
        "olmo", torch.float32),
    "gptneox-seq-tiny": (
        106,
        lambda: transformers.GPTNeoXConfig(
            vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
            num_attention_heads=4, max_position_embeddings=256,
            rope_parameters=rope(10000.0, partial_rotary_factor=1.0),
            layer_norm_eps=1e-5, use_parallel_residual=False,
            tie_word_embeddings=True, hidden_dropout=0.0, attention_dropout=0.0,
            bos_token_id=0, eos_token_id=0),
        "olmo", torch.float32),
    "gemma3-tiny": (
        107,
        lambda: transformers.Gemma3TextConfig(
            vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=3,
            num_attention_heads=4, num_key_value_heads=2, head_dim=32,
            max_position_embeddings=256, rms_norm_eps=1e-6,
            rope_parameters={"full_attention": rope(1000000.0),
                             "sliding_attention": rope(10000.0)},
            sliding_window=8,
            layer_types=["sliding_attention", "sliding_attention", "full_attention"],
            query_pre_attn_scalar=24, final_logit_softcapping=15.0,
            attn_logit_softcapping=None, tie_word_embeddings=True,
            pad_token_id=0, bos_token_id=2, eos_token_id=1),
        "gemma-2", torch.float32),
    "llama-rope-llama3-tiny": (
        108,
        lambda: llama(rope(500000.0, "llama3", factor=8.0, low_freq_factor=1.0,
                           high_freq_factor=4.0, original_max_position_embeddings=64),
                      attention_bias=False),
        "llama-3-instruct", torch.float32),
    "llama-rope-linear-tiny": (
        109,
        lambda: llama(rope(10000.0, "linear", factor=2.0), attention_bias=True, mlp_bias=True),
        "tinyllama-chat", torch.float32),
    "llama-rope-yarn-tiny": (
        110,
        lambda: llama(rope(10000.0, "yarn", factor=4.0, original_max_position_embeddings=32),
                      max_position_embeddings=128),
        "deepseek-v3", torch.float32),
    "llama-rope-dynamic-tiny": (
        111,
        lambda: llama(rope(10000.0, "dynamic", factor=2.0), max_position_embeddings=32),
        "llama-3.2-instruct", torch.float32),
    "llama-untied-tiny": (
        112,
        lambda: llama(tie_word_embeddings=False, head_dim=24),
        "yi", torch.float32),
}


def reinit_(model, gemma_norms):
    """Spreads the weights: matrices N(0, 0.15), biases N(0, 0.1), norm weights 1+N(0, 0.1).

    Gemma's RMSNorm multiplies by (1 + weight), so there the weight itself is N(0, 0.1).
    """
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                p.normal_(0.0, WEIGHT_STD)
            elif name.endswith("bias"):
                p.normal_(0.0, BIAS_STD)
            else:  # 1-D weight: a norm's scale
                p.normal_(0.0, NORM_STD)
                if not gemma_norms:
                    p.add_(1.0)


def make(name):
    seed, config_fn, family, save_dtype = MODELS[name]
    torch.manual_seed(seed)
    config = config_fn()
    model = transformers.AutoModelForCausalLM.from_config(
        config, attn_implementation="eager", dtype=torch.float32)
    reinit_(model, gemma_norms=config.model_type.startswith("gemma"))
    if config.tie_word_embeddings:
        model.tie_weights()
    model = model.to(save_dtype).eval()
    out = os.path.join(OUT_DIR, name)
    if os.path.isdir(out):
        shutil.rmtree(out)
    model.save_pretrained(out)
    tok_rel = f"../shared/tokenizers/{family}"
    note = (f"Prompts in tests/golden/logits/{name}.json were tokenized with\n"
            f"{tok_rel}/tokenizer.json (HF tokenizers); ids >= {VOCAB} were mapped to id % {VOCAB}.\n"
            f"This model ships no tokenizer of its own: its weights are random (seed {seed}),\n"
            f"made by tools/golden/logits/make_tiny_models.py with transformers "
            f"{transformers.__version__}, torch {torch.__version__}.\n")
    if family == "olmo":
        note = note.replace(f"{tok_rel}/tokenizer.json",
                            f"{tok_rel}/allenai_eleuther-ai-gpt-neox-20b-pii-special.json")
    if family == "gemma-2":
        note += ("(gemma-3-it in ../shared/tokenizers has no tokenizer.json; the Gemma 2\n"
                 "tokenizer is the closest family member there.)\n")
    with open(os.path.join(out, "TOKENIZER.txt"), "w") as f:
        f.write(note)
    sizes = {fn: os.path.getsize(os.path.join(out, fn)) for fn in sorted(os.listdir(out))}
    total = sum(sizes.values())
    print(f"{name}: {total / 1e6:.2f} MB {json.dumps(sizes)}")
    if total > 3_000_000:
        sys.exit(f"{name} is {total} bytes, over the 3 MB budget")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("names", nargs="*", help=f"subset of {sorted(MODELS)}")
    args = ap.parse_args()
    torch.set_num_threads(1)
    for name in args.names or MODELS:
        make(name)


if __name__ == "__main__":
    main()
