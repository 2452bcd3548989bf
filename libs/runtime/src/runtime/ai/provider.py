"""The OpenAI-compatible provider: the official SDK behind one retry layer and a circuit breaker.

One logical call is `breaker.guard()` around `RetryPolicy.run()` around single SDK requests
(`max_retries=0`, a timeout on each): the breaker samples whole calls, never attempts.

The SDK is imported once the service is ready (`runtime.heap`), not at import: it is a second of
CPU that every service's start would otherwise pay before it is ready (an SDK error implies the SDK
is loaded, so the `import openai` in the error paths costs nothing).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import asynccontextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

from opentelemetry.trace import SpanKind, Status, StatusCode, get_current_span, use_span
from pydantic import BaseModel, ValidationError

from runtime import heap
from runtime.ai.base import (
    Completion,
    Message,
    ProviderInvalidOutput,
    ProviderName,
    ProviderRejected,
    ProviderUnavailable,
)
from runtime.ai.breaker import Breaker, CircuitOpen
from runtime.ai.metrics import ai_estimated_cost, ai_request_duration, ai_requests, ai_tokens
from runtime.ai.retry import (
    RetryPolicy,
    counts_against_breaker,
    is_client_error,
    retry_after_seconds,
)
from runtime.ai.schema import schema_errors
from runtime.observability import tracer
from runtime.pricing import DEFAULT_PRICES, ModelPrice, estimated_cost

if TYPE_CHECKING:
    import openai
    from openai import AsyncOpenAI
    from openai.types.chat import ChatCompletionMessageParam


class OpenAIProvider:
    """Chat completions from any OpenAI-compatible server at `base_url`."""

    name: ProviderName = "openai"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None,
        model: str,
        embedding_model: str = "text-embedding-3-small",
        timeout: float = 30.0,
        max_attempts: int = 4,
        retry_deadline: float = 60.0,
        retry_max_wait: float = 20.0,
        breaker_fail_max: int = 5,
        breaker_reset: float = 60.0,
        backoff_multiplier: float = 0.5,
        breaker_name: str = "openai",
        prices: Mapping[str, ModelPrice] = DEFAULT_PRICES,
    ) -> None:
        # Loaded once the service is ready rather than at its first call, so the SDK is in the
        # heap frozen out of the collector's scans (runtime.heap).
        heap.load_after_ready("openai", "openai.types.chat", "pybreaker")
        self.model = model
        self.prices = prices
        self.embedding_model = embedding_model
        self.timeout = timeout
        self._api_key = api_key
        self._base_url = base_url
        self.retry = RetryPolicy(
            max_attempts=max_attempts,
            deadline=retry_deadline,
            max_wait=retry_max_wait,
            backoff_multiplier=backoff_multiplier,
        )
        self.breaker = Breaker(
            breaker_name,
            fail_max=breaker_fail_max,
            reset_timeout=breaker_reset,
            is_failure=counts_against_breaker,
        )

    @cached_property
    def _client(self) -> AsyncOpenAI:
        from openai import AsyncOpenAI, DefaultAioHttpClient

        return AsyncOpenAI(
            api_key=self._api_key,
            base_url=self._base_url,
            max_retries=0,
            timeout=self.timeout,
            # aiohttp under the SDK: half the CPU per call of its default transport (measured:
            # 0.85 vs 1.8 ms), which bounds how many test cases a replica runs per second.
            http_client=DefaultAioHttpClient(timeout=self.timeout),
        )

    @cached_property
    def _chat_completions_url(self) -> str:
        """Absolute, so the SDK takes it as it is rather than joining a path to its base URL on
        every call (a URL parsed and copied: 24 of the 160 µs the SDK took to build a request)."""
        return str(self._client.base_url.join("chat/completions"))

    @property
    def breaker_state(self) -> str:
        return self.breaker.state

    def is_available(self) -> bool:
        return self.breaker.is_available()

    async def complete(
        self,
        messages: list[Message],
        *,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        json_schema: dict[str, Any] | None = None,
    ) -> Completion:
        """One reply. With `json_schema`, a strict structured output checked against the schema."""
        model = model or self.model
        started = time.monotonic()
        body: dict[str, Any] = {"model": model, "messages": messages}
        if temperature is not None:
            body["temperature"] = temperature
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        if json_schema is not None:
            body["response_format"] = response_format_for(json_schema)
        async with self._observed(model):
            # The SDK's generic `post` (its documented way to send a body as is): the typed
            # `chat.completions.create` walks every message through its TypedDict transform,
            # which cost a third of the test-runner's CPU per case, for a body that is plain JSON.
            # The reply comes back as bytes and is read by `ChatReply` alone: the SDK's own
            # `ChatCompletion` is built field by field in Python (a sixth of a call's CPU), and
            # without checking the types, so a malformed reply would surface later as a bad text.
            raw: bytes = await self.retry.run(
                lambda: self._client.post(
                    self._chat_completions_url,
                    body=body,
                    cast_to=bytes,
                    options={"timeout": self.timeout},
                )
            )
            response = _chat_reply(raw)
            usage = response.usage
            prompt_tokens = (usage.prompt_tokens or 0) if usage else 0
            completion_tokens = (usage.completion_tokens or 0) if usage else 0
            self._count_tokens(model, prompt_tokens, completion_tokens)  # spent even if bad JSON
            text = _reply_text(response, json_schema)
        return Completion(
            text=text,
            model=response.model or model,
            provider="openai",
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            latency_ms=(time.monotonic() - started) * 1000,
            offline=False,
        )

    async def stream(
        self,
        messages: list[Message],
        *,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> AsyncGenerator[str, None]:
        """The reply's text deltas. Only opening the stream is retried; a break mid-way is raised."""
        from openai import omit

        model = model or self.model
        async with self._observed(model):
            chunks = await self.retry.run(
                lambda: self._client.chat.completions.create(
                    messages=cast("list[ChatCompletionMessageParam]", messages),
                    model=model,
                    temperature=omit if temperature is None else temperature,
                    max_tokens=omit if max_tokens is None else max_tokens,
                    stream=True,
                    stream_options={"include_usage": True},
                    timeout=self.timeout,
                )
            )
            async with chunks:
                async for chunk in chunks:
                    if chunk.usage is not None:
                        self._count_tokens(
                            model, chunk.usage.prompt_tokens, chunk.usage.completion_tokens
                        )
                    for choice in chunk.choices:
                        if choice.delta.content:
                            yield choice.delta.content

    async def embed(self, texts: list[str], *, model: str | None = None) -> list[list[float]]:
        """One vector per text, through the same breaker and retries as chat calls."""
        model = model or self.embedding_model
        async with self._observed(model):
            response = await self.retry.run(
                lambda: self._client.embeddings.create(
                    input=texts, model=model, encoding_format="float", timeout=self.timeout
                )
            )
            if response.usage is not None:
                self._count_tokens(model, response.usage.prompt_tokens, 0)
        ordered = sorted(response.data, key=lambda item: item.index)
        return [list(item.embedding) for item in ordered]

    async def aclose(self) -> None:
        if "_client" in self.__dict__:  # never built: nothing was called
            await self._client.close()

    def _count_tokens(self, model: str, prompt: int, completion: int) -> None:
        span = get_current_span()
        span.set_attribute("gen_ai.usage.input_tokens", prompt)
        span.set_attribute("gen_ai.usage.output_tokens", completion)
        ai_tokens.labels(model, "prompt").inc(prompt)
        ai_tokens.labels(model, "completion").inc(completion)
        cost = estimated_cost(self.prices, model, prompt, completion)
        if cost is not None:
            ai_estimated_cost.labels(model).inc(cost)

    @asynccontextmanager
    async def _observed(self, model: str) -> AsyncIterator[None]:
        """One logical call: a client span, guarded by the breaker, counted, and its failures
        made typed."""
        import openai

        started = time.monotonic()
        outcome = "unavailable"
        span = tracer().start_span(
            f"chat {model}",
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.system": "openai",
                "gen_ai.request.model": model,
            },
        )
        try:
            with use_span(span, set_status_on_exception=False):
                async with self.breaker.guard():
                    yield
            outcome = "ok"
        except CircuitOpen:
            outcome = "circuit_open"
            raise
        except ProviderInvalidOutput:
            outcome = "invalid_output"
            raise
        except (asyncio.CancelledError, GeneratorExit):
            outcome = "cancelled"
            raise
        except openai.APIStatusError as exc:
            if is_client_error(exc):
                outcome = "rejected"
                raise ProviderRejected(exc.status_code, _message(exc)) from exc
            raise ProviderUnavailable(_message(exc), retry_after=retry_after_seconds(exc)) from exc
        except openai.OpenAIError as exc:
            raise ProviderUnavailable(_message(exc)) from exc
        finally:
            span.set_attribute("studio.ai.outcome", outcome)
            if outcome != "ok":
                span.set_status(Status(StatusCode.ERROR, outcome))
            span.end()
            ai_requests.labels(self.name, model, outcome).inc()
            if outcome != "circuit_open":
                ai_request_duration.labels(self.name, model).observe(time.monotonic() - started)


def response_format_for(json_schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's strict structured-output `response_format`, named after the schema's title."""
    name = re.sub(r"[^A-Za-z0-9_-]", "_", str(json_schema.get("title") or "response"))[:64]
    return {
        "type": "json_schema",
        "json_schema": {"name": name, "schema": json_schema, "strict": True},
    }


class ReplyMessage(BaseModel):
    content: str | None = None
    refusal: str | None = None


class ReplyChoice(BaseModel):
    message: ReplyMessage | None = None


class ReplyUsage(BaseModel):
    # Some OpenAI-compatible servers send null counts: counted as 0 rather than failing a reply.
    prompt_tokens: int | None = 0
    completion_tokens: int | None = 0


class ChatReply(BaseModel):
    """What Agent Studio reads of a chat completion; every other field is ignored."""

    model: str | None = None
    choices: list[ReplyChoice] = []
    usage: ReplyUsage | None = None


def _chat_reply(raw: bytes) -> ChatReply:
    try:
        return ChatReply.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the body"
        raise ProviderInvalidOutput(
            f"the provider's reply is not a chat completion: {where}: {first['msg']}",
            raw[:2000].decode(errors="replace"),
        ) from None


def _reply_text(response: ChatReply, json_schema: dict[str, Any] | None) -> str:
    message = response.choices[0].message if response.choices else None
    text = (message.content if message else None) or ""
    if json_schema is None:
        return text
    if message is not None and message.refusal:
        raise ProviderInvalidOutput(f"the model refused: {message.refusal}", text)
    try:
        value = json.loads(text)
    except ValueError:
        raise ProviderInvalidOutput("the model's reply is not JSON", text) from None
    errors = schema_errors(value, json_schema)
    if errors:
        raise ProviderInvalidOutput(
            "the model's JSON breaks the schema: " + "; ".join(errors[:5]), text
        )
    return text


def _message(exc: openai.OpenAIError) -> str:
    import openai

    if isinstance(exc, openai.APIError) and isinstance(exc.body, dict):
        message = exc.body.get("message")
        if isinstance(message, str) and message:
            return message
    return str(exc)
