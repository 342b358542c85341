"""A local OpenAI-compatible chat-completions server, used as a test double.

It speaks the real wire protocol (JSON bodies, SSE streaming, OpenAI error shapes), so the real
``openai`` client can be pointed at it via ``base_url``. Stdlib only, one daemon thread per connection.

    with FakeOpenAIServer(mode="ok", reply="EISAM is ... [1].") as srv:
        client = openai.OpenAI(base_url=srv.base_url, api_key="test", max_retries=0)
        ...
        srv.requests[-1]["messages"]   # what the client sent
        srv.last_headers["authorization"]

Failure modes (``srv.mode``, changeable on a live server):
    ok                normal answers
    unauthorized      always 401 invalid_api_key
    rate_limit        429 with Retry-After
    server_error      500
    hang              sleep ``hang_seconds`` before answering (cut short by shutdown)
    garbage           200 with a body that is not JSON (or, for streams, not SSE)
    mid_stream_error  send part of the response, then drop the connection
"""

from __future__ import annotations

import json
import re
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final, cast

Reply = str | Callable[[dict[str, Any]], str]

MODES: Final[frozenset[str]] = frozenset(
    {"ok", "unauthorized", "rate_limit", "server_error", "hang", "garbage", "mid_stream_error"}
)

# What a misbehaving proxy might hand back instead of the API's JSON / SSE.
GARBAGE_BODY: Final[bytes] = b"<html><body>502 Bad Gateway</body></html>\n{not: json,,\n"


@dataclass
class RecordedRequest:
    """One HTTP request as the server saw it (header names lower-cased)."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None = None
    received_at: float = field(default_factory=time.time)


def _error_body(message: str, type_: str, code: str | None, param: str | None = None) -> dict[str, Any]:
    # The exact shape api.openai.com uses; the openai client reads error.message / code / type from it.
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _split_words(text: str, words_per_chunk: int) -> list[str]:
    """Split ``text`` into pieces of a few words each; joining them gives ``text`` back exactly."""
    words = [w for w in re.split(r"(?<=\s)(?=\S)", text) if w]
    return ["".join(words[i : i + words_per_chunk]) for i in range(0, len(words), words_per_chunk)]


def _count_tokens(text: str) -> int:
    # Whitespace "tokens": only needs to be plausible and deterministic.
    return len(text.split())


def _prompt_text(body: dict[str, Any]) -> str:
    parts: list[str] = []
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):  # multi-part content: [{"type": "text", "text": ...}, ...]
            parts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "\n".join(parts)


class _HTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that remembers its live connections and handler threads.

    Knowing them lets ``FakeOpenAIServer.close`` cut idle keep-alive and hung connections, so
    handler threads exit promptly instead of lingering until the client goes away.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, owner: FakeOpenAIServer) -> None:
        self.owner = owner
        self._conn_lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        # Not named _threads: ThreadingMixIn uses that name and would join it without a timeout.
        self._handler_threads: list[threading.Thread] = []
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        # Same as ThreadingMixIn.process_request, but the connection/thread are registered before start.
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=f"fake-openai-conn-{client_address[1]}",
            daemon=True,
        )
        with self._conn_lock:
            self._connections.add(request)
            self._handler_threads = [t for t in self._handler_threads if t.is_alive()]
            self._handler_threads.append(thread)
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        with self._conn_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up (timeouts, dropped streams) are expected; anything else is a bug in the fake.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)) or self.owner.closing:
            return
        self.owner.errors.append(exc if isinstance(exc, BaseException) else RuntimeError("unknown error"))
        super().handle_error(request, client_address)

    def drop_connections(self) -> None:
        with self._conn_lock:
            conns = list(self._connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the other side

    def join_handlers(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._conn_lock:
            threads = list(self._handler_threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 so the client's keep-alive pool and chunked streaming behave as against the real API.
    protocol_version = "HTTP/1.1"
    server_version = "FakeOpenAI/1.0"
    # A dead client must not pin a handler thread forever.
    timeout = 60

    @property
    def owner(self) -> FakeOpenAIServer:
        return cast(_HTTPServer, self.server).owner

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep pytest output clean

    # ---- routing -------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._record(None)
        if self.path.rstrip("/") != "/v1/models":
            self._send_json(
                404,
                _error_body(f"Unknown request URL: GET {self.path}.", "invalid_request_error", "unknown_url"),
            )
            return
        if self._reject_if_failing(stream=False):
            return
        now = int(time.time())
        data = [
            {"id": m, "object": "model", "created": now, "owned_by": "labqa-fake"} for m in self.owner.models
        ]
        self._send_json(200, {"object": "list", "data": data})

    def do_POST(self) -> None:
        raw = self._read_body()
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._record(None)
            self._send_json(
                404,
                _error_body(
                    f"Unknown request URL: POST {self.path}.", "invalid_request_error", "unknown_url"
                ),
            )
            return
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self._record(None)
            self._send_json(
                400,
                _error_body(
                    "We could not parse the JSON body of your request.", "invalid_request_error", None
                ),
            )
            return
        self._record(body)

        stream = bool(body.get("stream"))
        if self._reject_if_failing(stream=stream):
            return
        try:
            text = self.owner.render_reply(body)
        except Exception as exc:  # a buggy reply callable should fail the test loudly, not hang it
            self.owner.errors.append(exc)
            self._send_json(500, _error_body(f"reply callable raised {exc!r}", "server_error", None))
            return
        if stream:
            self._stream_completion(body, text, drop_midway=self.owner.mode == "mid_stream_error")
        else:
            self._send_completion(body, text)

    # ---- failure modes -------------------------------------------------------------------------

    def _reject_if_failing(self, *, stream: bool) -> bool:
        """Apply auth and the current failure mode; True if a response (or a drop) was already sent."""
        owner = self.owner
        mode = owner.mode  # read once: a test may flip it mid-request
        if mode == "unauthorized" or not self._authorized():
            self._send_json(
                401,
                _error_body(
                    "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
                    "invalid_request_error",
                    "invalid_api_key",
                ),
            )
            return True
        if mode == "rate_limit":
            self._send_json(
                429,
                _error_body(
                    "Rate limit reached for requests. Please try again later.",
                    "requests",
                    "rate_limit_exceeded",
                ),
                extra_headers={"Retry-After": f"{owner.retry_after:g}"},
            )
            return True
        if mode == "server_error":
            self._send_json(
                500,
                _error_body(
                    "The server had an error while processing your request. Sorry about that!",
                    "server_error",
                    None,
                ),
            )
            return True
        if mode == "hang":
            # Event.wait rather than sleep so close() can release the thread immediately.
            if owner.stop_event.wait(owner.hang_seconds):
                self._drop_connection()
                return True
            return False  # waited it out: answer normally
        if mode == "garbage":
            content_type = "text/event-stream" if stream else "application/json"
            self._send_bytes(200, GARBAGE_BODY, content_type)
            return True
        if mode == "mid_stream_error" and not stream:
            # Promise a longer body than we send, then hang up: a truncated response.
            payload = json.dumps(_error_body("truncated", "server_error", None)).encode()
            self.send_response(200)
            self._send_common_headers("application/json")
            self.send_header("Content-Length", str(len(payload) * 2))
            self.end_headers()
            self.wfile.write(payload[: len(payload) // 2])
            self._drop_connection()
            return True
        return False

    def _authorized(self) -> bool:
        expected = self.owner.api_key
        if expected is None:
            return True
        return self.headers.get("Authorization", "") == f"Bearer {expected}"

    # ---- normal answers ------------------------------------------------------------------------

    def _completion_id(self) -> str:
        return f"chatcmpl-{uuid.uuid4().hex[:24]}"

    def _usage(self, body: dict[str, Any], text: str) -> dict[str, int]:
        prompt, completion = _count_tokens(_prompt_text(body)), _count_tokens(text)
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    def _send_completion(self, body: dict[str, Any], text: str) -> None:
        completion = {
            "id": self._completion_id(),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or self.owner.models[0],
            "system_fingerprint": "fp_fake",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": self._usage(body, text),
        }
        self._send_json(200, completion)

    def _stream_completion(self, body: dict[str, Any], text: str, *, drop_midway: bool) -> None:
        owner = self.owner
        base = {
            "id": self._completion_id(),
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model") or owner.models[0],
            "system_fingerprint": "fp_fake",
        }

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            return {
                **base,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
            }

        events: list[dict[str, Any]] = [chunk({"role": "assistant", "content": ""})]
        events += [chunk({"content": piece}) for piece in _split_words(text, owner.words_per_chunk)]
        events.append(chunk({}, "stop"))
        stream_options = body.get("stream_options") or {}
        if isinstance(stream_options, dict) and stream_options.get("include_usage"):
            events.append({**base, "choices": [], "usage": self._usage(body, text)})

        # Chunked transfer encoding: the body length is unknown up front, and the connection stays reusable.
        self.send_response(200)
        self._send_common_headers("text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        # When dropping, send the role chunk plus at least one content chunk so the client has started.
        cut_after = max(2, len(events) // 2) if drop_midway else None
        for i, event in enumerate(events):
            if cut_after is not None and i == cut_after:
                self._drop_connection()
                return
            if i and owner.chunk_delay > 0 and owner.stop_event.wait(owner.chunk_delay):
                self._drop_connection()
                return
            self._write_chunk(f"data: {json.dumps(event)}\n\n".encode())
        if drop_midway:  # reply too short to cut earlier: still never finish cleanly
            self._drop_connection()
            return
        self._write_chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    # ---- low-level helpers ---------------------------------------------------------------------

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _record(self, body: dict[str, Any] | None) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.owner.record(RecordedRequest(self.command, self.path, headers, body))

    def _send_common_headers(self, content_type: str) -> None:
        self.send_header("Content-Type", content_type)
        self.send_header("x-request-id", f"req_{uuid.uuid4().hex}")
        self.send_header("openai-processing-ms", "1")

    def _send_bytes(
        self, status: int, payload: bytes, content_type: str, extra_headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self._send_common_headers(content_type)
        for name, value in (extra_headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()

    def _send_json(self, status: int, obj: Any, extra_headers: dict[str, str] | None = None) -> None:
        self._send_bytes(status, json.dumps(obj).encode(), "application/json", extra_headers)

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _drop_connection(self) -> None:
        # Hard hang-up, no terminating chunk: the client sees an incomplete body / reset.
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class FakeOpenAIServer:
    """OpenAI-compatible ``/v1/chat/completions`` + ``/v1/models`` server on 127.0.0.1:<free port>.

    Args:
        mode: failure mode (see module docstring); may be reassigned while running.
        reply: answer text, or ``callable(request_json) -> str`` to build it from the request.
        api_key: if given, requests whose ``Authorization`` is not ``Bearer <api_key>`` get 401.
        models: ids listed by ``GET /v1/models``; the first is used when a request names no model.
        chunk_delay: seconds between streamed chunks.
        words_per_chunk: words per streamed content delta.
        hang_seconds: how long ``mode="hang"`` stalls before answering.
        retry_after: value of the ``Retry-After`` header in ``mode="rate_limit"``.
    """

    def __init__(
        self,
        mode: str = "ok",
        reply: Reply = "This is a fake answer.",
        *,
        api_key: str | None = None,
        models: Sequence[str] = ("fake-model",),
        chunk_delay: float = 0.0,
        words_per_chunk: int = 3,
        hang_seconds: float = 30.0,
        retry_after: float = 1.0,
    ) -> None:
        self.mode = mode
        self.reply: Reply = reply
        self.api_key = api_key
        self.models: tuple[str, ...] = tuple(models) or ("fake-model",)
        self.chunk_delay = chunk_delay
        self.words_per_chunk = max(1, words_per_chunk)
        self.hang_seconds = hang_seconds
        self.retry_after = retry_after

        self.requests: list[dict[str, Any]] = []  # JSON bodies of chat-completion requests, in arrival order
        self.log: list[RecordedRequest] = []  # every request, any endpoint
        self.errors: list[BaseException] = []  # unexpected exceptions inside the fake itself
        self.stop_event = threading.Event()
        self.closing = False
        self._lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- configuration ---------------------------------------------------------------------------

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        if value not in MODES:  # fail fast on typos instead of silently serving "ok"
            raise ValueError(f"unknown mode {value!r}; expected one of {sorted(MODES)}")
        self._mode = value

    def render_reply(self, body: dict[str, Any]) -> str:
        reply = self.reply
        return reply(body) if callable(reply) else reply

    # ---- recorded traffic ------------------------------------------------------------------------

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.log.append(request)
            if request.body is not None:
                self.requests.append(request.body)

    @property
    def last_headers(self) -> dict[str, str]:
        """Headers (lower-cased names) of the most recent request; empty if none yet."""
        with self._lock:
            return dict(self.log[-1].headers) if self.log else {}

    @property
    def request_headers(self) -> list[dict[str, str]]:
        with self._lock:
            return [dict(r.headers) for r in self.log]

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> bool:
        """Block until ``count`` chat requests have arrived (e.g. before flipping ``mode`` mid-test)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.requests) >= count:
                    return True
            time.sleep(0.01)
        return False

    # ---- lifecycle -------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def start(self) -> FakeOpenAIServer:
        if self._httpd is not None:
            raise RuntimeError("server already started")
        self.stop_event.clear()
        self.closing = False
        self._httpd = _HTTPServer(self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},  # quick shutdown()
            name=f"fake-openai-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def close(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self.closing = True
        self.stop_event.set()  # releases "hang" and chunk_delay waits
        httpd.shutdown()  # stop accepting; returns once serve_forever has exited
        httpd.drop_connections()  # wake handlers blocked on idle keep-alive reads
        httpd.server_close()
        httpd.join_handlers(timeout=5.0)
        if thread is not None:
            thread.join(timeout=5.0)
        self._httpd = self._thread = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
