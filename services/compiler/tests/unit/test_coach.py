"""The spec coach: its prompt, its schema, the check of a draft, and its answers (fake provider)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncGenerator
from typing import Any

import pytest

from compiler import coach
from compiler.handlers import handle_coach_block
from contracts.coach import BlockName, CoachBlockV1
from contracts.spec import SpecBlocks
from runtime.ai import (
    AIProvider,
    Completion,
    Message,
    ProviderName,
    ProviderRejected,
    ProviderUnavailable,
)


class FakeProvider:
    """Answers each call with the next scripted reply: a JSON-able object, or an exception."""

    def __init__(self, *replies: Any) -> None:
        self.replies = list(replies)
        self.calls: list[dict[str, Any]] = []

    @property
    def name(self) -> ProviderName:
        return "openai"

    @property
    def breaker_state(self) -> str:
        return "closed"

    def is_available(self) -> bool:
        return True

    async def complete(self, messages: list[Message], **options: Any) -> Completion:
        self.calls.append({"messages": messages, **options})
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return Completion(json.dumps(reply), "gpt-test", "openai", 10, 5, 3.0, False)

    async def stream(
        self,
        messages: list[Message],
        *,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> AsyncGenerator[str, None]:
        raise AssertionError("the coach never streams")
        yield ""

    async def embed(self, texts: list[str], *, model: str | None = None) -> list[list[float]]:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None


def as_protocol(fake: FakeProvider) -> AIProvider:
    return fake


def query(block: str = "workflow", blocks: dict[str, Any] | None = None) -> CoachBlockV1:
    return CoachBlockV1(
        agent_id=uuid.uuid4(),
        block=block,  # type: ignore[arg-type]
        guidance="keep it to three steps",
        blocks=blocks
        if blocks is not None
        else {"mission": {"problem": "Answer invoice questions"}},
    )


def test_the_draft_schema_is_the_block_schema_inlined_under_draft() -> None:
    schema = coach.draft_schema("workflow")
    assert schema["required"] == ["draft"]
    steps = schema["properties"]["draft"]["properties"]["steps"]
    assert steps["type"] == "array"
    assert "$ref" not in json.dumps(schema)
    assert coach.draft_schema("examples")["properties"]["draft"]["type"] == "array"


def test_the_prompt_carries_the_block_the_spec_and_the_guidance() -> None:
    messages = coach.messages(
        "workflow", {"mission": {"problem": "Answer invoices"}}, " three steps "
    )
    assert messages[0]["role"] == "system"
    user = messages[1]["content"]
    assert user.startswith("Block to draft: workflow (How it works through a request.)")
    assert '"problem": "Answer invoices"' in user
    assert user.endswith("The author's guidance: three steps")


def test_a_draft_that_does_not_fit_the_block_is_rejected_naming_the_field() -> None:
    with pytest.raises(coach.DraftRejected, match=r"workflow\.steps"):
        coach.checked_draft("workflow", {"draft": {"steps": "not a list"}})
    with pytest.raises(coach.DraftRejected, match="not of the form"):
        coach.checked_draft("workflow", ["find", "explain"])


async def test_a_good_answer_is_returned_as_a_draft() -> None:
    provider = FakeProvider({"draft": {"steps": [" Find the invoice ", "Explain the charge"]}})
    reply = await handle_coach_block(query(), provider=as_protocol(provider))
    assert (reply.status, reply.block, reply.offline, reply.provider) == (
        "drafted",
        "workflow",
        False,
        "openai",
    )
    assert reply.draft == {"steps": ["Find the invoice", "Explain the charge"]}
    assert provider.calls[0]["json_schema"] == coach.draft_schema("workflow")


async def test_an_unavailable_provider_makes_the_coach_unavailable_with_when_to_retry() -> None:
    provider = FakeProvider(ProviderUnavailable("AI provider circuit is open", retry_after=42.0))
    reply = await handle_coach_block(query(), provider=as_protocol(provider))
    assert reply.status == "unavailable"
    assert reply.message == "coach unavailable, edit manually: AI provider circuit is open"
    assert reply.retry_after == 42.0


async def test_a_rejected_request_or_an_unfit_draft_fails_without_a_draft() -> None:
    for answer in (ProviderRejected(400, "bad schema"), {"draft": {"steps": 7}}):
        reply = await handle_coach_block(query(), provider=as_protocol(FakeProvider(answer)))
        assert (reply.status, reply.draft) == ("failed", None)
        assert reply.message.startswith("coach unavailable, edit manually: ")


@pytest.mark.parametrize("block", list(BlockName.__args__))  # type: ignore[attr-defined]
def test_the_offline_coach_drafts_every_block_validly(block: str) -> None:
    blocks = {"mission": {"problem": "Answer questions about their {{brand}} invoices"}}
    draft = coach.template_draft(block, blocks, "")  # type: ignore[arg-type]
    assert SpecBlocks.model_validate({block: draft}).model_dump(exclude_unset=True)[block] == draft


def test_the_offline_coach_builds_on_what_the_spec_says() -> None:
    blocks = {
        "mission": {"problem": "Answer questions about their {{brand}} invoices"},
        "persona": {"role": "billing desk"},
        "output": {"length": "at most 80 words"},
    }
    assert coach.template_draft("variables", blocks, "") == [
        {"name": "brand", "description": "The value of brand, given per call.", "required": True}
    ]
    assert coach.template_draft("persona", blocks, "")["role"] == "billing desk"
    assert coach.template_draft("capabilities", blocks, "")["summary"] == (
        "Answers questions about {{brand}} invoices and explains the next steps."
    )
    assert (
        "Every answer is at most 80 words"
        in coach.template_draft("mission", blocks, "")["success_criteria"]
    )
    assert coach.template_draft("workflow", blocks, "ask first")["steps"][0] == (
        "Follow the author's guidance: ask first"
    )


async def test_with_the_offline_provider_the_coach_answers_from_the_spec_and_says_so() -> None:
    reply = await handle_coach_block(query("escalation"), provider=as_protocol(OfflineLike()))
    assert (reply.status, reply.offline, reply.provider) == ("drafted", True, "offline")
    assert reply.message == "offline draft: written from the spec without an AI model"
    assert reply.draft == coach.template_draft(
        "escalation", dict(query().blocks), "keep it to three steps"
    )


class OfflineLike(FakeProvider):
    @property
    def name(self) -> ProviderName:
        return "offline"
