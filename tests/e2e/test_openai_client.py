"""The official openai client against pagoda serve (stories260k)."""
import openai
import pytest
import requests

from conftest import API_KEY, MAX_BODY, MODEL_NAME

PROMPT = "Once upon a time, there was a little"


def test_models_list(client, server):
    models = client.models.list()
    ids = [m.id for m in models.data]
    assert ids == [MODEL_NAME]
    card = models.data[0].model_dump()
    assert card["object"] == "model"
    assert card["max_model_len"] == 512  # stories260k's max_position_embeddings
    assert client.models.retrieve(MODEL_NAME).id == MODEL_NAME


def test_ready_line(server):
    assert server.url in server.ready_line and MODEL_NAME in server.ready_line
    secs = float(server.ready_line.split("loaded in ")[1].split(" s")[0])
    assert secs < 1.0


def test_completion_greedy_and_usage(client):
    r = client.completions.create(model=MODEL_NAME, prompt=PROMPT, max_tokens=12, temperature=0)
    assert r.id.startswith("cmpl-")
    assert r.object == "text_completion"
    assert r.model == MODEL_NAME
    assert len(r.choices) == 1 and r.choices[0].index == 0
    assert r.choices[0].finish_reason in ("length", "stop")
    assert r.usage.completion_tokens == 12 or r.choices[0].finish_reason == "stop"
    assert r.usage.prompt_tokens > 0
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    assert r.usage.prompt_tokens_details.cached_tokens >= 0
    again = client.completions.create(model=MODEL_NAME, prompt=PROMPT, max_tokens=12, temperature=0)
    assert again.choices[0].text == r.choices[0].text  # greedy is deterministic


def test_max_tokens_length(client):
    r = client.completions.create(model=MODEL_NAME, prompt=PROMPT, max_tokens=3, temperature=0,
                                  extra_body={"ignore_eos": True})
    assert r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens == 3


def test_completion_stream_matches_non_stream(client):
    full = client.completions.create(model=MODEL_NAME, prompt=PROMPT, max_tokens=20, temperature=0)
    chunks = list(client.completions.create(model=MODEL_NAME, prompt=PROMPT, max_tokens=20, temperature=0,
                                            stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert text == full.choices[0].text
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == full.usage.completion_tokens
    finals = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finals == [full.choices[0].finish_reason]
    assert len({c.id for c in chunks}) == 1


def test_stop_string(client):
    base = client.completions.create(model=MODEL_NAME, prompt=PROMPT, max_tokens=30, temperature=0,
                                     extra_body={"ignore_eos": True}).choices[0].text
    words = base.split()
    assert len(words) > 3
    stop = " " + words[2]
    cut = base[:base.index(stop)]
    r = client.completions.create(model=MODEL_NAME, prompt=PROMPT, max_tokens=30, temperature=0, stop=[stop])
    assert r.choices[0].text == cut
    assert r.choices[0].finish_reason == "stop"
    assert r.choices[0].model_dump()["stop_reason"] == stop
    r2 = client.completions.create(model=MODEL_NAME, prompt=PROMPT, max_tokens=30, temperature=0, stop=stop,
                                   extra_body={"include_stop_str_in_output": True})
    assert r2.choices[0].text == cut + stop


def test_seed_reproducible(client):
    kw = dict(model=MODEL_NAME, prompt=PROMPT, max_tokens=16, temperature=1.0)
    a = client.completions.create(seed=1234, **kw).choices[0].text
    b = client.completions.create(seed=1234, **kw).choices[0].text
    assert a == b
    others = {client.completions.create(seed=s, **kw).choices[0].text for s in (1, 2, 3)}
    assert len(others | {a}) > 1


def test_n_greater_than_one(client):
    r = client.completions.create(model=MODEL_NAME, prompt=PROMPT, max_tokens=8, temperature=1.0, n=3, seed=7)
    assert [c.index for c in r.choices] == [0, 1, 2]
    assert r.usage.completion_tokens == sum(8 if c.finish_reason == "length" else 0 for c in r.choices) or \
        any(c.finish_reason == "stop" for c in r.choices)
    g = client.completions.create(model=MODEL_NAME, prompt=PROMPT, max_tokens=8, temperature=0, n=2)
    assert g.choices[0].text == g.choices[1].text


def test_prompt_list_and_token_ids(client):
    r = client.completions.create(model=MODEL_NAME, prompt=[PROMPT, "The cat"], max_tokens=5, temperature=0, n=2)
    assert [c.index for c in r.choices] == [0, 1, 2, 3]
    ids = requests.post(client.base_url.__str__().replace("/v1/", "/tokenize"),
                        json={"prompt": PROMPT}, headers={"Authorization": f"Bearer {API_KEY}"}).json()["tokens"]
    by_ids = client.completions.create(model=MODEL_NAME, prompt=ids, max_tokens=5, temperature=0)
    assert by_ids.choices[0].text == r.choices[0].text


def test_echo_and_logprobs(client):
    r = client.completions.create(model=MODEL_NAME, prompt=PROMPT, max_tokens=4, temperature=0, echo=True)
    assert r.choices[0].text.startswith(PROMPT)
    lp = client.completions.create(model=MODEL_NAME, prompt=PROMPT, max_tokens=4, temperature=0, logprobs=3,
                                   extra_body={"ignore_eos": True})
    l = lp.choices[0].logprobs
    assert len(l.tokens) == 4 and len(l.token_logprobs) == 4 and len(l.top_logprobs) == 4
    assert all(v <= 0 for v in l.token_logprobs)
    assert "".join(l.tokens).strip() == lp.choices[0].text.strip() or len(l.tokens) == 4
    # greedy: the sampled token is the most likely one
    for tok, lpv, top in zip(l.tokens, l.token_logprobs, l.top_logprobs):
        assert lpv == pytest.approx(max(top.values()), abs=1e-4)


def test_chat(client):
    msgs = [{"role": "system", "content": "You tell stories."}, {"role": "user", "content": "Tell me a story."}]
    r = client.chat.completions.create(model=MODEL_NAME, messages=msgs, max_tokens=10, temperature=0)
    assert r.id.startswith("chatcmpl-") and r.object == "chat.completion"
    assert r.choices[0].message.role == "assistant"
    assert isinstance(r.choices[0].message.content, str)
    assert r.usage.completion_tokens <= 10
    chunks = list(client.chat.completions.create(model=MODEL_NAME, messages=msgs, max_tokens=10, temperature=0,
                                                 stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == r.choices[0].message.content
    assert chunks[-1].usage.total_tokens == r.usage.total_tokens
    assert chunks[-1].object == "chat.completion.chunk"


def test_chat_max_completion_tokens_and_logprobs(client):
    r = client.chat.completions.create(model=MODEL_NAME, messages=[{"role": "user", "content": "Hi"}],
                                       max_completion_tokens=3, temperature=0, logprobs=True, top_logprobs=2,
                                       extra_body={"ignore_eos": True})
    assert r.usage.completion_tokens == 3
    content = r.choices[0].logprobs.content
    assert len(content) == 3 and all(len(c.top_logprobs) == 2 for c in content)


def test_error_400_names_the_field(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(model=MODEL_NAME, prompt=PROMPT, temperature=-1)
    assert e.value.status_code == 400
    assert e.value.body["param"] == "temperature"
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=MODEL_NAME, messages=[{"role": "wizard", "content": "x"}])
    assert e.value.body["param"] == "messages[0].role"
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=MODEL_NAME, messages=[])
    assert e.value.body["param"] == "messages"
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=MODEL_NAME, messages=[{"role": "user", "content": "x"}],
                                       response_format={"type": "json_object"})
    assert e.value.body["param"] == "response_format"
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=MODEL_NAME, messages=[{"role": "user", "content": "x"}],
                                       tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}])
    assert e.value.body["param"] == "tools"


def test_error_400_prompt_too_long(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(model=MODEL_NAME, prompt=[5] * 600, max_tokens=4)
    msg = e.value.body["message"]
    assert "512" in msg and "600" in msg
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(model=MODEL_NAME, prompt=[5] * 500, max_tokens=100)
    msg = e.value.body["message"]
    assert "512" in msg and "600" in msg and "500" in msg


def test_error_401(server):
    bad = openai.OpenAI(base_url=server.url + "/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as e:
        bad.models.list()
    assert e.value.status_code == 401
    second = openai.OpenAI(base_url=server.url + "/v1", api_key="second-key", max_retries=0)
    assert second.models.list().data[0].id == MODEL_NAME


def test_error_404_unknown_model(client):
    with pytest.raises(openai.NotFoundError) as e:
        client.completions.create(model="no-such-model", prompt=PROMPT, max_tokens=2)
    assert e.value.body["param"] == "model"


def test_error_413(client):
    with pytest.raises(openai.APIStatusError) as e:
        client.completions.create(model=MODEL_NAME, prompt="a" * (MAX_BODY + 10), max_tokens=2)
    assert e.value.status_code == 413


def test_best_of_and_beam_search(client):
    # best_of: the engine generates 3 (forking the prompt's blocks) and returns the best 1.
    r = client.completions.create(model=MODEL_NAME, prompt="Once upon a time", max_tokens=8, temperature=1.0, seed=3,
                                  best_of=3, n=1, extra_body={"ignore_eos": True})
    assert len(r.choices) == 1 and r.usage.completion_tokens == 8
    # Beam search (vLLM's extra field): n beams, best first, deterministic.
    kw = dict(model=MODEL_NAME, prompt="Once upon a time", max_tokens=8, n=3, temperature=0.0,
              extra_body={"use_beam_search": True})
    a = client.completions.create(**kw)
    b = client.completions.create(**kw)
    assert [c.index for c in a.choices] == [0, 1, 2]
    assert [c.text for c in a.choices] == [c.text for c in b.choices]
    assert len({c.text for c in a.choices}) == 3
    # Neither can be streamed.
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(stream=True, **kw)
    assert e.value.body["param"] == "use_beam_search"


def test_bad_words_are_never_generated(client):
    kw = dict(model=MODEL_NAME, prompt="Once upon a time", max_tokens=24, temperature=0.0)
    base = client.completions.create(**kw).choices[0].text
    words = [w for w in base.split() if w.isalpha()]
    assert words, base
    banned = words[0]
    text = client.completions.create(extra_body={"bad_words": [banned]}, **kw).choices[0].text
    assert banned not in text.split(), (banned, text)
    assert text != base


def test_prompt_logprobs(client):
    ids = [1, 403, 407, 261, 399, 294]
    r = client.completions.create(model=MODEL_NAME, prompt=ids, max_tokens=2, temperature=0.0,
                                  extra_body={"prompt_logprobs": 2})
    pl = r.choices[0].model_extra["prompt_logprobs"]
    assert len(pl) == len(ids) and pl[0] is None
    for tok, entry in zip(ids[1:], pl[1:]):
        assert str(tok) in entry  # the prompt token itself, plus the top 2
        assert 1 <= len(entry) <= 3
        assert all(v["logprob"] <= 0 and v["rank"] >= 1 for v in entry.values())
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(model=MODEL_NAME, prompt=ids, max_tokens=2, stream=True,
                                  extra_body={"prompt_logprobs": 2})
    assert e.value.body["param"] == "prompt_logprobs"
