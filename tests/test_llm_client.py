"""The LLM client against a real LocalLLMServer: retries, fallbacks, cache, key secrecy, costs, the echo responder."""
from __future__ import annotations

import json
import math
import pickle
import re
import threading
import time

import pytest

from fairsynth.core import FairsynthError
from fairsynth.llm.client import LLMClient, LLMReply, LLMRequest, PRICES_PER_MILLION, model_price
from fairsynth.llm.server import LocalLLMServer, echo_rows_responder

SECRET = "sk-test-SECRET"
EXAMPLES = {"age": [34, 51, 67, 45, 29], "sex": ["F", "M", "F", "M", "F"], "sbp": [118.0, 135.5, 149.0, 127.5, 110.25]}
SCHEMA = {"type": "object", "properties": {c: {"type": "array"} for c in EXAMPLES}, "required": list(EXAMPLES)}


def rows_request(n: int = 3, seed: int | None = None, schema: dict | None = None, **kw) -> LLMRequest:
    prompt = f"Here are example rows: {json.dumps(EXAMPLES)}\nGenerate {n} new rows in the same JSON format."
    return LLMRequest(({"role": "system", "content": "You write synthetic rows."}, {"role": "user", "content": prompt}),
                      seed=seed, response_schema=schema, **kw)


def rows_of(text: str) -> dict:
    """The JSON object in a reply (bare or inside a ```json fence)."""
    return json.loads(re.search(r"\{.*\}", text, re.S)[0])


def sent_format(entry: dict) -> str | None:
    return (entry["body"].get("response_format") or {}).get("type")


@pytest.fixture(autouse=True)
def no_keys(monkeypatch):
    """No API key in the environment unless a test sets one."""
    for var in ("FAIRSYNTH_LLM_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


@pytest.fixture
def server():
    with LocalLLMServer(seed=0) as s:
        yield s


def client(server: LocalLLMServer, **kw) -> LLMClient:
    return LLMClient(server.url, kw.pop("model", "fairsynth-echo"), **{"backoff_seconds": 0.01, **kw})


def test_round_trip(server):
    llm = client(server)
    reply = llm.complete(rows_request(4, seed=1))
    assert isinstance(reply, LLMReply) and reply.ok and not reply.cached
    assert "```json" in reply.text and len(rows_of(reply.text)["age"]) == 4  # free text: prose around a fence
    assert reply.attempts == 1 and reply.structured == "none" and reply.finish_reason == "stop"
    assert reply.prompt_tokens > 0 and reply.completion_tokens == len(reply.text) // 4 and reply.cost_usd == 0.0
    body = server.requests[-1]["body"]
    assert body["model"] == "fairsynth-echo" and body["seed"] == 1 and "response_format" not in body
    assert server.requests[-1]["authorization"] == "Bearer not-needed"  # local server, no key set: placeholder
    u = llm.usage
    assert (u["calls"], u["cached_calls"], u["failed_calls"], u["retries"], u["attempts"]) == (1, 0, 0, 0, 1)
    assert u["completion_tokens"] == reply.completion_tokens
    llm.reset_usage()
    assert llm.usage["calls"] == 0


def test_complete_many_concurrent_and_in_order():
    in_flight, peak, lock = [0], [0], threading.Lock()

    def slow_responder(body: dict) -> str:
        with lock:
            in_flight[0] += 1; peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.15)
        with lock: in_flight[0] -= 1
        return echo_rows_responder(body)

    with LocalLLMServer(responder=slow_responder) as srv:
        llm = client(srv, max_concurrency=4)
        t0 = time.monotonic()
        replies = llm.complete_many([rows_request(n, seed=n) for n in range(1, 13)])
        elapsed = time.monotonic() - t0
    assert [len(rows_of(r.text)["age"]) for r in replies] == list(range(1, 13))
    assert 2 <= peak[0] <= 4 and elapsed < 12 * 0.15  # ran side by side, never more than max_concurrency
    assert llm.usage["calls"] == 12 and llm.complete_many([]) == []


def test_retry_after_429_and_500(server):
    llm = client(server)
    server.add_faults({"status": 429, "retry_after": 0.4}, {"status": 500})
    t0 = time.monotonic()
    reply = llm.complete(rows_request(2, seed=5))
    assert reply.ok and reply.attempts == 3 and time.monotonic() - t0 >= 0.4  # waited as Retry-After asked
    assert [e["status"] for e in server.requests] == [429, 500, 200]
    assert llm.usage["retries"] == 2 and llm.usage["attempts"] == 3 and llm.usage["failed_calls"] == 0


def test_retry_after_is_capped(server):
    llm = client(server, max_backoff_seconds=0.05)
    server.add_faults({"status": 503, "retry_after": 60})
    t0 = time.monotonic()
    assert llm.complete(rows_request(1)).ok and time.monotonic() - t0 < 5


def test_failure_after_max_retries_is_a_reply_not_an_exception(server, tmp_path):
    llm = client(server, max_retries=2, cache_dir=tmp_path)
    server.add_faults(*[{"status": 503}] * 3)
    failed = llm.complete(rows_request(2, seed=9))
    assert failed.text == "" and not failed.ok and failed.attempts == 3
    assert failed.error.startswith("gave up after 3 attempts: HTTP 503")
    assert llm.usage["failed_calls"] == 1 and llm.usage["retries"] == 2
    assert not list(tmp_path.rglob("*.json"))  # failures are not cached
    again = llm.complete(rows_request(2, seed=9))  # the faults are spent: the same request now succeeds
    assert again.ok and not again.cached and len(server.requests) == 4


def test_timeouts_are_retried(server):
    llm = client(server, timeout_seconds=0.3)
    server.add_faults({"delay": 3})
    t0 = time.monotonic()
    reply = llm.complete(rows_request(2))
    assert reply.ok and reply.attempts == 2 and llm.usage["retries"] == 1 and time.monotonic() - t0 < 2.5


def test_bad_key_and_unknown_model_raise_at_once(server):
    llm = client(server)
    for status in (401, 403):
        server.add_faults({"status": status})
        with pytest.raises(FairsynthError, match="FAIRSYNTH_LLM_API_KEY"):
            llm.complete(rows_request())
    server.add_faults({"status": 404})
    with pytest.raises(FairsynthError, match="'fairsynth-echo'"):
        llm.complete(rows_request())
    server.add_faults({"status": 401})
    with pytest.raises(FairsynthError):
        client(server, max_concurrency=3).complete_many([rows_request(seed=s) for s in range(3)])
    assert all(e["status"] in (401, 403, 404, 200) for e in server.requests)
    assert [e["status"] for e in server.requests[:3]] == [401, 403, 404]  # one attempt each: no retries


def test_json_schema_rejected_falls_back_to_json_object():
    with LocalLLMServer(reject_json_schema=True) as srv:
        llm = client(srv)
        first = llm.complete(rows_request(3, seed=1, schema=SCHEMA))
        second = llm.complete(rows_request(3, seed=2, schema=SCHEMA))
        free = llm.complete(rows_request(3, seed=3))  # no schema: no response_format at all
        assert [sent_format(e) for e in srv.requests] == ["json_schema", "json_object", "json_object", None]
        assert (first.structured, first.attempts, second.structured, second.attempts) == ("json_object", 2, "json_object", 1)
        assert json.loads(first.text)["age"] and free.structured == "none" and llm.structured_mode == "json_object"
        assert llm.usage["retries"] == 0  # a fallback is not a retry
        forced = client(srv, structured="json_schema").complete(rows_request(3, schema=SCHEMA))
        assert not forced.ok and "HTTP 400" in forced.error and sent_format(srv.requests[-1]) == "json_schema"
        none = client(srv, structured="none").complete(rows_request(3, schema=SCHEMA))
        assert none.ok and none.structured == "none" and sent_format(srv.requests[-1]) is None


def test_schema_sent_and_falls_back_to_no_format(server):
    llm = client(server)
    ok = llm.complete(rows_request(2, schema=SCHEMA))
    fmt = server.requests[-1]["body"]["response_format"]
    assert ok.structured == "json_schema" and fmt["json_schema"] == {"name": "rows", "schema": SCHEMA, "strict": False}
    assert set(json.loads(ok.text)) == set(EXAMPLES)  # bare JSON when JSON was asked for
    server.add_faults({"status": 400}, {"status": 400})
    last = llm.complete(rows_request(2, seed=4, schema=SCHEMA))
    assert last.structured == "none" and [sent_format(e) for e in server.requests[-3:]] == ["json_schema", "json_object", None]


def test_cache_second_run_makes_no_request(server, tmp_path):
    requests = [rows_request(3, seed=s, schema=SCHEMA) for s in range(4)]
    first = client(server, cache_dir=tmp_path).complete_many(requests)
    n_http = len(server.requests)
    llm = client(server, cache_dir=tmp_path)
    second = llm.complete_many(requests)
    assert len(server.requests) == n_http == 4
    assert [r.text for r in second] == [r.text for r in first] and all(r.cached and r.attempts == 0 for r in second)
    assert all(r.cost_usd == 0 and r.structured == "json_schema" for r in second)
    assert llm.usage["cached_calls"] == 4 and llm.usage["prompt_tokens"] == 0
    files = sorted(tmp_path.rglob("*.json"))
    assert len(files) == 4 and all(f.parent.name == f.stem[:2] for f in files)
    entry = json.loads(files[0].read_text())
    assert set(entry) == {"text", "prompt_tokens", "completion_tokens", "structured", "finish_reason", "model", "created"}
    assert not any("example rows" in f.read_text() for f in files)  # the request (real rows) is never stored
    llm.complete(rows_request(3, seed=99, schema=SCHEMA))  # another seed: another entry
    assert len(server.requests) == 5
    files[0].write_text("{truncated")  # a corrupt entry is a miss, then rewritten
    client(server, cache_dir=tmp_path).complete_many(requests)
    assert len(server.requests) == 6 and json.loads(files[0].read_text())["text"]


def test_key_reaches_server_and_nowhere_else(server, tmp_path, no_keys):
    no_keys.setenv("FAIRSYNTH_LLM_API_KEY", SECRET)
    no_keys.setenv("OPENAI_API_KEY", "sk-other-key-not-used")
    llm = client(server, cache_dir=tmp_path, max_retries=1)
    assert llm.complete(rows_request(2, seed=1)).ok
    assert server.requests[-1]["authorization"] == f"Bearer {SECRET}"  # FAIRSYNTH_LLM_API_KEY wins
    assert "SECRET" not in repr(llm) and "SECRET" not in str(vars(llm).get("base_url"))
    assert b"SECRET" not in pickle.dumps(llm)
    assert pickle.loads(pickle.dumps(llm)).complete(rows_request(2, seed=2)).ok  # rebuilt from the environment
    assert list(tmp_path.rglob("*.json")) and not any(SECRET in f.read_text() for f in tmp_path.rglob("*") if f.is_file())
    server.add_faults({"status": 401})
    with pytest.raises(FairsynthError) as info:
        llm.complete(rows_request(2, seed=3))
    assert "SECRET" not in str(info.value)

    def leaky(body: dict) -> str:
        raise RuntimeError(f"upstream rejected {SECRET} and Bearer {SECRET}")
    with LocalLLMServer(responder=leaky) as srv:
        reply = client(srv, max_retries=1).complete(rows_request())
    assert not reply.ok and "responder failed" in reply.error and "SECRET" not in reply.error


def test_openai_api_key_is_the_fallback(server, no_keys):
    no_keys.setenv("OPENAI_API_KEY", "sk-openai-fallback")
    client(server).complete(rows_request())
    assert server.requests[-1]["authorization"] == "Bearer sk-openai-fallback"


def test_missing_key_for_a_remote_server_raises():
    with pytest.raises(FairsynthError, match="FAIRSYNTH_LLM_API_KEY.*OPENAI_API_KEY"):
        LLMClient("https://api.openai.com/v1", "gpt-4o")
    LLMClient("http://localhost:1/v1", "x")  # local: a placeholder key, no error


def test_costs_from_table_and_explicit_price(server, tmp_path):
    priced = client(server, model="gpt-4o", cache_dir=tmp_path)
    r = priced.complete(rows_request(5, seed=1))
    assert PRICES_PER_MILLION["gpt-4o"] == (2.5, 10.0)
    assert math.isclose(r.cost_usd, (r.prompt_tokens * 2.5 + r.completion_tokens * 10) / 1e6) and r.cost_usd > 0
    assert priced.complete(rows_request(5, seed=1)).cost_usd == 0  # cached: nothing spent
    assert math.isclose(priced.usage["cost_usd"], r.cost_usd)
    own = client(server, model="my-model", price_per_million=(1.0, 2.0)).complete(rows_request(5, seed=1))
    assert math.isclose(own.cost_usd, (own.prompt_tokens + 2 * own.completion_tokens) / 1e6)
    assert client(server).complete(rows_request()).cost_usd == 0.0  # an unknown model on a local server is free
    assert math.isnan(model_price("my-deployment", "https://example.openai.azure.com/openai/v1")[1])
    assert model_price("gpt-4-turbo-2024-04-09", "https://api.openai.com/v1") == (10.0, 30.0)


def test_settings_supply_url_and_model(server, no_keys):
    no_keys.setenv("FAIRSYNTH_LLM_BASE_URL", server.url)
    no_keys.setenv("FAIRSYNTH_LLM_MODEL", "from-settings")
    llm = LLMClient(backoff_seconds=0.01)
    assert llm.base_url == server.url and llm.model == "from-settings" and llm.complete(rows_request()).ok
    assert server.requests[-1]["body"]["model"] == "from-settings"


def test_max_tokens_truncation_is_reported(server):
    reply = client(server).complete(rows_request(50, max_tokens=20))
    assert reply.ok and reply.finish_reason == "length" and len(reply.text) == 80
    assert server.requests[-1]["body"]["max_tokens"] == 20


def test_echo_responder_is_deterministic_and_counts_rows():
    body = {"messages": list(rows_request(7).messages), "seed": 3}
    a, b = echo_rows_responder(body), echo_rows_responder(body)
    assert a == b and a != echo_rows_responder({**body, "seed": 4}) and a != echo_rows_responder(body, seed=1)
    rows = rows_of(a)
    assert list(rows) == list(EXAMPLES) and all(len(v) == 7 for v in rows.values())
    assert all(isinstance(x, int) and 29 <= x <= 67 for x in rows["age"]) and set(rows["sex"]) <= {"F", "M"}
    assert all(110.25 <= x <= 149.0 for x in rows["sbp"])
    bare = echo_rows_responder({**body, "response_format": {"type": "json_object"}})
    assert json.loads(bare) == rows  # JSON asked for: the bare object, same rows
    default = {"messages": [{"role": "user", "content": f"rows: {json.dumps(EXAMPLES)}"}]}
    assert all(len(v) == 10 for v in rows_of(echo_rows_responder(default)).values())


@pytest.mark.parametrize("bad", [dict(max_concurrency=0), dict(max_retries=-1), dict(structured="xml"),
                                 dict(backoff_seconds=-1.0), dict(timeout_seconds=0), dict(price_per_million=(1.0,)),
                                 dict(base_url="localhost:8000"), dict(model=""), dict(seed="0")])
def test_bad_parameters_are_named(bad):
    with pytest.raises(FairsynthError, match=f"'{next(iter(bad))}'"):
        LLMClient(**{"base_url": "http://localhost:8000/v1", "model": "m", **bad})


def test_bad_requests_are_named():
    with pytest.raises(FairsynthError, match="'temperature'"):
        rows_request(temperature=5)
    with pytest.raises(FairsynthError, match="'messages'"):
        LLMRequest(())
    with pytest.raises(FairsynthError, match="'requests'"):
        LLMClient("http://localhost:8000/v1", "m").complete_many(["hi"])
