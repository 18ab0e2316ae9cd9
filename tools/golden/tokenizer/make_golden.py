#!/usr/bin/env python3
"""Generates tests/golden/tokenizer/<name>.jsonl from the reference implementations.

For every tokenizer in ../shared (tokenizers/* with a tokenizer.json, olmo's two
files, models/*): token ids of each corpus case with and without special tokens,
and the decode of the with-special ids with and without skip_special_tokens.
Where a tokenizer_config.json exists the reference is transformers' AutoTokenizer
(it applies the config: added tokens, bos/eos post-processing, cleanup of
tokenization spaces); otherwise the bare `tokenizers.Tokenizer`.
Long decoded strings are stored as FNV-1a 64 hashes to keep files small.

Run (venv from tools/golden/requirements-tokenizer.txt):
  /work/venvs/tok/bin/python tools/golden/tokenizer/make_golden.py
"""
import json
import os
import sys

os.environ["TOKENIZERS_PARALLELISM"] = "false"
import tokenizers  # noqa: E402
import transformers  # noqa: E402
import transformers.modeling_gguf_pytorch_utils as gguf_utils  # noqa: E402

# transformers guards its GGUF reader behind torch, which only the tensor path
# needs; the tokenizer path reads metadata with the `gguf` package alone.
gguf_utils.is_torch_available = lambda: True
from transformers import AutoTokenizer  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SHARED = os.path.abspath(os.environ.get("PAGODA_SHARED_DIR", os.path.join(ROOT, "..", "shared")))
OUT_DIR = os.path.join(ROOT, "tests", "golden", "tokenizer")
MAX_INLINE = 2000

# name -> (tokenizer.json relative to shared, directory for AutoTokenizer or None)
TOKENIZERS = {}
for d in sorted(os.listdir(os.path.join(SHARED, "tokenizers"))):
    p = os.path.join(SHARED, "tokenizers", d)
    if os.path.isfile(os.path.join(p, "tokenizer.json")):
        has_cfg = os.path.isfile(os.path.join(p, "tokenizer_config.json"))
        TOKENIZERS[d] = (f"tokenizers/{d}/tokenizer.json", f"tokenizers/{d}" if has_cfg else None)
TOKENIZERS["olmo-dolma2"] = ("tokenizers/olmo/allenai_dolma2.json", None)
TOKENIZERS["olmo-neox"] = ("tokenizers/olmo/allenai_eleuther-ai-gpt-neox-20b-pii-special.json", None)
for d in sorted(os.listdir(os.path.join(SHARED, "models"))):
    p = os.path.join(SHARED, "models", d)
    if os.path.isfile(os.path.join(p, "tokenizer.json")):
        TOKENIZERS["model-" + d] = (f"models/{d}/tokenizer.json", f"models/{d}")


def fnv1a64(s: str) -> str:
    h = 0xCBF29CE484222325
    for b in s.encode("utf-8"):
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def text_field(s):
    if len(s) <= MAX_INLINE:
        return s
    return {"fnv1a64": fnv1a64(s), "bytes": len(s.encode("utf-8"))}


def load_corpus():
    with open(os.path.join(OUT_DIR, "corpus.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


class Ref:
    def __init__(self, tok_json, cfg_dir, gguf=None):
        if gguf:
            self.hf = AutoTokenizer.from_pretrained(os.path.dirname(gguf), gguf_file=os.path.basename(gguf))
            self.raw = self.hf.backend_tokenizer
            return
        self.raw = tokenizers.Tokenizer.from_file(os.path.join(SHARED, tok_json))
        self.hf = AutoTokenizer.from_pretrained(os.path.join(SHARED, cfg_dir)) if cfg_dir else None

    def encode(self, text, special):
        if self.hf is not None:
            return self.hf.encode(text, add_special_tokens=special)
        return self.raw.encode(text, add_special_tokens=special).ids

    def decode(self, ids, skip):
        if self.hf is not None:
            return self.hf.decode(ids, skip_special_tokens=skip)
        return self.raw.decode(ids, skip_special_tokens=skip)


# The default model's GGUF (scripts/fetch_default_model.sh): its embedded vocabulary
# as HF converts it (AutoTokenizer.from_pretrained(dir, gguf_file=...)).
GGUF_MODELS = {"gguf-smollm2": "SmolLM2-135M-Instruct.Q4_1.gguf"}
GGUF_DIR = os.environ.get("PAGODA_MODELS_DIR", os.path.expanduser("~/.cache/pagoda/models"))


def main():
    only = set(sys.argv[1:])
    corpus = load_corpus()
    entries = [(n, t, c, None) for n, (t, c) in TOKENIZERS.items()]
    entries += [(n, None, None, os.path.join(GGUF_DIR, f)) for n, f in GGUF_MODELS.items()
                if os.path.isfile(os.path.join(GGUF_DIR, f))]
    for name, tok_json, cfg_dir, gguf in entries:
        if only and name not in only:
            continue
        try:
            ref = Ref(tok_json, cfg_dir, gguf)
        except Exception as e:  # e.g. llama-2: HF itself cannot parse its merges
            print(f"{name}: SKIPPED, the reference cannot load it: {e}", flush=True)
            continue
        header = {
            "tokenizer": name,
            "gguf": os.path.basename(gguf) if gguf else None,
            "tokenizer_json": tok_json,
            "config_dir": cfg_dir,
            "reference": (f"transformers {transformers.__version__} AutoTokenizer" if cfg_dir
                          else f"transformers {transformers.__version__} AutoTokenizer(gguf_file)" if gguf
            else f"tokenizers {tokenizers.__version__} Tokenizer"),
        }
        if ref.hf is not None:
            header["hf_class"] = type(ref.hf).__name__
            header["clean_up_tokenization_spaces"] = bool(ref.hf.clean_up_tokenization_spaces)
        raw_diff = 0
        lines = [json.dumps(header, ensure_ascii=False)]
        for case in corpus:
            text = case["text"]
            ids = ref.encode(text, True)
            ids_plain = ref.encode(text, False)
            if gguf is None and ref.raw.encode(text, add_special_tokens=True).ids != ids:
                raw_diff += 1
            rec = {
                "name": case["name"],
                "ids": ids,
                "ids_plain": ids_plain,
                "dec": text_field(ref.decode(ids, False)),
                "dec_skip": text_field(ref.decode(ids, True)),
            }
            lines.append(json.dumps(rec, ensure_ascii=False))
        with open(os.path.join(OUT_DIR, name + ".jsonl"), "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        print(f"{name}: {len(corpus)} cases, raw tokenizers differs from reference on {raw_diff}",
              header.get("hf_class", ""), flush=True)


if __name__ == "__main__":
    main()
