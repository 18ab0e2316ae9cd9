"""Greedy outputs through the server equal the offline engine (`pagoda generate`)
for the same prompts; also prints the server's overhead: output tokens/s through
HTTP at 64 concurrent streams over the offline engine's on the same prompts
(a figure, not asserted: CI does not time)."""
import asyncio
import json
import os
import re
import subprocess
import time

import requests

from conftest import API_KEY, ENGINE_FLAGS, MODEL_NAME, STORIES, pagoda_bin

AUTH = {"Authorization": f"Bearer {API_KEY}"}
N = 64
MAX_TOKENS = int(os.environ.get("PAGODA_E2E_OVERHEAD_TOKENS", "128"))
WORDS = ["Once upon a time", "The little dog", "Lily and Tom went", "One day, a bird", "The sun was",
         "Mom said", "There was a big", "In the park"]


def prompts(server):
    out = []
    for i in range(N):
        text = f"{WORDS[i % len(WORDS)]} {'and ' * (i // len(WORDS))}"
        ids = requests.post(server.url + "/tokenize", headers=AUTH, json={"prompt": text.strip()}).json()["tokens"]
        out.append(ids)
    return out


def offline(tmp_path, prompt_ids):
    inp = tmp_path / "in.jsonl"
    outp = tmp_path / "out.jsonl"
    with open(inp, "w") as f:
        for ids in prompt_ids:
            f.write(json.dumps({"prompt_ids": ids, "max_tokens": MAX_TOKENS, "temperature": 0, "ignore_eos": True}) + "\n")
    t0 = time.perf_counter()
    p = subprocess.run([pagoda_bin(), "generate", "--model", str(STORIES), "--input", str(inp), "--output", str(outp),
                        *ENGINE_FLAGS], capture_output=True, text=True, timeout=300)
    wall = time.perf_counter() - t0
    assert p.returncode == 0, p.stderr
    m = re.search(r"output ([\d.]+) tok/s", p.stderr)
    rows = [json.loads(l) for l in open(outp)]
    return rows, float(m.group(1)) if m else None, wall


async def one(server, ids, results):
    body = json.dumps({"model": MODEL_NAME, "prompt": ids, "max_tokens": MAX_TOKENS, "temperature": 0,
                       "ignore_eos": True, "stream": True, "stream_options": {"include_usage": True}}).encode()
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer " +
                 API_KEY.encode() + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    data = await reader.read()
    writer.close()
    _, raw_body = data.split(b"\r\n\r\n", 1)
    # de-chunk
    stream, pos = b"", 0
    while True:
        eol = raw_body.index(b"\r\n", pos)
        size = int(raw_body[pos:eol], 16)
        if size == 0:
            break
        stream += raw_body[eol + 2:eol + 2 + size]
        pos = eol + 2 + size + 2
    text, usage = "", None
    for ev in stream.split(b"\n\n"):
        if ev.startswith(b"data: {"):
            j = json.loads(ev[6:])
            if j["choices"]:
                text += j["choices"][0]["text"]
            else:
                usage = j["usage"]
    results.append((ids, text, usage["completion_tokens"]))


async def through_http(server, prompt_ids):
    results = []
    t0 = time.perf_counter()
    await asyncio.gather(*(one(server, ids, results) for ids in prompt_ids))
    return results, time.perf_counter() - t0


def test_greedy_equals_offline_and_overhead(server, tmp_path):
    ids = prompts(server)
    rows, offline_tps, offline_wall = offline(tmp_path, ids)
    results, wall = asyncio.run(through_http(server, ids))
    by_prompt = {json.dumps(r[0]): r for r in results}
    mismatches = 0
    for p, row in zip(ids, rows):
        _, text, n = by_prompt[json.dumps(p)]
        assert n == len(row["output_ids"]) == MAX_TOKENS
        mismatches += text != row["text"]
    assert mismatches == 0, f"{mismatches} of {N} greedy outputs differ from the offline engine"
    http_tps = sum(r[2] for r in results) / wall
    ratio = http_tps / offline_tps if offline_tps else float("nan")
    print(f"\noverhead: {N} concurrent streams x {MAX_TOKENS} tokens: HTTP {http_tps:.0f} out tok/s "
          f"(wall {wall:.2f} s) vs offline engine {offline_tps:.0f} out tok/s -> ratio {ratio:.3f}")
