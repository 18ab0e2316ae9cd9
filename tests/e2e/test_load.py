"""Load: 1,000 concurrent streaming requests, then 200 clients that disconnect mid-stream.

Loopback only (127.0.0.1), bounded in count and time. Raw asyncio sockets keep
the client cheap enough that 1,000 streams fit on a small machine.
"""
import asyncio
import json
import resource
import time

from conftest import API_KEY, MODEL_NAME, metrics, wait_for

N_STREAMS = 1000
N_DISCONNECT = 200


def _request(body):
    payload = json.dumps(body).encode()
    return (b"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + API_KEY.encode() + b"\r\nContent-Length: " + str(len(payload)).encode() +
            b"\r\n\r\n" + payload)


async def _stream(host, port, body, results, gate, disconnect_after=None):
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError as e:
        results.append(("connect", str(e)))
        return
    await gate.wait()  # every connection is open before any request is sent
    t0 = time.perf_counter()
    writer.write(_request(body))
    await writer.drain()
    data = b""
    events = 0
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60)
        if not head.startswith(b"HTTP/1.1 200"):
            results.append(("status", head.split(b"\r\n", 1)[0].decode()))
            return
        while not data.endswith(b"0\r\n\r\n"):
            b = await asyncio.wait_for(reader.read(65536), 60)
            if not b:
                break
            data += b
            events = data.count(b"data: {")
            if disconnect_after is not None and events >= disconnect_after:
                writer.transport.abort()  # gone mid-stream, without a goodbye
                results.append(("disconnected", events))
                return
    except (asyncio.TimeoutError, OSError, asyncio.IncompleteReadError) as e:
        results.append(("io", repr(e)))
        return
    finally:
        if disconnect_after is None:
            writer.close()
    if b'"error"' in data or b"data: [DONE]" not in data:
        results.append(("body", data[-300:].decode(errors="replace")))
        return
    results.append(("ok", time.perf_counter() - t0, data.count(b'"text"')))


async def _run(server, n, body, disconnect_after=None):
    gate = asyncio.Event()
    results = []
    tasks = [asyncio.create_task(_stream(server.host, server.port, body, results, gate, disconnect_after))
             for _ in range(n)]
    await asyncio.sleep(0.5)
    t0 = time.perf_counter()
    gate.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 120)
    return results, time.perf_counter() - t0


def _raise_fd_limit(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(n, soft)), hard))


def test_1000_concurrent_streams_then_200_disconnects(server):
    _raise_fd_limit(4 * N_STREAMS)
    body = {"model": MODEL_NAME, "prompt": "Once upon a time", "max_tokens": 16, "temperature": 0,
            "stream": True, "ignore_eos": True}
    results, wall = asyncio.run(_run(server, N_STREAMS, body))
    errors = [r for r in results if r[0] != "ok"]
    assert not errors, f"{len(errors)} failed, e.g. {errors[:3]}"
    assert len(results) == N_STREAMS
    lat = sorted(r[1] for r in results)
    tokens = sum(r[2] for r in results)
    print(f"\nload: {N_STREAMS} concurrent streams, {tokens} chunks in {wall:.2f} s "
          f"({tokens / wall:.0f} tok/s through HTTP), latency p50 {lat[len(lat) // 2]:.2f} s, "
          f"p99 {lat[int(len(lat) * 0.99)]:.2f} s, max {lat[-1]:.2f} s")
    assert wall < 60

    before = metrics(server)
    long_body = dict(body, max_tokens=400)
    results, wall = asyncio.run(_run(server, N_DISCONNECT, long_body, disconnect_after=2))
    assert sorted(r[0] for r in results) == ["disconnected"] * N_DISCONNECT, results[:3]

    def drained():
        m = metrics(server)
        return m if m["pagoda:num_requests_running"] == 0 and m["pagoda:num_requests_waiting"] == 0 and \
            m["pagoda:kv_cache_blocks_in_use"] == 0 and m["pagoda:http_requests_in_flight"] == 0 else None
    m = wait_for(drained, timeout=30)
    assert m, metrics(server)
    aborted = m["pagoda:request_success_total[abort]"] - before["pagoda:request_success_total[abort]"]
    assert aborted == N_DISCONNECT
    gen = m["pagoda:generation_tokens_total"] - before["pagoda:generation_tokens_total"]
    assert gen < N_DISCONNECT * 400  # stopped early, not run to the end
    print(f"disconnects: {N_DISCONNECT} clients gone mid-stream, {int(aborted)} aborted, "
          f"{int(gen)} tokens generated of {N_DISCONNECT * 400} asked; 0 running, 0 KV blocks in use")
