"""Fixtures: a running `pagoda serve` on 127.0.0.1 (port chosen by the kernel)."""
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("PAGODA_SHARED_DIR", ROOT.parent / "shared"))
STORIES = SHARED / "models" / "stories260k"
API_KEY = "e2e-test-key"
MODEL_NAME = "stories"
MAX_BODY = 1 << 20
# Small and fixed, so tests do not depend on the machine's free RAM.
ENGINE_FLAGS = ["--kv-cache-memory", str(256 << 20), "--max-num-seqs", "256"]


def pagoda_bin():
    b = os.environ.get("PAGODA_BIN")
    if not b:
        pytest.skip("PAGODA_BIN is not set (run through tests/e2e/run.sh)")
    return b


class Server:
    def __init__(self, model, extra_args=(), name=MODEL_NAME, api_key=API_KEY, engine_flags=ENGINE_FLAGS):
        self.model = str(model)
        self.api_key = api_key
        self.name = name
        args = [pagoda_bin(), "serve", self.model, "--port", "0", "--served-model-name", name,
                "--max-request-body-bytes", str(MAX_BODY), "--stats-interval", "5", *engine_flags, *extra_args]
        if api_key:
            args += ["--api-key", api_key, "--api-key", "second-key"]
        self.log_lines = []
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        line = self.proc.stdout.readline()  # the one "ready" line
        m = re.search(r"ready on (http://\S+?),", line)
        if not m:
            self.proc.kill()
            self.proc.wait()
            time.sleep(0.2)
            raise RuntimeError(f"server did not start: {line!r}\n" + "".join(self.log_lines[-20:]))
        self.ready_line = line
        self.url = m.group(1)
        self.host, self.port = "127.0.0.1", int(self.url.rsplit(":", 1)[1])

    def _drain_stderr(self):
        for line in self.proc.stderr:
            self.log_lines.append(line)

    def stop(self, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return -9


@pytest.fixture(scope="session")
def server():
    if not STORIES.is_dir():
        pytest.skip(f"{STORIES} not found")
    s = Server(STORIES, ["--chat-template", str(ROOT / "tests/e2e/chatml.jinja")])
    yield s
    rc = s.stop()
    assert rc == 0, "server exit code %s\n%s" % (rc, "".join(s.log_lines[-30:]))


@pytest.fixture(scope="session")
def client(server):
    import openai
    return openai.OpenAI(base_url=server.url + "/v1", api_key=API_KEY, max_retries=0, timeout=60)


def metrics(server):
    """Parses /metrics into {name{labels}: value} and {name: value} for unlabelled lookups."""
    import requests
    text = requests.get(server.url + "/metrics", timeout=10).text
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, value = line.rsplit(" ", 1)
        out[key] = float(value)
        base = key.split("{", 1)[0]
        labels = key[len(base):]
        if "finished_reason" in labels:
            reason = re.search(r'finished_reason="(\w+)"', labels).group(1)
            out[f"{base}[{reason}]"] = float(value)
        elif "le=" not in labels:
            out[base] = float(value)
    return out


def wait_for(pred, timeout=20, interval=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    return pred()
