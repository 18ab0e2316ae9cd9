#!/usr/bin/env python3
"""Reference logits and greedy continuations from HF transformers -> tests/golden/logits/.

For each model and each prompt (real mixed text, tokenized with the model family's real
tokenizer and cut to a fixed number of tokens), in float32 with eager attention:
  - the last prompt position's logits (<name>.logits.bin, float32 LE, cases in order;
    for vocab > 65536 only the ids in the case's logit_ids);
  - a greedy continuation of GREEDY_STEPS tokens with the KV cache (argmax every step,
    never stopping at eos, generation_config ignored) and the top-1 minus top-2 logit
    margin of every step;
  - for one case of a model with vocab <= 8192, the logits at every prompt position
    from one forward pass (<name>.allpos.bin, positions x vocab).
Each greedy continuation is checked against one forward pass without cache over the
prompt plus the continuation; the agreement is written to SUMMARY.md.

Run (from the repo root, after make_tiny_models.py, scripts/fetch_default_model.sh and
tools/golden/logits/fetch_gemma3.sh):
  /work/venvs/torch/bin/python tools/golden/logits/gen_logits.py [name ...]
The GGUF models are also saved as HF safetensors copies under ~/.cache/pagoda/hf/.
"""

import argparse
import copy
import json
import os
import sys
import time

import numpy as np
import tokenizers
import torch
import transformers

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_tiny_models  # noqa: E402  (the tiny models' table: seeds, dtypes, tokenizers)
from prompts import TEXTS  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
SHARED = os.path.abspath(os.path.join(REPO, "..", "shared"))
OUT = os.path.join(REPO, "tests", "golden", "logits")
MODELS_CACHE = os.path.expanduser(os.environ.get("PAGODA_MODELS_DIR", "~/.cache/pagoda/models"))
HF_CACHE = os.path.expanduser("~/.cache/pagoda/hf")
SCRIPT = "tools/golden/logits/gen_logits.py"

GREEDY_STEPS = 32
BASE_LENGTHS = [1, 2, 5, 13, 32, 57, 100, 200]
FULL_VOCAB_MAX = 65536   # above this, store a subset of the logits
ALLPOS_VOCAB_MAX = 8192  # up to this, store every prompt position of one case
TOPK_SUBSET = 256
STRIDE_SUBSET = 64


def tiny_entry(name):
    _, _, family, dtype = make_tiny_models.MODELS[name]
    tok = os.path.join(SHARED, "tokenizers", family, "tokenizer.json")
    if family == "olmo":
        tok = os.path.join(SHARED, "tokenizers", "olmo",
                           "allenai_eleuther-ai-gpt-neox-20b-pii-special.json")
    return dict(kind="repo", path=f"tests/models/{name}", tokenizer=tok,
                weights_dtype="bfloat16" if dtype == torch.bfloat16 else "float32",
                map_ids=True, hf_copy=None)


def build_registry():
    reg = {}
    for name in make_tiny_models.MODELS:
        reg[name] = tiny_entry(name)
    # Lengths past each model's window (sliding_window 16 / 8, dynamic NTK past 32),
    # with the boundary on either side.
    reg["mistral-tiny"]["extra_lengths"] = [16, 17]
    reg["gemma3-tiny"]["extra_lengths"] = [8, 9]
    reg["llama-rope-dynamic-tiny"]["extra_lengths"] = [31, 33]
    reg["llama-rope-yarn-tiny"]["extra_lengths"] = [33]
    # One prompt position sweep per model; for the window models a case past the window.
    reg["mistral-tiny"]["allpos_len"] = 32
    for name in ("tinystories-656k", "stories260k"):
        reg[name] = dict(kind="shared", path=f"models/{name}",
                         tokenizer=os.path.join(SHARED, "models", name, "tokenizer.json"),
                         weights_dtype="float32", map_ids=False, hf_copy=None)
    reg["smollm2-135m-instruct"] = dict(
        kind="gguf", path="SmolLM2-135M-Instruct.Q4_1.gguf", tokenizer="gguf",
        weights_dtype="Q4_1", map_ids=False, hf_copy="smollm2-135m-instruct")
    reg["gemma3-270m"] = dict(
        kind="gguf", path="gemma-3-270m-q4_k_m.gguf", tokenizer="gguf",
        weights_dtype="Q4_K_M", map_ids=False, hf_copy="gemma3-270m",
        # Past the 512-token sliding window of the real model; the HF copy is sharded to
        # exercise model.safetensors.index.json.
        extra_lengths=[600], shard_size="300MB")
    return reg


class Encoder:
    """Tokenizes with HF tokenizers (tokenizer.json) or the GGUF's HF tokenizer."""

    def __init__(self, entry):
        self.entry = entry
        if entry["tokenizer"] == "gguf":
            self.hf = transformers.AutoTokenizer.from_pretrained(
                MODELS_CACHE, gguf_file=entry["path"])
            self.fast = None
        else:
            self.fast = tokenizers.Tokenizer.from_file(entry["tokenizer"])
            self.hf = None

    def encode(self, text, add_special):
        if self.fast is not None:
            return self.fast.encode(text, add_special_tokens=add_special).ids
        return self.hf(text, add_special_tokens=add_special)["input_ids"]

    def decode(self, ids):
        if self.entry["map_ids"]:
            return None  # random weights: the text means nothing
        if self.fast is not None:
            return self.fast.decode(ids, skip_special_tokens=False)
        return self.hf.decode(ids, skip_special_tokens=False)


def make_prompt(enc, n, k, vocab):
    """The first n tokens of the texts k, k+1, ... joined (special tokens as the
    tokenizer adds them, e.g. BOS, at the start)."""
    text = ""
    i = k
    while True:
        text += TEXTS[i % len(TEXTS)]
        i += 1
        ids = enc.encode(text, add_special=True)
        if len(ids) >= n:
            break
        text += "\n\n"
    ids = ids[:n]
    if enc.entry["map_ids"]:
        ids = [t % vocab for t in ids]
    assert all(0 <= t < vocab for t in ids), "prompt id outside the vocabulary"
    return ids


def load_model(entry):
    kw = dict(dtype=torch.float32, attn_implementation="eager")
    if entry["kind"] == "gguf":
        model = transformers.AutoModelForCausalLM.from_pretrained(
            MODELS_CACHE, gguf_file=entry["path"], **kw)
    else:
        root = SHARED if entry["kind"] == "shared" else REPO
        model, info = transformers.AutoModelForCausalLM.from_pretrained(
            os.path.join(root, entry["path"]), output_loading_info=True, **kw)
        bad = {k: v for k, v in info.items() if v}
        if bad:
            sys.exit(f"{entry['path']}: loading info {bad}")
        check_weights(model, os.path.join(root, entry["path"]))
    return model.eval()


def check_weights(model, path):
    """Every model parameter holds a stored tensor (upcast to float32) and every stored
    tensor reached the model: no parameter was left randomly initialized or on the meta
    device. Matched by value, as transformers 5 may rename keys on load (GPT-NeoX)."""
    from safetensors import safe_open
    params = dict(model.named_parameters(remove_duplicate=False))
    for name, p in params.items():
        if p.is_meta:
            sys.exit(f"{path}: parameter {name} was not loaded (meta)")
    with safe_open(os.path.join(path, "model.safetensors"), "pt") as f:
        stored = {k: f.get_tensor(k).float() for k in f.keys()}

    def same(p, t):
        return p.shape == t.shape and torch.equal(p.detach(), t)

    for key, t in stored.items():
        if not (key in params and same(params[key], t)) and \
                not any(same(p, t) for p in params.values()):
            sys.exit(f"{path}: stored tensor {key} is in no model parameter")
    for name, p in params.items():
        if not (name in stored and same(p, stored[name])) and \
                not any(same(p, t) for t in stored.values()):
            sys.exit(f"{path}: parameter {name} holds no stored tensor")
    if model.config.tie_word_embeddings:
        if not torch.equal(model.get_input_embeddings().weight,
                           model.get_output_embeddings().weight):
            sys.exit(f"{path}: tied embeddings differ")


def margin(logits):
    top2 = torch.topk(logits, 2).values
    return float(top2[0] - top2[1])


@torch.no_grad()
def run_case(model, ids, want_allpos, greedy):
    x = torch.tensor([ids])
    out = model(x, use_cache=greedy)
    all_logits = out.logits[0]
    last = all_logits[-1].clone()
    allpos = all_logits.clone() if want_allpos else None
    gids, margins, step_logits = [], [], []
    if greedy:
        pkv = out.past_key_values
        cur = last
        for step in range(GREEDY_STEPS):
            tok = int(torch.argmax(cur))
            gids.append(tok)
            margins.append(margin(cur))
            step_logits.append(cur)
            if step + 1 == GREEDY_STEPS:
                break
            out = model(torch.tensor([[tok]]), past_key_values=pkv, use_cache=True)
            # (transformers 5.24 suggests `cache=`; past_key_values still works there.)
            pkv = out.past_key_values
            cur = out.logits[0, -1].clone()
    check = None
    if greedy:
        # One pass without cache over prompt + continuation gives every step's logits.
        full = model(torch.tensor([ids + gids[:-1]]), use_cache=False).logits[0]
        ref = full[len(ids) - 1:]
        cached = torch.stack(step_logits)
        agree = [int(torch.argmax(ref[i])) == gids[i] for i in range(GREEDY_STEPS)]
        check = dict(max_abs_diff=float((ref - cached).abs().max()),
                     argmax_agree=sum(agree),
                     last_prompt_abs_diff=float((ref[0] - last).abs().max()))
    return last, allpos, gids, margins, check


def subset_ids(last):
    top = torch.topk(last, TOPK_SUBSET).indices.tolist()
    return sorted(set(top) | set(range(0, last.numel(), STRIDE_SUBSET)))


def lengths_for(entry):
    return sorted(set(BASE_LENGTHS) | set(entry.get("extra_lengths", [])))


def save_hf_copy(model, enc, entry):
    dest = os.path.join(HF_CACHE, entry["hf_copy"])
    os.makedirs(dest, exist_ok=True)
    kw = {"max_shard_size": entry["shard_size"]} if "shard_size" in entry else {}
    # transformers 5 marks a model loaded from GGUF as quantized and refuses to save it:
    # the same dequantized float32 weights go into a plain model of the same config.
    config = copy.deepcopy(model.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(model.state_dict(), strict=True)
    plain.save_pretrained(dest, **kw)
    del plain
    tok_ok = True
    try:
        enc.hf.save_pretrained(dest)
    except Exception as e:  # a tokenizer that cannot be saved does not stop the logits
        tok_ok = False
        print(f"  tokenizer save failed for {dest}: {e}")
    return dest, tok_ok


def fmt_case(c):
    return json.dumps(c, separators=(", ", ": "))


def write_json(path, obj):
    lines = ["{"]
    items = list(obj.items())
    for i, (k, v) in enumerate(items):
        comma = "," if i + 1 < len(items) else ""
        if k == "cases":
            lines.append('  "cases": [')
            for j, c in enumerate(v):
                lines.append("    " + fmt_case(c) + ("," if j + 1 < len(v) else ""))
            lines.append("  ]" + comma)
        else:
            lines.append(f"  {json.dumps(k)}: {json.dumps(v)}{comma}")
    lines.append("}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def generate(name, entry):
    t0 = time.time()
    enc = Encoder(entry)
    model = load_model(entry)
    vocab = model.config.vocab_size
    dynamic = (getattr(model.config, "rope_scaling", None) or {}).get("rope_type") == "dynamic"
    lengths = lengths_for(entry)
    allpos_case = None
    if vocab <= ALLPOS_VOCAB_MAX:
        want = entry.get("allpos_len", 13)
        allpos_case = lengths.index(want)
    cases, blobs, summary = [], [], []
    allpos_blob = None
    for k, n in enumerate(lengths):
        ids = make_prompt(enc, n, k, vocab)
        if dynamic:
            # HF's dynamic NTK rotary keeps state across calls (it only recomputes when a
            # longer sequence arrives): a fresh model per prompt gives the one-pass value.
            model = load_model(entry)
        last, allpos, gids, margins, check = run_case(
            model, ids, want_allpos=(k == allpos_case), greedy=not dynamic)
        logit_ids = None
        values = last
        if vocab > FULL_VOCAB_MAX:
            logit_ids = subset_ids(last)
            values = last[logit_ids]
        blobs.append(values.numpy().astype("<f4"))
        if allpos is not None:
            allpos_blob = allpos.numpy().astype("<f4")
        cases.append({"prompt_ids": ids, "logit_ids": logit_ids, "greedy_ids": gids,
                      "greedy_margins": margins,
                      "logit_range": float(last.max() - last.min())})
        summary.append(dict(n=n, range=float(last.max() - last.min()),
                            min_margin=min(margins) if margins else None, check=check,
                            prompt=enc.decode(ids), greedy=enc.decode(gids)))
        print(f"  {name} len {n}: range {cases[-1]['logit_range']:.3f}"
              + (f" min margin {min(margins):.4g} cache-vs-full {check}" if margins else ""))
    hf_copy = None
    if entry["hf_copy"]:
        dest, tok_ok = save_hf_copy(model, enc, entry)
        # The copy must give the same logits as the GGUF it came from.
        copy = transformers.AutoModelForCausalLM.from_pretrained(
            dest, dtype=torch.float32, attn_implementation="eager").eval()
        with torch.no_grad():
            ids = cases[3]["prompt_ids"]
            a = model(torch.tensor([ids])).logits[0, -1]
            b = copy(torch.tensor([ids])).logits[0, -1]
        diff = float((a - b).abs().max())
        print(f"  hf copy {dest}: max abs diff vs gguf {diff}, tokenizer saved {tok_ok}")
        if diff > 1e-4:
            sys.exit(f"{dest} does not reproduce the GGUF logits")
        hf_copy = entry["hf_copy"]
        summary.append(dict(hf_copy=dest, hf_copy_diff=diff, tokenizer_saved=tok_ok))
        del copy
    logits_file = f"{name}.logits.bin"
    np.concatenate(blobs).tofile(os.path.join(OUT, logits_file))
    all_positions = None
    if allpos_blob is not None:
        all_positions = {"case": allpos_case, "file": f"{name}.allpos.bin"}
        allpos_blob.tofile(os.path.join(OUT, all_positions["file"]))
    else:
        stale = os.path.join(OUT, f"{name}.allpos.bin")
        if os.path.exists(stale):
            os.remove(stale)
    obj = {
        "name": name,
        "model": {"kind": entry["kind"], "path": entry["path"]},
        "hf_copy": hf_copy,
        "generator": {"script": SCRIPT, "transformers": transformers.__version__,
                      "torch": torch.__version__},
        "weights_dtype": entry["weights_dtype"],
        "vocab_size": vocab,
        "greedy_steps": GREEDY_STEPS,
        "logits_file": logits_file,
        "cases": cases,
        "all_positions": all_positions,
    }
    write_json(os.path.join(OUT, f"{name}.json"), obj)
    with open(os.path.join(OUT, "summary", f"{name}.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(f"{name}: done in {time.time() - t0:.1f}s")


def write_summary_md(reg):
    rows = ["# Golden logits: what the generator saw", "",
            f"Generated by `{SCRIPT}` (transformers {transformers.__version__}, "
            f"torch {torch.__version__}). `cache vs full` is the largest |difference| between "
            "the logits of the greedy steps computed with the KV cache and those of one "
            "forward pass without cache over prompt + continuation (its argmax agreed on "
            "every step unless noted).", "",
            "| model | prompt lengths | logit range (min..max over cases) | smallest greedy margin | cache vs full |",
            "|---|---|---|---|---|"]
    for name in reg:
        p = os.path.join(OUT, "summary", f"{name}.json")
        if not os.path.exists(p):
            continue
        s = [c for c in json.load(open(p)) if "n" in c]
        ranges = [c["range"] for c in s]
        margins = [c["min_margin"] for c in s if c["min_margin"] is not None]
        checks = [c["check"] for c in s if c["check"]]
        diff = max((c["max_abs_diff"] for c in checks), default=None)
        disagree = sum(GREEDY_STEPS - c["argmax_agree"] for c in checks)
        rows.append(
            f"| {name} | {', '.join(str(c['n']) for c in s)} | {min(ranges):.3f}..{max(ranges):.3f} | "
            + (f"{min(margins):.3g}" if margins else "n/a (no greedy)") + " | "
            + (f"{diff:.2g}" + (f", {disagree} argmax disagreements" if disagree else "")
               if diff is not None else "n/a") + " |")
    with open(os.path.join(OUT, "SUMMARY.md"), "w") as f:
        f.write("\n".join(rows) + "\n")


def main():
    reg = build_registry()
    ap = argparse.ArgumentParser()
    ap.add_argument("names", nargs="*", help=f"subset of {list(reg)}")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(os.path.join(OUT, "summary"), exist_ok=True)
    for name in args.names or reg:
        if name not in reg:
            sys.exit(f"unknown model {name}")
        generate(name, reg[name])
    write_summary_md(reg)


if __name__ == "__main__":
    main()
