"""The OpenAI provider over real HTTP to the fake server: retries, the breaker, timeouts, JSON, streams."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import openai
import pytest
from prometheus_client import REGISTRY

from runtime.ai import (
    CircuitOpen,
    Completion,
    OpenAIProvider,
    ProviderInvalidOutput,
    ProviderRejected,
    ProviderUnavailable,
    provider_from_settings,
)
from runtime.settings import CommonSettings
from tests.support.fake_openai import FakeOpenAI
from tests.support.waiting import eventually_async

MESSAGES = [
    {"role": "system", "content": "You are the Agent Studio spec coach. Answer in one sentence."},
    {"role": "user", "content": "Draft a persona for a billing support agent."},
]
MakeProvider = Callable[..., OpenAIProvider]


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
async def make_provider(fake_openai: FakeOpenAI) -> AsyncIterator[MakeProvider]:
    """Providers built by `provider_from_settings` against the fake; fast retries unless overridden."""
    made: list[OpenAIProvider] = []

    def make(**overrides: Any) -> OpenAIProvider:
        values: dict[str, Any] = {
            "ai_provider": "openai",
            "openai_api_key": "test-key",
            "openai_base_url": fake_openai.base_url,
            "ai_model": "fake-model",
            "ai_timeout_seconds": 5,
            "ai_retry_deadline_seconds": 10,
            "ai_retry_max_wait_seconds": 0.05,
            **overrides,
        }
        provider = provider_from_settings(CommonSettings.model_validate(values))
        assert isinstance(provider, OpenAIProvider)
        made.append(provider)
        return provider

    yield make
    for provider in made:
        await provider.aclose()


async def test_a_completion_returns_the_servers_text_model_and_token_usage(
    fake_openai: FakeOpenAI,
    make_provider: MakeProvider,
) -> None:
    provider = make_provider()
    fake_openai.respond("A patient billing specialist.", usage=(21, 5))
    prompt_before = metric("ai_tokens_total", model="fake-model", kind="prompt")
    ok_before = metric("ai_requests_total", provider="openai", model="fake-model", outcome="ok")

    completion = await provider.complete(MESSAGES, temperature=0.2, max_tokens=64)

    assert completion.text == "A patient billing specialist."
    assert completion.model == "fake-model"
    assert (completion.provider, completion.offline) == ("openai", False)
    assert (completion.prompt_tokens, completion.completion_tokens) == (21, 5)
    assert completion.latency_ms > 0
    [request] = fake_openai.requests
    assert request.path == "/v1/chat/completions"
    assert request.messages == MESSAGES
    assert request.body["model"] == "fake-model"
    assert (request.body["temperature"], request.body["max_tokens"]) == (0.2, 64)
    assert "response_format" not in request.body
    assert request.headers["authorization"] == "Bearer test-key"
    assert metric("ai_tokens_total", model="fake-model", kind="prompt") == prompt_before + 21
    assert metric("ai_requests_total", provider="openai", model="fake-model", outcome="ok") == (
        ok_before + 1
    )


async def test_the_estimated_cost_follows_the_tokens_and_the_price_table(
    fake_openai: FakeOpenAI,
    make_provider: MakeProvider,
) -> None:
    provider = make_provider(ai_prices={"fake-model": (1.0, 4.0)})
    fake_openai.respond("A patient billing specialist.", usage=(2000, 500))
    before = metric("ai_estimated_cost_usd_total", model="fake-model")

    await provider.complete(MESSAGES)

    assert metric("ai_estimated_cost_usd_total", model="fake-model") == pytest.approx(
        before + (2000 * 1.0 + 500 * 4.0) / 1_000_000
    )


async def test_a_model_the_price_table_does_not_know_costs_nothing_but_still_counts_tokens(
    fake_openai: FakeOpenAI,
    make_provider: MakeProvider,
) -> None:
    provider = make_provider(ai_model="unpriced-model")
    fake_openai.respond("ok", usage=(10, 1))

    await provider.complete(MESSAGES)

    assert metric("ai_tokens_total", model="unpriced-model", kind="prompt") >= 10
    assert (
        REGISTRY.get_sample_value("ai_estimated_cost_usd_total", {"model": "unpriced-model"})
        is None
    )


async def test_a_429_is_retried_after_the_retry_after_the_server_asked_for(
    fake_openai: FakeOpenAI,
    make_provider: MakeProvider,
) -> None:
    provider = make_provider(ai_retry_max_wait_seconds=5)
    fake_openai.fail(429, headers={"Retry-After": "1"})
    retries_before = metric("ai_retries_total", reason="429")

    completion = await provider.complete(MESSAGES)

    assert completion.text == "echo: Draft a persona for a billing support agent."
    first, second = fake_openai.requests
    assert 0.9 <= second.at - first.at < 1.8
    assert metric("ai_retries_total", reason="429") == retries_before + 1
    assert provider.breaker.fail_counter == 0


async def test_retry_after_ms_is_preferred_and_long_waits_are_clamped_to_the_maximum(
    fake_openai: FakeOpenAI,
    make_provider: MakeProvider,
) -> None:
    provider = make_provider(ai_retry_max_wait_seconds=0.5)
    fake_openai.fail(503, headers={"retry-after-ms": "200", "Retry-After": "30"})
    fake_openai.fail(429, headers={"Retry-After": "120"})

    await provider.complete(MESSAGES)

    first, second, third = fake_openai.requests
    assert 0.18 <= second.at - first.at < 0.45
    assert 0.45 <= third.at - second.at < 1.0


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_client_errors_are_not_retried_and_never_count_against_the_breaker(
    fake_openai: FakeOpenAI,
    make_provider: MakeProvider,
    status: int,
) -> None:
    provider = make_provider(ai_breaker_fail_max=2)
    fake_openai.fail(status, times=3, message="model 'nope' does not exist")

    for _ in range(3):
        with pytest.raises(ProviderRejected) as caught:
            await provider.complete(MESSAGES)
        assert caught.value.status == status
        assert caught.value.message == "model 'nope' does not exist"

    assert len(fake_openai.requests) == 3
    assert provider.breaker.fail_counter == 0
    assert provider.breaker_state == "closed"


async def test_transient_errors_are_retried_within_one_breaker_sample(
    fake_openai: FakeOpenAI,
    make_provider: MakeProvider,
) -> None:
    provider = make_provider(ai_max_attempts=3)
    fake_openai.fail(502, times=2)
    retries_before = metric("ai_retries_total", reason="5xx")

    completion = await provider.complete(MESSAGES)

    assert completion.text.startswith("echo: ")
    assert len(fake_openai.requests) == 3
    assert metric("ai_retries_total", reason="5xx") == retries_before + 2
    assert provider.breaker.fail_counter == 0

    fake_openai.fail(503, times=3, message="the model is overloaded")
    with pytest.raises(ProviderUnavailable) as caught:
        await provider.complete(MESSAGES)
    assert caught.value.reason == "the model is overloaded"
    assert len(fake_openai.requests) == 6
    assert provider.breaker.fail_counter == 1


async def test_five_failed_calls_open_the_breaker_and_the_next_fails_fast_without_a_request(
    fake_openai: FakeOpenAI,
    make_provider: MakeProvider,
) -> None:
    provider = make_provider(ai_max_attempts=1, ai_breaker_reset_seconds=60)
    fake_openai.fail(500, times=10, message="upstream exploded")
    opened_before = metric("circuit_breaker_transitions_total", breaker="openai", to_state="open")
    rejected_before = metric("circuit_breaker_rejections_total", breaker="openai")

    for _ in range(5):
        with pytest.raises(ProviderUnavailable) as caught:
            await provider.complete(MESSAGES)
        assert not isinstance(caught.value, CircuitOpen)
        assert caught.value.reason == "upstream exploded"

    assert provider.breaker_state == "open"
    assert not provider.is_available()
    assert metric("circuit_breaker_state", breaker="openai", state="open") == 1
    assert metric("circuit_breaker_state", breaker="openai", state="closed") == 0
    assert metric("circuit_breaker_transitions_total", breaker="openai", to_state="open") == (
        opened_before + 1
    )
    with pytest.raises(CircuitOpen) as caught_open:
        await provider.complete(MESSAGES)
    assert isinstance(caught_open.value, ProviderUnavailable)
    assert caught_open.value.retry_after is not None
    assert 55 < caught_open.value.retry_after <= 60
    assert len(fake_openai.requests) == 5
    assert metric("circuit_breaker_rejections_total", breaker="openai") == rejected_before + 1


async def test_after_the_reset_timeout_one_probe_reaches_the_server_and_closes_the_breaker(
    fake_openai: FakeOpenAI,
    make_provider: MakeProvider,
) -> None:
    provider = make_provider(ai_max_attempts=1, ai_breaker_fail_max=2, ai_breaker_reset_seconds=1)
    fake_openai.fail(500, times=2)
    for _ in range(2):
        with pytest.raises(ProviderUnavailable):
            await provider.complete(MESSAGES)
    assert provider.breaker_state == "open"
    opened = time.monotonic()

    await eventually_async(provider.is_available, what="the breaker closing")
    assert time.monotonic() - opened >= 0.9
    fake_openai.latency = 0.3  # the probe is still in flight while the others arrive
    results = await asyncio.gather(
        *(provider.complete(MESSAGES) for _ in range(5)), return_exceptions=True
    )

    assert [type(r) for r in results].count(Completion) == 1
    assert [type(r) for r in results].count(CircuitOpen) == 4
    assert len(fake_openai.requests) == 3
    assert provider.breaker_state == "closed"
    assert metric("circuit_breaker_state", breaker="openai", state="closed") == 1
    fake_openai.latency = 0
    await provider.complete(MESSAGES)
    assert len(fake_openai.requests) == 4


async def test_a_failed_probe_opens_the_breaker_again(
    fake_openai: FakeOpenAI,
    make_provider: MakeProvider,
) -> None:
    provider = make_provider(ai_max_attempts=1, ai_breaker_fail_max=1, ai_breaker_reset_seconds=0.5)
    fake_openai.fail(500, times=2, message="still down")
    with pytest.raises(ProviderUnavailable):
        await provider.complete(MESSAGES)
    await eventually_async(provider.is_available, what="the breaker closing")

    with pytest.raises(ProviderUnavailable) as caught:
        await provider.complete(MESSAGES)

    assert caught.value.reason == "still down"
    assert provider.breaker_state == "open"
    with pytest.raises(CircuitOpen):
        await provider.complete(MESSAGES)
    assert len(fake_openai.requests) == 2


async def test_a_request_slower_than_the_timeout_is_retried_then_reported_unavailable(
    fake_openai: FakeOpenAI,
    make_provider: MakeProvider,
) -> None:
    provider = make_provider(ai_timeout_seconds=0.3, ai_max_attempts=2)
    fake_openai.latency = 5
    retries_before = metric("ai_retries_total", reason="timeout")
    started = time.monotonic()

    with pytest.raises(ProviderUnavailable) as caught:
        await provider.complete(MESSAGES)

    assert time.monotonic() - started < fake_openai.latency  # given up, not waited out
    assert "timed out" in caught.value.reason
    assert len(fake_openai.requests) == 2
    assert metric("ai_retries_total", reason="timeout") == retries_before + 1
    assert provider.breaker.fail_counter == 1


async def test_connection_errors_are_retried_then_reported_unavailable(
    make_provider: MakeProvider,
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the calls: nothing listens there
    provider = make_provider(openai_base_url=f"http://127.0.0.1:{port}/v1", ai_max_attempts=3)
    retries_before = metric("ai_retries_total", reason="connection")

    with pytest.raises(ProviderUnavailable):
        await provider.complete(MESSAGES)

    assert metric("ai_retries_total", reason="connection") == retries_before + 2


PERSONA_SCHEMA: dict[str, Any] = {
    "title": "Persona draft",
    "type": "object",
    "properties": {
        "role": {"type": "string"},
        "tone": {"type": "string", "enum": ["formal", "friendly"]},
        "skills": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["role", "tone", "skills"],
    "additionalProperties": False,
}


async def test_structured_output_sends_a_strict_json_schema_and_returns_the_parsed_object(
    fake_openai: FakeOpenAI,
    make_provider: MakeProvider,
) -> None:
    provider = make_provider()
    reply = {"role": "billing support agent", "tone": "friendly", "skills": ["refunds"]}
    fake_openai.respond(json.dumps(reply))

    completion = await provider.complete(MESSAGES, json_schema=PERSONA_SCHEMA)

    assert completion.json() == reply
    assert fake_openai.requests[0].body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "Persona_draft", "schema": PERSONA_SCHEMA, "strict": True},
    }


@pytest.mark.parametrize(
    "reply", ['{"role": "agent", "tone": "grumpy", "skills": []}', "Sure! Here is a persona."]
)
async def test_structured_output_that_breaks_the_schema_is_reported_and_not_retried(
    fake_openai: FakeOpenAI,
    make_provider: MakeProvider,
    reply: str,
) -> None:
    provider = make_provider()
    fake_openai.respond(reply)

    with pytest.raises(ProviderInvalidOutput) as caught:
        await provider.complete(MESSAGES, json_schema=PERSONA_SCHEMA)

    assert caught.value.text == reply
    assert len(fake_openai.requests) == 1
    assert provider.breaker.fail_counter == 0


async def test_stream_yields_the_servers_text_as_deltas_and_counts_tokens(
    fake_openai: FakeOpenAI,
    make_provider: MakeProvider,
) -> None:
    provider = make_provider()
    fake_openai.respond("Invoices are due in thirty days.", usage=(12, 6))
    completion_before = metric("ai_tokens_total", model="fake-model", kind="completion")

    deltas = [delta async for delta in provider.stream(MESSAGES, max_tokens=32)]

    assert "".join(deltas) == "Invoices are due in thirty days."
    assert len(deltas) == 6
    [request] = fake_openai.requests
    assert request.body["stream"] is True
    assert request.body["stream_options"] == {"include_usage": True}
    assert request.messages == MESSAGES
    assert metric("ai_tokens_total", model="fake-model", kind="completion") == completion_before + 6


async def test_stream_retries_a_failure_before_the_first_delta(
    fake_openai: FakeOpenAI,
    make_provider: MakeProvider,
) -> None:
    provider = make_provider()
    fake_openai.fail(500)
    fake_openai.respond("recovered")

    deltas = [delta async for delta in provider.stream(MESSAGES)]

    assert deltas == ["recovered"]
    assert len(fake_openai.requests) == 2
    assert provider.breaker.fail_counter == 0


async def test_a_stream_abandoned_half_way_does_not_count_as_a_failure(
    fake_openai: FakeOpenAI,
    make_provider: MakeProvider,
) -> None:
    provider = make_provider(ai_breaker_fail_max=1)
    fake_openai.respond("one two three four")

    deltas = provider.stream(MESSAGES)
    first = await anext(deltas)
    await deltas.aclose()

    assert first == "one "
    assert provider.breaker_state == "closed"
    assert (await provider.complete(MESSAGES)).text.startswith("echo: ")


async def test_the_fake_server_serves_deterministic_embeddings(
    fake_openai: FakeOpenAI,
) -> None:
    async with openai.AsyncOpenAI(api_key="test-key", base_url=fake_openai.base_url) as client:
        first = await client.embeddings.create(model="fake-embedding", input=["alpha", "beta"])
        second = await client.embeddings.create(model="fake-embedding", input=["alpha", "beta"])

    assert [len(d.embedding) for d in first.data] == [8, 8]
    assert first.data[0].embedding == second.data[0].embedding != first.data[1].embedding
    assert fake_openai.requests[0].path == "/v1/embeddings"
    assert fake_openai.requests[0].body["input"] == ["alpha", "beta"]
