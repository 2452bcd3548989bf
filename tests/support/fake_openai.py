"""A real OpenAI-compatible HTTP server on 127.0.0.1 for tests, scripted per test.

`fake_openai` (a function-scoped fixture) starts one on a free port in a background thread and
yields it: point a client at `.base_url` (ends in `/v1`), script failures and replies, and read
`.requests`. It serves `POST /v1/chat/completions` (JSON, or SSE chunks ending `data: [DONE]` when
`stream` is true) and `POST /v1/embeddings`. Without a script it answers `echo: <last user message>`,
or, for a `json_schema` response format, a JSON instance of the schema.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import re
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from runtime.ai.schema import example_for
from tests.support.waiting import eventually

Reply = str | Callable[[dict[str, Any]], str]
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it; `at` is `time.monotonic()` on arrival."""

    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    at: float

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))


@dataclass
class _Step:
    status: int
    times: int
    reply: Reply | None = None
    message: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    usage: tuple[int, int] | None = None
    latency: float | None = None
    raw: bytes | None = None  # a body sent as it is (a provider answering 200 with something else)


class FakeOpenAI:
    """The server's script and record. Scripted steps apply, in order, to requests on any path."""

    def __init__(self) -> None:
        self.base_url = ""
        self.requests: list[RecordedRequest] = []
        self.latency = 0.0
        self.usage: tuple[int, int] | None = None
        self._reply: Reply | None = None
        self._script: deque[_Step] = deque()
        self._lock = threading.Lock()
        self._closing = asyncio.Event()
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/embeddings", self._embeddings, methods=["POST"]),
            ]
        )

    def fail(
        self,
        status: int = 500,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        message: str | None = None,
        latency: float | None = None,
    ) -> None:
        """Answer the next `times` requests with `status` and an OpenAI-shaped error body."""
        message = message or f"fake failure {status}"
        self._add(_Step(status, times, message=message, headers=headers or {}, latency=latency))

    def respond(
        self,
        reply: Reply | None = None,
        *,
        times: int = 1,
        usage: tuple[int, int] | None = None,
        latency: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next `times` requests successfully, with `reply` (text, or text of the body)."""
        self._add(_Step(200, times, reply, None, headers or {}, usage, latency))

    def respond_raw(self, body: bytes, *, content_type: str = "application/json") -> None:
        """Answer the next request 200 with `body` as it is, whatever it holds."""
        self._add(_Step(200, 1, headers={"content-type": content_type}, raw=body))

    def reply_with(self, reply: Reply) -> None:
        """The reply once the script is used up: fixed text, or a function of the request body."""
        self._reply = reply

    def recover(self) -> None:
        """Forget the rest of the script: every request succeeds from now on."""
        with self._lock:
            self._script.clear()

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def _add(self, step: _Step) -> None:
        with self._lock:
            self._script.append(step)

    def _next_step(self) -> _Step:
        with self._lock:
            if not self._script:
                return _Step(200, 1)
            step = self._script[0]
            step.times -= 1
            if step.times <= 0:
                self._script.popleft()
            return step

    async def _receive(self, request: Request) -> tuple[dict[str, Any], _Step]:
        body = json.loads(await request.body() or b"{}")
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.requests.append(RecordedRequest(request.url.path, body, headers, time.monotonic()))
        step = self._next_step()
        latency = self.latency if step.latency is None else step.latency
        if latency > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), latency)
        return body, step

    async def _chat(self, request: Request) -> Response:
        body, step = await self._receive(request)
        if step.status >= 300:
            return _error(step)
        if step.raw is not None:
            return Response(step.raw, headers=step.headers)
        text = self._text(step.reply, body)
        prompt, completion = step.usage or self.usage or _usage(body, text)
        model = str(body.get("model", "fake-model"))
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            usage = (prompt, completion) if include_usage else None
            events = _sse(model, text, usage)
            return StreamingResponse(events, media_type="text/event-stream", headers=step.headers)
        return JSONResponse(
            {
                "id": f"chatcmpl-fake-{len(self.requests)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text, "refusal": None},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": _usage_body(prompt, completion),
            },
            headers=step.headers,
        )

    async def _embeddings(self, request: Request) -> Response:
        body, step = await self._receive(request)
        if step.status >= 300:
            return _error(step)
        inputs = body.get("input", "")
        texts = [inputs] if isinstance(inputs, str) else [str(i) for i in inputs]
        dimensions = int(body.get("dimensions") or 8)
        as_base64 = body.get("encoding_format") == "base64"  # the SDK asks for it by default
        data = [
            {"object": "embedding", "index": i, "embedding": _vector(text, dimensions, as_base64)}
            for i, text in enumerate(texts)
        ]
        tokens = sum(_words(text) for text in texts)
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": body.get("model", "fake-embedding"),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
            headers=step.headers,
        )

    def _text(self, reply: Reply | None, body: dict[str, Any]) -> str:
        chosen = reply if reply is not None else self._reply
        if isinstance(chosen, str):
            return chosen
        if chosen is not None:
            return chosen(body)
        messages: list[dict[str, Any]] = body.get("messages", [])
        content = next(
            (str(m.get("content", "")) for m in reversed(messages) if m.get("role") == "user"), ""
        )
        response_format = body.get("response_format") or {}
        if response_format.get("type") == "json_schema":
            schema = response_format["json_schema"]["schema"]
            return json.dumps(example_for(schema, content))
        return f"echo: {content}"


def _error(step: _Step) -> Response:
    error = {
        "message": step.message,
        "type": ERROR_TYPES.get(step.status, "server_error"),
        "param": None,
        "code": None,
    }
    return JSONResponse({"error": error}, status_code=step.status, headers=step.headers)


async def _sse(model: str, text: str, usage: tuple[int, int] | None) -> AsyncIterator[str]:
    def chunk(choices: list[dict[str, Any]], **extra: Any) -> str:
        payload = {
            "id": "chatcmpl-fake-stream",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "choices": choices,
            **extra,
        }
        return f"data: {json.dumps(payload)}\n\n"

    yield chunk(
        [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]
    )
    for piece in re.findall(r"\S+\s*|\s+", text):
        yield chunk([{"index": 0, "delta": {"content": piece}, "finish_reason": None}])
    yield chunk([{"index": 0, "delta": {}, "finish_reason": "stop"}])
    if usage is not None:
        yield chunk([], usage=_usage_body(*usage))
    yield "data: [DONE]\n\n"


def _usage(body: dict[str, Any], text: str) -> tuple[int, int]:
    prompt = sum(_words(str(m.get("content", ""))) for m in body.get("messages", []))
    return prompt, _words(text)


def _usage_body(prompt: int, completion: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _words(text: str) -> int:
    return len(text.split())


def _vector(text: str, dimensions: int, as_base64: bool) -> list[float] | str:
    digest = b""
    while len(digest) < dimensions:
        digest += hashlib.sha256(digest + text.encode()).digest()
    vector = [byte / 128 - 1 for byte in digest[:dimensions]]  # exact in float32
    if as_base64:
        return base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
    return vector


@contextlib.contextmanager
def running_fake_openai() -> Iterator[FakeOpenAI]:
    """Serve a fresh `FakeOpenAI` on a free loopback port until the block ends."""
    fake = FakeOpenAI()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        fake.app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(
        target=loop.run_until_complete, args=(server.serve(sockets=[sock]),), daemon=True
    )
    thread.start()
    try:
        eventually(
            lambda: server.started or not thread.is_alive(),
            interval=0.005,
            what="the fake OpenAI server starting",
        )
        if not server.started:
            raise RuntimeError("the fake OpenAI server stopped before it started")
        fake.base_url = f"http://127.0.0.1:{port}/v1"
        yield fake
    finally:
        loop.call_soon_threadsafe(fake._closing.set)  # cut scripted latencies short
        server.should_exit = True
        thread.join(timeout=10)
        loop.close()
        sock.close()


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A fresh fake OpenAI-compatible server for one test."""
    with running_fake_openai() as fake:
        yield fake
