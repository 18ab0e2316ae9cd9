"""The default model (SmolLM2-135M-Instruct GGUF, chat template from its metadata).

Skipped unless the model is present: $PAGODA_DEFAULT_MODEL, or the cache that
scripts/fetch_default_model.sh fills (this test never downloads it).
"""
import json
import os
import subprocess
from pathlib import Path

import openai
import pytest

from conftest import API_KEY, Server, pagoda_bin

PATH = Path(os.environ.get("PAGODA_DEFAULT_MODEL",
                           Path(os.environ.get("PAGODA_MODELS_DIR", Path.home() / ".cache/pagoda/models")) /
                           "SmolLM2-135M-Instruct.Q4_1.gguf"))
FLAGS = ["--max-model-len", "2048", "--kv-cache-memory", str(512 << 20)]
MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def smol():
    if not PATH.is_file():
        pytest.skip(f"default model not present at {PATH} (scripts/fetch_default_model.sh fetches it)")
    s = Server(PATH, name="smollm2", engine_flags=FLAGS)
    yield s
    assert s.stop() == 0


def test_chat_with_gguf_template_equals_offline(smol, tmp_path):
    c = openai.OpenAI(base_url=smol.url + "/v1", api_key=API_KEY, max_retries=0, timeout=120)
    r = c.chat.completions.create(model="smollm2", messages=MESSAGES, max_tokens=24, temperature=0)
    text = r.choices[0].message.content
    assert "Paris" in text
    inp, outp = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text(json.dumps({"messages": MESSAGES, "max_tokens": 24, "temperature": 0}) + "\n")
    p = subprocess.run([pagoda_bin(), "generate", "--model", str(PATH), "--input", str(inp), "--output", str(outp),
                        *FLAGS], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    row = json.loads(outp.read_text().splitlines()[0])
    assert row["text"] == text
    assert r.usage.completion_tokens == len(row["output_ids"])
    assert r.usage.prompt_tokens == row["prompt_tokens"]
    chunks = list(c.chat.completions.create(model="smollm2", messages=MESSAGES, max_tokens=24, temperature=0,
                                            stream=True))
    assert "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices) == text
