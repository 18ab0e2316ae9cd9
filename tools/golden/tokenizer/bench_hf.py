#!/usr/bin/env python3
"""HF `tokenizers` encode throughput (MB/s, single thread) on the same text and
chunks as pagoda's tokenizer_bench / BenchEncodeMBps: the corpus cases joined by
'\\n', 8 times, cut into <= 4096-byte chunks at the last '\\n' (else at a UTF-8
boundary). Encodes with add_special_tokens=True, one chunk per call.

  TOKENIZERS_PARALLELISM=false /work/venvs/tok/bin/python tools/golden/tokenizer/bench_hf.py [name ...]
"""
import json
import os
import sys
import time

os.environ["TOKENIZERS_PARALLELISM"] = "false"
import tokenizers  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SHARED = os.path.abspath(os.environ.get("PAGODA_SHARED_DIR", os.path.join(ROOT, "..", "shared")))
GOLDEN = os.path.join(ROOT, "tests", "golden", "tokenizer")


def chunks(data: bytes, max_bytes=4096):
    out, pos = [], 0
    while pos < len(data):
        end = min(len(data), pos + max_bytes)
        if end < len(data):
            nl = data.rfind(b"\n", pos, end)
            if nl != -1:
                end = nl + 1
            else:
                while end > pos and (data[end] & 0xC0) == 0x80:
                    end -= 1
                if end == pos:
                    end = min(len(data), pos + max_bytes)
        out.append(data[pos:end].decode("utf-8"))
        pos = end
    return out


def main():
    with open(os.path.join(GOLDEN, "corpus.jsonl"), encoding="utf-8") as f:
        text = "".join(json.loads(line)["text"] + "\n" for line in f)
    big = (text * 8).encode("utf-8")
    parts = chunks(big)
    names = sys.argv[1:] or sorted(n[:-6] for n in os.listdir(GOLDEN)
                                   if n.endswith(".jsonl") and n != "corpus.jsonl" and not n.startswith("gguf-"))
    print(f"corpus: {len(big)} bytes, {len(parts)} chunks")
    for name in names:
        with open(os.path.join(GOLDEN, name + ".jsonl"), encoding="utf-8") as f:
            header = json.loads(f.readline())
        tok = tokenizers.Tokenizer.from_file(os.path.join(SHARED, header["tokenizer_json"]))
        for p in parts:  # warm-up, as the C++ side
            tok.encode(p)
        start, total = time.perf_counter(), 0
        while True:
            for p in parts:
                tok.encode(p)
            total += len(big)
            elapsed = time.perf_counter() - start
            if elapsed >= 2.0:
                break
        print(f"{name:24s} {total / 1e6 / elapsed:8.2f} MB/s", flush=True)


if __name__ == "__main__":
    main()
