"""The OpenAI provider reading what the server answers: a reply that is no chat completion is an
error naming what is wrong; a sparse one is read as empty."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from prometheus_client import REGISTRY

from runtime.ai import OpenAIProvider, ProviderInvalidOutput
from tests.support.fake_openai import FakeOpenAI

MESSAGES = [{"role": "user", "content": "What is on my last invoice?"}]


@pytest.fixture
async def provider(fake_openai: FakeOpenAI) -> AsyncIterator[OpenAIProvider]:
    made = OpenAIProvider(api_key="test-key", base_url=fake_openai.base_url, model="fake-model")
    yield made
    await made.aclose()


@pytest.mark.parametrize(
    ("body", "content_type", "named"),
    [
        (b'{"choices": [{"message": {"content": 42}}]}', "application/json", "choices.0.message"),
        (b'{"choices": "none"}', "application/json", "choices"),
        (b"[1, 2]", "application/json", "the body"),
        (b"<html>Bad gateway</html>", "text/html", "the body"),
    ],
)
async def test_a_reply_that_is_not_a_chat_completion_is_reported_naming_what_is_wrong(
    fake_openai: FakeOpenAI,
    provider: OpenAIProvider,
    body: bytes,
    content_type: str,
    named: str,
) -> None:
    fake_openai.respond_raw(body, content_type=content_type)
    labels = {"provider": "openai", "model": "fake-model", "outcome": "invalid_output"}
    invalid_before = REGISTRY.get_sample_value("ai_requests_total", labels) or 0.0

    with pytest.raises(ProviderInvalidOutput) as caught:
        await provider.complete(MESSAGES)

    assert str(caught.value).startswith(f"the provider's reply is not a chat completion: {named}")
    assert caught.value.text == body.decode()
    assert len(fake_openai.requests) == 1
    assert REGISTRY.get_sample_value("ai_requests_total", labels) == invalid_before + 1
    assert provider.breaker.fail_counter == 0


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": "x", "object": "chat.completion", "choices": []}',
        b'{"choices": [], "usage": {"prompt_tokens": null, "completion_tokens": null}}',
    ],
)
async def test_a_reply_without_usage_or_choices_is_an_empty_text_with_no_tokens(
    fake_openai: FakeOpenAI, provider: OpenAIProvider, body: bytes
) -> None:
    fake_openai.respond_raw(body)

    completion = await provider.complete(MESSAGES)

    assert (completion.text, completion.prompt_tokens, completion.completion_tokens) == ("", 0, 0)
    assert completion.model == "fake-model"
