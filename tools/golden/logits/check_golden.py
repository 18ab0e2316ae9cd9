#!/usr/bin/env python3
"""Checks the committed golden logits files against the format the C++ test reads.

Needs only the Python standard library (no numpy, no torch):
  python3 tools/golden/logits/check_golden.py
Exits non-zero, naming the file and field, on the first inconsistency.
"""

import array
import json
import os
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
GOLDEN = os.path.join(REPO, "tests", "golden", "logits")
KEYS = ["name", "model", "hf_copy", "generator", "weights_dtype", "vocab_size",
        "greedy_steps", "logits_file", "cases", "all_positions"]
MAX_FILE = 5 * 1024 * 1024


def floats(path):
    a = array.array("f")
    with open(path, "rb") as f:
        a.frombytes(f.read())
    if sys.byteorder != "little":
        a.byteswap()
    return a


def fail(msg):
    sys.exit(f"check_golden: {msg}")


def check(fn):
    path = os.path.join(GOLDEN, fn)
    j = json.load(open(path))
    if list(j) != KEYS:
        fail(f"{fn}: keys {list(j)} != {KEYS}")
    if j["name"] + ".json" != fn:
        fail(f"{fn}: name {j['name']}")
    kind, mpath = j["model"]["kind"], j["model"]["path"]
    if kind == "repo" and not os.path.isfile(os.path.join(REPO, mpath, "config.json")):
        fail(f"{fn}: model {mpath} missing")
    if kind == "shared" and not mpath.startswith("models/"):
        fail(f"{fn}: shared path {mpath}")
    if kind not in ("repo", "shared", "gguf"):
        fail(f"{fn}: kind {kind}")
    vocab, steps = j["vocab_size"], j["greedy_steps"]
    vals = floats(os.path.join(GOLDEN, j["logits_file"]))
    off = 0
    for k, c in enumerate(j["cases"]):
        where = f"{fn} case {k}"
        ids = c["prompt_ids"]
        if not ids or not all(0 <= t < vocab for t in ids):
            fail(f"{where}: prompt ids empty or outside the vocabulary")
        if len(c["greedy_ids"]) not in (0, steps) or len(c["greedy_margins"]) != len(c["greedy_ids"]):
            fail(f"{where}: greedy lengths")
        if any(m < 0 for m in c["greedy_margins"]) or not all(0 <= t < vocab for t in c["greedy_ids"]):
            fail(f"{where}: greedy ids or margins")
        lids = c["logit_ids"]
        if lids is None:
            if vocab > 65536:
                fail(f"{where}: full logits for vocab {vocab}")
            n = vocab
        else:
            if lids != sorted(set(lids)) or not all(0 <= t < vocab for t in lids):
                fail(f"{where}: logit_ids not sorted unique in range")
            n = len(lids)
        row = vals[off:off + n]
        off += n
        if len(row) != n:
            fail(f"{where}: logits file too short")
        if not all(v == v and abs(v) < 1e30 for v in row):
            fail(f"{where}: non-finite logits")
        if lids is None and abs((max(row) - min(row)) - c["logit_range"]) > 1e-3:
            fail(f"{where}: logit_range {c['logit_range']} != stored {max(row) - min(row)}")
        if lids is not None and max(row) - min(row) > c["logit_range"] + 1e-3:
            fail(f"{where}: stored subset spans more than logit_range")
        if c["greedy_ids"] and (lids is None or c["greedy_ids"][0] in lids):
            i0 = c["greedy_ids"][0] if lids is None else lids.index(c["greedy_ids"][0])
            if row[i0] != max(row):
                fail(f"{where}: greedy_ids[0] is not the argmax of the stored logits")
    if off != len(vals):
        fail(f"{fn}: logits file has {len(vals) - off} extra values")
    ap = j["all_positions"]
    if ap is not None:
        c = j["cases"][ap["case"]]
        allpos = floats(os.path.join(GOLDEN, ap["file"]))
        if vocab > 8192 or len(c["prompt_ids"]) < 13 or len(allpos) != len(c["prompt_ids"]) * vocab:
            fail(f"{fn}: all_positions shape")
        last = allpos[(len(c["prompt_ids"]) - 1) * vocab:]
        lastref = vals[ap["case"] * vocab:][:vocab]
        if max(abs(a - b) for a, b in zip(last, lastref)) > 1e-4 * max(c["logit_range"], 1):
            fail(f"{fn}: all_positions' last row differs from the case's logits")
    for f in [fn, j["logits_file"]] + ([ap["file"]] if ap else []):
        if os.path.getsize(os.path.join(GOLDEN, f)) > MAX_FILE:
            fail(f"{f} is over 5 MB")
    return len(j["cases"])


def main():
    files = sorted(f for f in os.listdir(GOLDEN) if f.endswith(".json"))
    if not files:
        fail("no golden files")
    for fn in files:
        n = check(fn)
        print(f"ok {fn}: {n} cases")
    print(f"{len(files)} passed, 0 failed")


if __name__ == "__main__":
    main()
