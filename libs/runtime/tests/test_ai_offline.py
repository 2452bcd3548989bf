"""The offline stand-in, the provider factory, the AI settings and the small JSON Schema helpers."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
from typing import Any

import pytest

from runtime.ai import OfflineProvider, OpenAIProvider, provider_from_settings
from runtime.ai.schema import example_for, schema_errors
from runtime.settings import CommonSettings, SettingsError, load_settings

MESSAGES = [
    {"role": "system", "content": "You are the Agent Studio spec coach."},
    {"role": "user", "content": "Answer invoice questions and explain invoice refunds politely."},
]

BLOCK_SCHEMA: dict[str, Any] = {
    "title": "Blocks",
    "type": "object",
    "properties": {
        "persona": {"$ref": "#/$defs/persona"},
        "mission": {"type": "string", "maxLength": 40},
        "priority": {"type": "integer", "minimum": 1, "maximum": 5},
        "score": {"type": "number"},
        "strict": {"type": "boolean"},
        "tone": {"type": "string", "enum": ["formal", "friendly"]},
        "examples": {"type": "array", "items": {"type": "string"}, "minItems": 2},
        "notes": {"type": ["string", "null"]},
        "updated": {"type": "string", "format": "date-time"},
        "kind": {"const": "spec"},
        "code": {"type": "string", "minLength": 200},
    },
    "required": ["persona", "mission", "priority", "examples", "kind"],
    "additionalProperties": False,
    "$defs": {
        "persona": {
            "type": "object",
            "properties": {"role": {"type": "string"}, "traits": {"type": "array"}},
            "required": ["role", "traits"],
            "additionalProperties": False,
        }
    },
}


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a connection fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the offline provider opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(asyncio.BaseEventLoop, "create_connection", refuse)


class TestFactory:
    def test_offline_is_the_default_when_no_key_is_set(self) -> None:
        provider = provider_from_settings(load_settings(CommonSettings, "compiler", {}))

        assert isinstance(provider, OfflineProvider)
        assert provider.name == "offline"
        assert provider.breaker_state == "closed"
        assert provider.is_available()

    def test_a_key_selects_openai_with_the_ai_settings(self) -> None:
        env = {
            "OPENAI_API_KEY": "sk-test",
            "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
            "COMPILER_AI_TIMEOUT_SECONDS": "7",
            "AI_MAX_ATTEMPTS": "2",
            "AI_BREAKER_FAIL_MAX": "3",
            "AI_BREAKER_RESET_SECONDS": "9",
        }
        provider = provider_from_settings(load_settings(CommonSettings, "compiler", env))

        assert isinstance(provider, OpenAIProvider)
        assert (provider.name, provider.model, provider.timeout) == ("openai", "gpt-4o-mini", 7.0)
        assert provider.retry.max_attempts == 2
        assert provider.breaker.reset_timeout == 9.0

    def test_offline_wins_when_asked_for_even_with_a_key(self) -> None:
        env = {"AI_PROVIDER": "offline", "OPENAI_API_KEY": "sk-test"}

        provider = provider_from_settings(load_settings(CommonSettings, "compiler", env))

        assert isinstance(provider, OfflineProvider)

    def test_openai_without_a_key_is_a_settings_error_naming_the_key(self) -> None:
        settings = load_settings(CommonSettings, "compiler", {"AI_PROVIDER": "openai"})

        with pytest.raises(SettingsError, match="OPENAI_API_KEY"):
            provider_from_settings(settings)


class TestSettings:
    def test_ai_settings_have_their_defaults(self) -> None:
        settings = load_settings(CommonSettings, "compiler", {})

        assert settings.ai_timeout_seconds == 30.0
        assert settings.ai_max_attempts == 4
        assert settings.ai_retry_deadline_seconds == 60.0
        assert settings.ai_retry_max_wait_seconds == 20.0
        assert settings.ai_breaker_fail_max == 5
        assert settings.ai_breaker_reset_seconds == 60.0

    @pytest.mark.parametrize(
        ("name", "value"),
        [("AI_MAX_ATTEMPTS", "0"), ("AI_TIMEOUT_SECONDS", "0"), ("AI_BREAKER_FAIL_MAX", "0")],
    )
    def test_out_of_bounds_ai_settings_are_refused_by_name(self, name: str, value: str) -> None:
        with pytest.raises(SettingsError, match=f"setting {name} is invalid"):
            load_settings(CommonSettings, "compiler", {name: value})


@pytest.mark.usefixtures("no_network")
class TestOfflineProvider:
    async def test_results_are_labelled_offline_and_derived_from_the_prompt(self) -> None:
        completion = await OfflineProvider().complete(MESSAGES)

        assert (completion.provider, completion.offline, completion.model) == (
            "offline",
            True,
            "offline",
        )
        lines = completion.text.splitlines()
        assert lines[0].startswith("[offline] ")
        assert lines[1] == f"Request: {MESSAGES[1]['content']}"
        assert lines[2] == "Key terms: invoice, answer, explain, politely, questions"
        assert lines[3] == "Context: 1 system message(s) of 36 characters, 2 message(s) in all."
        assert completion.prompt_tokens == 17
        assert completion.completion_tokens > 20

    async def test_the_same_messages_give_the_same_completion(self) -> None:
        provider = OfflineProvider()

        first = await provider.complete(MESSAGES)
        second = await OfflineProvider().complete([dict(m) for m in MESSAGES])
        other = await provider.complete([*MESSAGES[:1], {"role": "user", "content": "Other."}])

        assert dataclasses.replace(first, latency_ms=0) == dataclasses.replace(second, latency_ms=0)
        assert other.text != first.text

    async def test_a_json_schema_gets_a_deterministic_valid_instance(self) -> None:
        provider = OfflineProvider()

        completion = await provider.complete(MESSAGES, json_schema=BLOCK_SCHEMA)
        again = await provider.complete(MESSAGES, json_schema=BLOCK_SCHEMA)

        value = completion.json()
        assert completion.offline
        assert again.text == completion.text
        assert schema_errors(value, BLOCK_SCHEMA) == []
        assert value["persona"] == {
            "role": "persona.role: Answer invoice questions and explain invoice refunds politely.",
            "traits": [
                "persona.traits: Answer invoice questions and explain invoice refunds politely."
            ],
        }
        assert value["mission"] == "mission: Answer invoice questions and ex"
        assert (value["priority"], value["score"], value["strict"]) == (1, 0.0, False)
        assert (value["tone"], value["kind"], value["notes"]) == (
            "formal",
            "spec",
            "notes: " + MESSAGES[1]["content"],
        )
        assert len(value["examples"]) == 2
        assert value["updated"] == "2000-01-01T00:00:00Z"
        assert len(value["code"]) == 200

    async def test_stream_yields_the_completion_text_word_by_word(self) -> None:
        provider = OfflineProvider()

        deltas = [delta async for delta in provider.stream(MESSAGES)]

        assert "".join(deltas) == (await provider.complete(MESSAGES)).text
        assert len(deltas) > 10


class TestSchemaErrors:
    """The checker the offline tests rely on must itself catch what it claims to."""

    @pytest.mark.parametrize(
        ("value", "error"),
        [
            ({"role": "x"}, "$: 'traits' is a required property"),
            ({"role": 1, "traits": []}, "$.role: 1 is not of type 'string'"),
            (
                {"role": "x", "traits": [], "extra": 1},
                "$: Additional properties are not allowed ('extra' was unexpected)",
            ),
            ({"role": "x", "traits": "no"}, "$.traits: 'no' is not of type 'array'"),
            ([], "$: [] is not of type 'object'"),
        ],
    )
    def test_violations_are_reported_with_their_path(self, value: Any, error: str) -> None:
        assert schema_errors(value, BLOCK_SCHEMA["$defs"]["persona"]) == [error]

    def test_bounds_enums_and_refs_are_checked(self) -> None:
        value = example_for(BLOCK_SCHEMA, "text")
        broken = {**value, "priority": 9, "tone": "grumpy", "examples": ["one"], "persona": {}}

        errors = schema_errors(json.loads(json.dumps(broken)), BLOCK_SCHEMA)

        assert errors == [
            "$.persona: 'role' is a required property",
            "$.persona: 'traits' is a required property",
            "$.priority: 9 is greater than the maximum of 5",
            "$.tone: 'grumpy' is not one of ['formal', 'friendly']",
            "$.examples: ['one'] is too short",
        ]

    def test_one_of_means_exactly_one(self) -> None:
        schema = {"oneOf": [{"type": "integer"}, {"type": "number"}]}

        assert schema_errors(1.5, schema) == []
        assert schema_errors(1, schema) == [
            "$: 1 is valid under each of {'type': 'number'}, {'type': 'integer'}"
        ]
