"""Raw HTTP cases: framing, malformed input, auth, routes, limits."""
import json
import socket

import requests

from conftest import API_KEY, MAX_BODY, MODEL_NAME, metrics

AUTH = {"Authorization": f"Bearer {API_KEY}"}


def raw(server, data: bytes, timeout=10):
    """Sends bytes, reads until the server closes or a full response arrived (Connection: close)."""
    with socket.create_connection((server.host, server.port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    return out


def dechunk(body: bytes):
    """Decodes a chunked body strictly; returns the list of chunks."""
    chunks, pos = [], 0
    while True:
        eol = body.index(b"\r\n", pos)
        size = int(body[pos:eol], 16)
        pos = eol + 2
        if size == 0:
            assert body[pos:] == b"\r\n", body[pos:]
            return chunks
        chunks.append(body[pos:pos + size])
        assert body[pos + size:pos + size + 2] == b"\r\n"
        pos += size + 2


def error_of(r):
    body = r.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["code"] == r.status_code
    return body["error"]


def test_sse_framing_byte_for_byte(server):
    payload = json.dumps({"model": MODEL_NAME, "prompt": "Once upon", "max_tokens": 4, "temperature": 0,
                          "stream": True, "stream_options": {"include_usage": True}, "ignore_eos": True}).encode()
    req = (b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
           b"Authorization: Bearer " + API_KEY.encode() + b"\r\nContent-Length: " + str(len(payload)).encode() +
           b"\r\n\r\n" + payload)
    out = raw(server, req)
    head, body = out.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 200 OK"
    headers = {l.split(b": ", 1)[0].lower(): l.split(b": ", 1)[1] for l in lines[1:]}
    assert headers[b"content-type"].startswith(b"text/event-stream")
    assert headers[b"transfer-encoding"] == b"chunked"
    assert b"content-length" not in headers
    stream = b"".join(dechunk(body))
    events = stream.split(b"\n\n")
    assert events[-1] == b"" and events[-2] == b"data: [DONE]"
    events = events[:-2]
    assert len(events) == 5  # 4 tokens and the usage chunk
    parsed = []
    for e in events:
        assert e.startswith(b"data: {") and b"\n" not in e
        parsed.append(json.loads(e[len(b"data: "):]))
    assert all(p["object"] == "text_completion" for p in parsed)
    assert [p["choices"][0]["finish_reason"] for p in parsed[:4]] == [None, None, None, "length"]
    assert parsed[-1]["choices"] == [] and parsed[-1]["usage"]["completion_tokens"] == 4


def test_chat_stream_role_first(server):
    r = requests.post(server.url + "/v1/chat/completions", headers=AUTH, stream=True,
                      json={"model": MODEL_NAME, "messages": [{"role": "user", "content": "Hi"}],
                            "max_tokens": 3, "stream": True, "temperature": 0})
    events = [l for l in r.iter_lines() if l]
    first = json.loads(events[0][6:])
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert events[-1] == b"data: [DONE]"


def test_malformed_json(server):
    r = requests.post(server.url + "/v1/completions", headers={**AUTH, "Content-Type": "application/json"},
                      data=b'{"prompt": "x", ')
    assert r.status_code == 400
    e = error_of(r)
    assert e["type"] == "BadRequestError" and e["param"] == "body"
    r = requests.post(server.url + "/v1/completions", headers=AUTH, data=b"[1, 2]")
    assert r.status_code == 400


def test_wrong_types(server):
    for field, value in [("max_tokens", "ten"), ("temperature", [1]), ("n", 1.5), ("stream", "yes"),
                         ("stop", 7), ("logit_bias", {"x": 1}), ("prompt", {"a": 1})]:
        body = {"model": MODEL_NAME, "prompt": "x", field: value}
        r = requests.post(server.url + "/v1/completions", headers=AUTH, json=body)
        assert r.status_code == 400, field
        assert error_of(r)["param"] == field
    r = requests.post(server.url + "/v1/chat/completions", headers=AUTH,
                      json={"model": MODEL_NAME, "messages": [{"role": "user", "content": 5}]})
    assert r.status_code == 400 and error_of(r)["param"] == "messages[0].content"


def test_out_of_range_token_id(server):
    r = requests.post(server.url + "/v1/completions", headers=AUTH,
                      json={"model": MODEL_NAME, "prompt": [1, 99999], "max_tokens": 2})
    assert r.status_code == 400 and error_of(r)["param"] == "prompt"
    r = requests.post(server.url + "/v1/completions", headers=AUTH,
                      json={"model": MODEL_NAME, "prompt": "x", "logit_bias": {"99999": 1}})
    assert r.status_code == 400 and error_of(r)["param"] == "logit_bias"


def test_huge_body_413(server):
    r = requests.post(server.url + "/v1/completions", headers=AUTH, data=b"x" * (MAX_BODY * 3))
    assert r.status_code == 413
    assert "larger than the limit" in error_of(r)["message"]


def test_auth(server):
    url = server.url + "/v1/models"
    r = requests.get(url)
    assert r.status_code == 401 and error_of(r)["type"] == "AuthenticationError"
    assert requests.get(url, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert requests.get(url, headers={"Authorization": API_KEY}).status_code == 401
    assert requests.get(url, headers=AUTH).status_code == 200
    assert requests.post(server.url + "/tokenize", json={"prompt": "x"}).status_code == 401
    assert requests.post(server.url + "/detokenize", json={"tokens": [1]}).status_code == 401
    # open endpoints
    assert requests.get(server.url + "/health").status_code == 200
    assert requests.get(server.url + "/version").json()["version"]
    assert requests.get(server.url + "/metrics").status_code == 200


def test_unknown_route_and_method(server):
    r = requests.get(server.url + "/nope")
    assert r.status_code == 404 and error_of(r)["type"] == "NotFoundError"
    r = requests.get(server.url + "/v1/completions", headers=AUTH)
    assert r.status_code == 405 and r.headers["Allow"] == "POST"
    r = requests.post(server.url + "/health")
    assert r.status_code == 405


def test_keep_alive_reuses_connection(server):
    with requests.Session() as s:
        for _ in range(5):
            assert s.get(server.url + "/health").status_code == 200
    m = metrics(server)
    assert m["pagoda:http_connections"] >= 1


def test_tokenize_detokenize(server):
    t = requests.post(server.url + "/tokenize", headers=AUTH, json={"prompt": "Once upon a time"}).json()
    assert t["count"] == len(t["tokens"]) and t["max_model_len"] == 512
    d = requests.post(server.url + "/detokenize", headers=AUTH, json={"tokens": t["tokens"]}).json()
    assert d["prompt"].endswith("Once upon a time")
    c = requests.post(server.url + "/tokenize", headers=AUTH,
                      json={"messages": [{"role": "user", "content": "Hi"}]}).json()
    assert c["count"] > t["count"] // 2


def test_metrics_names(server):
    import requests as rq
    text = rq.get(server.url + "/metrics").text
    for name in ["num_requests_running", "num_requests_waiting", "kv_cache_usage_perc", "prefix_cache_queries_total",
                 "prefix_cache_hits_total", "num_preemptions_total", "prompt_tokens_total",
                 "generation_tokens_total", "request_success_total", "time_to_first_token_seconds_bucket",
                 "inter_token_latency_seconds_bucket", "e2e_request_latency_seconds_bucket",
                 "request_queue_time_seconds_bucket", "request_prompt_tokens_bucket",
                 "request_generation_tokens_bucket"]:
        assert f"pagoda:{name}" in text, name
    assert "# TYPE pagoda:time_to_first_token_seconds histogram" in text
