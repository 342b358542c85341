"""The fake OpenAI server, exercised through the real ``openai`` client.

If these pass, tests that point LabQA's LLM client at ``FakeOpenAIServer`` are testing real protocol
behaviour (status codes, SSE framing, dropped connections), not a mock's idea of it.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest

# tests/ has no __init__.py, so pytest puts tests/ itself on sys.path (works from any cwd).
from fake_openai_server import FakeOpenAIServer

REPLY = "EISAM is an imaging method described in the 2021 paper [1]. It improves resolution [2]."
MESSAGES: list[Any] = [
    {"role": "system", "content": "Answer with citations."},
    {"role": "user", "content": "What is EISAM?"},
]


ClientFactory = Callable[..., openai.OpenAI]


@pytest.fixture
def make_client() -> Iterator[ClientFactory]:
    """Real openai clients pointed at a fake server; closed at teardown so no sockets leak."""
    clients: list[openai.OpenAI] = []

    def factory(srv: FakeOpenAIServer, *, timeout: float = 5.0, api_key: str = "test") -> openai.OpenAI:
        client = openai.OpenAI(base_url=srv.base_url, api_key=api_key, max_retries=0, timeout=timeout)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()


@pytest.fixture
def srv() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(mode="ok", reply=REPLY) as server:
        yield server
        assert server.errors == []  # nothing blew up inside the fake itself


def fake_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("fake-openai")]


# ---- happy paths ------------------------------------------------------------------------------


def test_non_streaming_completion(srv: FakeOpenAIServer, make_client: ClientFactory) -> None:
    resp = make_client(srv).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, temperature=0)

    assert resp.object == "chat.completion"
    assert resp.id.startswith("chatcmpl-")
    assert resp.model == "gpt-4o-mini"  # echoed from the request
    choice = resp.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == REPLY
    assert choice.finish_reason == "stop"
    assert resp.usage is not None and resp.usage.completion_tokens == len(REPLY.split())
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens

    # The server recorded what the client actually sent.
    assert len(srv.requests) == 1
    body = srv.requests[0]
    assert body["messages"] == MESSAGES
    assert body["temperature"] == 0
    assert "stream" not in body
    assert srv.last_headers["authorization"] == "Bearer test"
    assert srv.last_headers["content-type"] == "application/json"


def test_streaming_completion_reassembles_reply(srv: FakeOpenAIServer, make_client: ClientFactory) -> None:
    stream = make_client(srv).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    chunks = list(stream)

    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1  # one completion id across the stream
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    content_chunks = [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content]
    assert len(content_chunks) > 3  # really streamed a few words at a time, not in one piece
    assert "".join(content_chunks) == REPLY
    assert srv.requests[-1]["stream"] is True


def test_streaming_with_delay_and_usage_chunk(make_client: ClientFactory) -> None:
    with FakeOpenAIServer(reply="one two three four five", chunk_delay=0.05, words_per_chunk=1) as srv:
        client = make_client(srv)
        arrivals: list[float] = []
        text = ""
        usage = None
        for chunk in client.chat.completions.create(
            model="m", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        ):
            arrivals.append(time.monotonic())
            if chunk.choices and chunk.choices[0].delta.content:
                text += chunk.choices[0].delta.content
            if chunk.usage is not None:
                usage = chunk.usage

    assert text == "one two three four five"
    # Chunks arrive spread out over time, i.e. the client really receives them incrementally.
    assert arrivals[-1] - arrivals[0] >= 0.05 * 5
    assert usage is not None and usage.completion_tokens == 5


def test_callable_reply_sees_the_request(make_client: ClientFactory) -> None:
    def echo(body: dict[str, Any]) -> str:
        question = body["messages"][-1]["content"]
        return f"You asked: {question} [1]"

    with FakeOpenAIServer(reply=echo) as srv:
        client = make_client(srv)
        plain = client.chat.completions.create(model="m", messages=MESSAGES)
        streamed = "".join(
            c.choices[0].delta.content or ""
            for c in client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        )

    assert plain.choices[0].message.content == "You asked: What is EISAM? [1]"
    assert streamed == "You asked: What is EISAM? [1]"


def test_models_endpoint(make_client: ClientFactory) -> None:
    with FakeOpenAIServer(models=("gpt-4o-mini", "llama3")) as srv:
        ids = [m.id for m in make_client(srv).models.list()]
    assert ids == ["gpt-4o-mini", "llama3"]


# ---- auth -------------------------------------------------------------------------------------


def test_wrong_api_key_is_401(make_client: ClientFactory) -> None:
    with FakeOpenAIServer(api_key="sk-right") as srv:
        with pytest.raises(openai.AuthenticationError) as exc_info:
            make_client(srv, api_key="sk-wrong").chat.completions.create(model="m", messages=MESSAGES)
        ok = make_client(srv, api_key="sk-right").chat.completions.create(model="m", messages=MESSAGES)

    err = exc_info.value
    assert err.status_code == 401
    assert err.code == "invalid_api_key"
    assert err.type == "invalid_request_error"
    assert ok.choices[0].message.content  # the right key still works
    assert [r.headers["authorization"] for r in srv.log] == ["Bearer sk-wrong", "Bearer sk-right"]


def test_unauthorized_mode(srv: FakeOpenAIServer, make_client: ClientFactory) -> None:
    srv.mode = "unauthorized"
    with pytest.raises(openai.AuthenticationError) as exc_info:
        make_client(srv).chat.completions.create(model="m", messages=MESSAGES)
    assert exc_info.value.status_code == 401
    assert "Incorrect API key" in exc_info.value.message


# ---- failure modes ----------------------------------------------------------------------------


def test_rate_limit_is_429_with_retry_after(make_client: ClientFactory) -> None:
    with FakeOpenAIServer(mode="rate_limit", retry_after=7) as srv:
        with pytest.raises(openai.RateLimitError) as exc_info:
            make_client(srv).chat.completions.create(model="m", messages=MESSAGES)

    err = exc_info.value
    assert err.status_code == 429
    assert err.code == "rate_limit_exceeded"
    assert err.response.headers["retry-after"] == "7"


def test_server_error_is_500(srv: FakeOpenAIServer, make_client: ClientFactory) -> None:
    srv.mode = "server_error"
    with pytest.raises(openai.InternalServerError) as exc_info:
        make_client(srv).chat.completions.create(model="m", messages=MESSAGES)
    assert exc_info.value.status_code == 500
    assert exc_info.value.type == "server_error"


def test_mode_can_change_on_a_live_server(srv: FakeOpenAIServer, make_client: ClientFactory) -> None:
    client = make_client(srv)
    assert client.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content == REPLY
    srv.mode = "rate_limit"
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="m", messages=MESSAGES)
    srv.mode = "ok"
    assert client.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content == REPLY
    assert len(srv.requests) == 3

    with pytest.raises(ValueError, match="unknown mode"):
        srv.mode = "rate-limit"  # typo is rejected, not silently treated as "ok"


def test_hang_triggers_client_timeout_and_shutdown_is_prompt(make_client: ClientFactory) -> None:
    srv = FakeOpenAIServer(mode="hang", hang_seconds=30).start()
    try:
        started = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            make_client(srv, timeout=1).chat.completions.create(model="m", messages=MESSAGES)
        elapsed = time.monotonic() - started
        assert 0.9 <= elapsed < 5  # the client's 1 s timeout fired, not the server's 30 s hang
        assert len(srv.requests) == 1  # the request was accepted before the stall
    finally:
        closing = time.monotonic()
        srv.close()
    assert time.monotonic() - closing < 3  # close() does not wait out the hang
    assert fake_threads() == []


def test_hang_answers_after_hang_seconds(make_client: ClientFactory) -> None:
    with FakeOpenAIServer(mode="hang", hang_seconds=0.3, reply="late") as srv:
        started = time.monotonic()
        resp = make_client(srv, timeout=5).chat.completions.create(model="m", messages=MESSAGES)
    assert resp.choices[0].message.content == "late"
    assert time.monotonic() - started >= 0.3


def test_garbage_json_body(srv: FakeOpenAIServer, make_client: ClientFactory) -> None:
    srv.mode = "garbage"
    # Observed (openai 3.x): a 200 "application/json" body that is not JSON is NOT wrapped in an
    # openai.APIError; the raw json.JSONDecodeError escapes from create(). Callers must catch it too.
    with pytest.raises(json.JSONDecodeError):
        make_client(srv).chat.completions.create(model="m", messages=MESSAGES)
    assert len(srv.requests) == 1


def test_garbage_stream_body(srv: FakeOpenAIServer, make_client: ClientFactory) -> None:
    srv.mode = "garbage"
    # Observed: non-SSE lines are ignored by the SSE decoder, so the stream ends "cleanly" with no
    # chunks at all — callers must treat an empty stream as a failure themselves.
    chunks = list(make_client(srv).chat.completions.create(model="m", messages=MESSAGES, stream=True))
    assert chunks == []


def test_mid_stream_drop_raises_during_iteration(srv: FakeOpenAIServer, make_client: ClientFactory) -> None:
    srv.mode = "mid_stream_error"
    received: list[str] = []
    stream = make_client(srv).chat.completions.create(model="m", messages=MESSAGES, stream=True)
    # Observed: openai wraps the transport's "incomplete chunked read" in APIConnectionError mid-iteration.
    with pytest.raises(openai.APIConnectionError) as exc_info:
        for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")
    text = "".join(received)
    assert text  # some content arrived before the drop...
    assert REPLY.startswith(text) and text != REPLY  # ...but not all of it
    assert "incomplete chunked read" in str(exc_info.value.__cause__)


def test_mid_stream_drop_non_streaming_request(srv: FakeOpenAIServer, make_client: ClientFactory) -> None:
    srv.mode = "mid_stream_error"
    # A truncated non-streaming body is a connection failure from the client's point of view.
    with pytest.raises(openai.APIConnectionError):
        make_client(srv).chat.completions.create(model="m", messages=MESSAGES)


# ---- plumbing ---------------------------------------------------------------------------------


def test_base_url_and_plain_http_errors(srv: FakeOpenAIServer) -> None:
    assert srv.base_url == f"http://127.0.0.1:{srv.port}/v1"
    with pytest.raises(urllib.error.HTTPError) as exc_info:
        urllib.request.urlopen(f"{srv.url}/v1/nope", timeout=5)
    with exc_info.value as not_found:  # HTTPError owns the socket; close it
        assert not_found.code == 404
        assert json.loads(not_found.read())["error"]["code"] == "unknown_url"

    bad = urllib.request.Request(f"{srv.base_url}/chat/completions", data=b"{oops", method="POST")
    with pytest.raises(urllib.error.HTTPError) as exc_info:
        urllib.request.urlopen(bad, timeout=5)
    with exc_info.value as bad_request:
        assert bad_request.code == 400
        assert json.loads(bad_request.read())["error"]["type"] == "invalid_request_error"
    assert srv.requests == []  # unparseable bodies are logged but not added to requests
    assert [r.body for r in srv.log] == [None, None]


def test_concurrent_requests_are_all_recorded(srv: FakeOpenAIServer, make_client: ClientFactory) -> None:
    client = make_client(srv)
    results: list[str | None] = []

    def ask(i: int) -> None:
        msg = [{"role": "user", "content": f"question {i}"}]
        results.append(client.chat.completions.create(model="m", messages=msg).choices[0].message.content)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)

    assert results == [REPLY] * 8
    asked = sorted(r["messages"][0]["content"] for r in srv.requests)
    assert asked == sorted(f"question {i}" for i in range(8))


def test_clean_shutdown_leaves_no_threads(make_client: ClientFactory) -> None:
    with FakeOpenAIServer(chunk_delay=0.01) as srv:
        client = make_client(srv)
        client.chat.completions.create(model="m", messages=MESSAGES)  # leaves an idle keep-alive connection
        list(client.chat.completions.create(model="m", messages=MESSAGES, stream=True))
        assert fake_threads()  # server + connection threads are running
    assert fake_threads() == []
    with pytest.raises(RuntimeError):
        _ = srv.port  # the server is really gone
