"""A small scripted OpenAI-compatible server for tests: real HTTP on a free loopback port.

    def test_something(openai_server):
        openai_server.script(Reply("Hackers gain the upper hand [1]."), Status(500))
        ... OPENAI_BASE_URL = openai_server.url ...
        openai_server.requests[0].user_text   # what the client sent

Serves POST /v1/chat/completions, with and without "stream": true (server-sent
events, as OpenAI sends them). Each request takes the next scripted behaviour;
when the script runs out, the last one repeats (so `script(Status(500))` answers
500 forever). Every request is recorded, so tests can assert what was sent.

The `openai_server` fixture (registered in conftest.py) starts one per test and
stops it afterwards; `ScriptedOpenAIServer()` can also be used as a context manager.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

# ---- behaviours ------------------------------------------------------------------------


@dataclass
class Reply:
    """Answer with `text`, or with `text(request)` when it is a function of the request."""

    text: str | Callable[[RecordedRequest], str]
    finish_reason: str = "stop"

    def content(self, request: RecordedRequest) -> str:
        return self.text(request) if callable(self.text) else self.text


@dataclass
class Status:
    """An HTTP error: 500, 503, 429 (with Retry-After), 401..."""

    code: int
    retry_after: str | None = None
    message: str = "scripted error"


@dataclass
class Hang:
    """Read the request and never answer (until the server stops)."""


@dataclass
class BrokenStream:
    """Stream the first `chunks` words of `text`, then drop the connection mid-body.

    Without streaming, send half of the JSON body and drop the connection."""

    text: str
    chunks: int = 3


@dataclass
class Choose:
    """Pick the behaviour from the request: e.g. condensing calls one way, answers another."""

    pick: Callable[[RecordedRequest], Behaviour]


Behaviour = Reply | Status | Hang | BrokenStream | Choose


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: dict[str, Any]
    received_at: float = field(default_factory=time.monotonic)

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))

    @property
    def system_text(self) -> str:
        return "\n".join(str(m["content"]) for m in self.messages if m.get("role") == "system")

    @property
    def user_text(self) -> str:
        """The last user message: the sources and the question, for an answer request."""
        users = [str(m["content"]) for m in self.messages if m.get("role") == "user"]
        return users[-1] if users else ""

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    def source_numbers(self) -> dict[int, str]:
        """The numbered sources in the request: {n: text}, parsed from <source n="..."> tags."""
        found = re.findall(r'<source n="(\d+)"[^>]*>\n(.*?)\n</source>', self.user_text, re.S)
        return {int(n): text for n, text in found}

    def source_containing(self, phrase: str) -> int:
        """Number of the first source whose text contains phrase (for scripting answers)."""
        for n, text in self.source_numbers().items():
            if phrase in text:
                return n
        raise AssertionError(f"no source in the request contains {phrase!r}")


# ---- the server ------------------------------------------------------------------------


class ScriptedOpenAIServer:
    def __init__(self, model: str = "scripted-model") -> None:
        self.model = model
        self.requests: list[RecordedRequest] = []
        self.errors: list[str] = []  # scripting functions that raised
        self._script: list[Behaviour] = [Reply("I couldn't find this in the documents.")]
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The base URL for OPENAI_BASE_URL."""
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *behaviours: Behaviour) -> ScriptedOpenAIServer:
        with self._lock:
            self._script = list(behaviours)
        return self

    def answer_requests(self) -> list[RecordedRequest]:
        """Requests that asked for an answer (sources in the prompt), not condensing ones."""
        return [r for r in self.requests if "<sources>" in r.user_text]

    def start(self) -> ScriptedOpenAIServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases hanging handlers
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> ScriptedOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _next(self, request: RecordedRequest) -> Behaviour:
        with self._lock:
            self.requests.append(request)
            return self._script.pop(0) if len(self._script) > 1 else self._script[0]


def _handler_for(server: ScriptedOpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

        def do_GET(self) -> None:
            if self.path.rstrip("/").endswith("/models"):
                self._json(200, {"object": "list", "data": [{"id": server.model}]})
            else:
                self._json(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b"{}"
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._json(404, {"error": {"message": f"no route {self.path}"}})
                return
            headers = {name.lower(): value for name, value in self.headers.items()}
            request = RecordedRequest(self.path, headers, json.loads(raw))
            behaviour = server._next(request)
            try:
                while isinstance(behaviour, Choose):
                    behaviour = behaviour.pick(request)
                content = behaviour.content(request) if isinstance(behaviour, Reply) else ""
            except Exception as exc:  # a test's scripting bug: say so instead of hanging up
                server.errors.append(f"{type(exc).__name__}: {exc}")
                self._json(500, {"error": {"message": f"script failed: {exc}"}})
                return
            if isinstance(behaviour, Hang):
                server._stopping.wait()
                self.close_connection = True
            elif isinstance(behaviour, Status):
                headers = {"Retry-After": behaviour.retry_after} if behaviour.retry_after else {}
                error = {"message": behaviour.message, "type": "scripted", "code": None}
                self._json(behaviour.code, {"error": error}, headers)
            elif isinstance(behaviour, BrokenStream):
                self._broken(request, behaviour)
            elif request.stream:
                self._stream(content, behaviour.finish_reason)
            else:
                self._json(200, _completion(server.model, content))

        # ---- responses -------------------------------------------------------------

        def _json(self, code: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            body = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _start_events(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()

        def _event(self, payload: Any) -> None:
            data = payload if isinstance(payload, str) else json.dumps(payload)
            self._chunk(f"data: {data}\n\n".encode())

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def _stream(self, text: str, finish_reason: str) -> None:
            self._start_events()
            for piece in _pieces(text):
                self._event(_chunk_payload(server.model, piece, None))
            self._event(_chunk_payload(server.model, "", finish_reason))
            self._event("[DONE]")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        def _broken(self, request: RecordedRequest, behaviour: BrokenStream) -> None:
            if request.stream:
                self._start_events()
                for piece in list(_pieces(behaviour.text))[: behaviour.chunks]:
                    self._event(_chunk_payload(server.model, piece, None))
            else:
                body = json.dumps(_completion(server.model, behaviour.text)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
            # Drop the connection without finishing the body.
            self.close_connection = True
            self.connection.shutdown(2)

    return Handler


def _pieces(text: str) -> Iterator[str]:
    """Word-sized deltas, whitespace kept, as models stream them."""
    yield from re.findall(r"\s*\S+", text) or [text]


def _completion(model: str, text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }


def _chunk_payload(model: str, piece: str, finish_reason: str | None) -> dict[str, Any]:
    delta = {"content": piece} if piece else {}
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


@pytest.fixture
def openai_server() -> Iterator[ScriptedOpenAIServer]:
    """A started ScriptedOpenAIServer; script it with .script(...), read .requests."""
    with ScriptedOpenAIServer() as server:
        yield server
