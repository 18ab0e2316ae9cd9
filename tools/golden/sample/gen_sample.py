#!/usr/bin/env python3
"""Reference outputs for the sampler's logits processors -> tests/golden/sample/.

For each case: random float32 logits (seeded) and a parameter set with SamplingParams'
field names; the processed logits come from HF transformers' own logits processors,
chained in vLLM V1's order (src/sample/sampler.cpp documents it):
  allowed_token_ids  PrefixConstrainedLogitsProcessor (fn returns the allowed ids)
  bad_words_ids      NoBadWordsLogitsProcessor, fed the output ids only (vLLM matches
                     bad words against generated tokens, HF against prompt + output)
  min_tokens         MinNewTokensLengthLogitsProcessor with eos (unless ignore_eos) and
                     stop_token_ids as its "eos" ids
  logit_bias         SequenceBiasLogitsProcessor with one-token sequences
  repetition         RepetitionPenaltyLogitsProcessor over prompt + output
  frequency/presence no HF processor exists (OpenAI/vLLM only): vLLM's formula in torch,
                     l -= f * count_in_output; l -= p * (count_in_output > 0)
  temperature        TemperatureLogitsWarper
  min_p              MinPLogitsWarper  (vLLM applies it before top-k/top-p; HF after)
  top_k              TopKLogitsWarper
  top_p              TopPLogitsWarper
A greedy case (temperature 0) stops after the penalties. For every case the script also
records whether HF generate()'s own order (min_p last) gives the same result
(hf_order_agrees). Cases whose top-p or min-p cut lies too close to a token (where
float rounding could flip it; 2e-5 in mass or relative probability) are redrawn with the next seed, so the C++ test can ask
for the exact same set of kept tokens.

Logprob cases: torch.log_softmax of raw logits, torch.topk, and vLLM's rank
(number of tokens with logprob >= the token's).

Outputs: sample.json (cases, params, offsets) and sample.bin (float32 little-endian:
each case's input logits then its expected logits; then the logprob inputs).

Run (from the repo root):
  /work/venvs/torch/bin/python tools/golden/sample/gen_sample.py
Rerunning rewrites the same files: the seeds are fixed.
"""

import json
import os

import numpy as np
import torch
import transformers
from transformers.generation import logits_process as lp

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
OUT = os.path.join(REPO, "tests", "golden", "sample")
SCRIPT = "tools/golden/sample/gen_sample.py"
MARGIN = 2e-5


def make_logits(rng, vocab, style):
    if style == "normal":
        x = rng.normal(0.0, 3.0, vocab)
    elif style == "peaked":  # LLM-like: a few high logits over a long tail
        x = rng.normal(-2.0, 2.0, vocab)
        spikes = rng.choice(vocab, 8, replace=False)
        x[spikes] += rng.uniform(3.0, 7.0, 8)
    else:  # "flat": close to uniform, top-p keeps many tokens
        x = rng.normal(0.0, 0.3, vocab)
    return x.astype(np.float32)


def check_top_p_margin(scores, top_p):
    """True when no token's "mass above" is within MARGIN of top_p."""
    s = scores.double()[0]
    p = torch.softmax(s, -1)
    p_sorted = torch.sort(p, descending=True).values
    above = torch.cumsum(p_sorted, 0) - p_sorted
    finite = p_sorted > 0
    return bool(((above[finite] - top_p).abs() > MARGIN).all())


def check_min_p_margin(scores, min_p):
    s = scores.double()[0]
    p = torch.softmax(s, -1)
    ratio = p / p.max()
    finite = p > 0
    return bool(((ratio[finite] - min_p).abs() > MARGIN * min_p + 1e-12).all())


def run_chain(logits, prm, prompt, output, eos, order="vllm"):
    """Returns (processed scores, margins ok)."""
    full = torch.tensor([prompt + output], dtype=torch.long)
    out_ids = torch.tensor([output], dtype=torch.long)
    scores = torch.tensor(logits)[None, :].clone()
    ok = True
    allowed = prm.get("allowed_token_ids", [])
    if allowed:
        scores = lp.PrefixConstrainedLogitsProcessor(lambda b, ids: allowed, num_beams=1)(full, scores)
    bad = prm.get("bad_words_ids", [])
    if bad:
        # NoBadWords reads input_ids[:, -k:]; with no output yet, only one-token words apply.
        ids = out_ids if output else torch.zeros((1, 0), dtype=torch.long)
        if output:
            scores = lp.NoBadWordsLogitsProcessor(bad)(ids, scores)
        else:
            singles = [w for w in bad if len(w) == 1]
            if singles:
                scores = lp.NoBadWordsLogitsProcessor(singles)(full, scores)
    min_tokens = prm.get("min_tokens", 0)
    if min_tokens > 0:
        blocked = ([] if prm.get("ignore_eos", False) else list(eos)) + prm.get("stop_token_ids", [])
        if blocked:
            scores = lp.MinNewTokensLengthLogitsProcessor(len(prompt), min_tokens, blocked)(full, scores)
    bias = prm.get("logit_bias", {})
    if bias:
        seq_bias = [[[int(t)], float(b)] for t, b in bias.items()]
        scores = lp.SequenceBiasLogitsProcessor(seq_bias)(full, scores)
    rep = prm.get("repetition_penalty", 1.0)
    if rep != 1.0:
        scores = lp.RepetitionPenaltyLogitsProcessor(rep)(full, scores)
    fp = prm.get("frequency_penalty", 0.0)
    pp = prm.get("presence_penalty", 0.0)
    if fp or pp:
        counts = torch.zeros(scores.shape[-1], dtype=torch.float32)
        for t in output:
            counts[t] += 1
        scores = scores - torch.tensor(fp, dtype=torch.float32) * counts
        scores = scores - torch.tensor(pp, dtype=torch.float32) * (counts > 0).float()
    temp = prm.get("temperature", 1.0)
    if temp < 1e-5:
        return scores, ok
    if temp != 1.0:
        scores = lp.TemperatureLogitsWarper(temp)(full, scores)
    min_p = prm.get("min_p", 0.0)
    top_k = prm.get("top_k", 0)
    top_p = prm.get("top_p", 1.0)
    if order == "vllm" and min_p > 0:
        ok &= check_min_p_margin(scores, min_p)
        scores = lp.MinPLogitsWarper(min_p)(full, scores)
    if top_k > 0:
        scores = lp.TopKLogitsWarper(top_k)(full, scores)
    if top_p < 1.0:
        ok &= check_top_p_margin(scores, top_p)
        scores = lp.TopPLogitsWarper(top_p)(full, scores)
    if order == "hf" and min_p > 0:
        scores = lp.MinPLogitsWarper(min_p)(full, scores)
    return scores, ok


# (name, vocab, style, params, prompt_len, output_len). Token-id lists that depend on the
# drawn ids (bias targets, bad words matching the output) are filled in by make_case.
CASES = [
    ("temperature_0_7", 512, "normal", dict(temperature=0.7), 6, 4),
    ("temperature_1_6", 512, "peaked", dict(temperature=1.6), 6, 4),
    ("greedy_no_processors", 512, "normal", dict(temperature=0.0), 6, 4),
    ("top_k_1", 512, "normal", dict(top_k=1), 6, 4),
    ("top_k_5", 512, "normal", dict(top_k=5), 6, 4),
    ("top_k_50_temp_0_8", 4096, "peaked", dict(top_k=50, temperature=0.8), 6, 4),
    ("top_p_0_5", 512, "normal", dict(top_p=0.5), 6, 4),
    ("top_p_0_9", 4096, "peaked", dict(top_p=0.9), 6, 4),
    ("top_p_0_95_flat", 4096, "flat", dict(top_p=0.95), 6, 4),
    ("top_p_0_3_temp_2_5", 512, "normal", dict(top_p=0.3, temperature=2.5), 6, 4),
    ("min_p_0_05", 512, "normal", dict(min_p=0.05), 6, 4),
    ("min_p_0_2_peaked", 4096, "peaked", dict(min_p=0.2), 6, 4),
    ("min_p_0_1_temp_0_5", 512, "normal", dict(min_p=0.1, temperature=0.5), 6, 4),
    ("repetition_1_3", 512, "normal", dict(repetition_penalty=1.3), 12, 8),
    ("repetition_0_8", 512, "normal", dict(repetition_penalty=0.8), 12, 8),
    ("repetition_greedy", 512, "normal", dict(repetition_penalty=2.0, temperature=0.0), 12, 8),
    ("frequency_presence", 512, "normal", dict(frequency_penalty=0.7, presence_penalty=0.4), 6, 16),
    ("frequency_negative", 512, "normal", dict(frequency_penalty=-1.2, presence_penalty=-0.3), 6, 16),
    ("logit_bias", 512, "normal", dict(logit_bias="drawn"), 6, 4),
    ("allowed_token_ids", 512, "normal", dict(allowed_token_ids="drawn"), 6, 4),
    ("bad_words", 512, "normal", dict(bad_words_ids="drawn"), 6, 6),
    ("bad_words_no_output", 512, "normal", dict(bad_words_ids="drawn"), 6, 0),
    ("min_tokens_blocks_eos_and_stop", 512, "normal", dict(min_tokens=5, stop_token_ids=[7, 8]), 6, 3),
    ("min_tokens_reached", 512, "normal", dict(min_tokens=3, stop_token_ids=[7, 8]), 6, 3),
    ("min_tokens_ignore_eos", 512, "normal", dict(min_tokens=5, ignore_eos=True, stop_token_ids=[7]), 6, 2),
    ("chain_rep_temp_topk_topp", 4096, "peaked",
     dict(repetition_penalty=1.2, temperature=0.9, top_k=40, top_p=0.9), 20, 10),
    ("chain_minp_topp_vllm_order", 512, "normal", dict(temperature=1.2, min_p=0.05, top_p=0.6), 6, 4),
    ("chain_everything", 4096, "peaked",
     dict(allowed_token_ids="drawn", bad_words_ids="drawn", min_tokens=8, logit_bias="drawn",
          repetition_penalty=1.1, frequency_penalty=0.3, presence_penalty=0.2, temperature=1.5,
          min_p=0.01, top_k=30, top_p=0.95, stop_token_ids=[3]), 20, 6),
]
EOS = [2]


def make_case(seed, name, vocab, style, params, prompt_len, output_len):
    rng = np.random.default_rng(seed)
    logits = make_logits(rng, vocab, style)
    prompt = [int(t) for t in rng.integers(10, vocab, prompt_len)]
    # Repeats in the output so that counts > 1 occur.
    output = [int(t) for t in rng.choice(prompt + [int(t) for t in rng.integers(10, vocab, 3)], output_len)]
    prm = dict(params)
    order = np.argsort(-logits.astype(np.float64), kind="stable")
    if prm.get("logit_bias") == "drawn":
        # Bias a top token down, a mid token up, a low token to the top.
        prm["logit_bias"] = {str(int(order[0])): -5.0, str(int(order[40])): 3.5,
                             str(int(order[vocab // 2])): 8.0, "2": 1.25}
    if prm.get("allowed_token_ids") == "drawn":
        picks = [int(t) for t in rng.choice(vocab, 200, replace=False)] + [2, 3]
        picks += [int(order[i]) for i in range(0, 30, 3)]
        prm["allowed_token_ids"] = sorted(set(picks))
    if prm.get("bad_words_ids") == "drawn":
        words = [[int(order[0])], [int(order[5])]]
        if output:
            words.append(output[-2:] + [int(order[1])])  # completes: order[1] banned
            words.append([output[-1], int(order[2])])     # completes: order[2] banned
            words.append([output[-1] + 1 if output[-1] + 1 < vocab else 11, int(order[3])])  # no match
            words.append([int(order[4])] * (len(output) + 2))  # longer than the output: no match
        else:
            words.append([int(order[6]), int(order[7])])
        prm["bad_words_ids"] = words
    return logits, prm, prompt, output


def main():
    os.makedirs(OUT, exist_ok=True)
    blob = []
    offset = 0
    cases = []

    def put(arr):
        nonlocal offset
        arr = np.asarray(arr, dtype="<f4")
        blob.append(arr.tobytes())
        start = offset
        offset += arr.size
        return start

    for ci, (name, vocab, style, params, plen, olen) in enumerate(CASES):
        seed = 1000 + 17 * ci
        for attempt in range(50):
            logits, prm, prompt, output = make_case(seed + attempt, name, vocab, style, params, plen, olen)
            bias_int = {int(k): v for k, v in prm.get("logit_bias", {}).items()}
            chain_prm = dict(prm, logit_bias=bias_int)
            out, ok = run_chain(logits, chain_prm, prompt, output, EOS, "vllm")
            if ok:
                break
        else:
            raise SystemExit(f"{name}: no draw clear of the top-p/min-p boundaries")
        hf_out, _ = run_chain(logits, chain_prm, prompt, output, EOS, "hf")
        expected = out[0].numpy().astype(np.float32)
        hf_agrees = bool(np.array_equal(np.isneginf(expected), np.isneginf(hf_out[0].numpy())))
        cases.append(dict(
            name=name, vocab_size=vocab, style=style, seed=seed + attempt, params=prm,
            prompt_ids=prompt, output_ids=output, eos_ids=EOS,
            logits_offset=put(logits), expected_offset=put(expected),
            num_kept=int(np.isfinite(expected).sum()), hf_order_agrees=hf_agrees))

    lp_cases = []
    for li, (vocab, style, k) in enumerate([(512, "normal", 5), (4096, "peaked", 20), (49152, "peaked", 8),
                                            (512, "flat", 0), (1000, "normal", 1)]):
        rng = np.random.default_rng(5000 + li)
        logits = make_logits(rng, vocab, style)
        t = torch.tensor(logits)
        lsm = torch.log_softmax(t, dim=-1)
        tokens = [int(torch.argmax(t)), int(rng.integers(0, vocab)), int(torch.argmin(t))]
        entries = []
        for tok in tokens:
            top = torch.topk(lsm, k) if k > 0 else None
            entries.append(dict(
                token=tok, logprob=float(lsm[tok]), rank=int((lsm >= lsm[tok]).sum()),
                top_ids=[int(i) for i in top.indices] if top is not None else [],
                top_logprobs=[float(v) for v in top.values] if top is not None else []))
        lp_cases.append(dict(vocab_size=vocab, style=style, num_top=k, logits_offset=put(logits), tokens=entries))

    with open(os.path.join(OUT, "sample.bin"), "wb") as f:
        f.write(b"".join(blob))
    meta = dict(
        generator=SCRIPT,
        versions=dict(torch=torch.__version__, transformers=transformers.__version__, numpy=np.__version__),
        eos_ids=EOS, processor_cases=cases, logprob_cases=lp_cases, total_floats=offset)
    with open(os.path.join(OUT, "sample.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    print(f"{len(cases)} processor cases, {len(lp_cases)} logprob cases, {offset * 4} bytes")
    for c in cases:
        print(f"  {c['name']:34s} kept {c['num_kept']:5d}  hf_order_agrees={c['hf_order_agrees']}")


if __name__ == "__main__":
    main()
