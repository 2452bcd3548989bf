"""The llm-rubric judge asks for a schema-checked structured output and never grades offline."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

import pytest

from assertions import Assertion, evaluate
from runtime.ai import Completion, Message, OfflineProvider, ProviderName
from testrunner.grader import RUBRIC_SCHEMA, ProviderGrader


class JudgeProvider:
    """Answers every call with `answer` as JSON and records what it was asked."""

    name: ProviderName = "openai"
    breaker_state = "closed"

    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer
        self.calls: list[dict[str, Any]] = []

    def is_available(self) -> bool:
        return True

    async def complete(
        self,
        messages: list[Message],
        *,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        json_schema: dict[str, Any] | None = None,
    ) -> Completion:
        self.calls.append(
            {
                "messages": messages,
                "model": model,
                "temperature": temperature,
                "schema": json_schema,
            }
        )
        return Completion(json.dumps(self.answer), "judge", "openai", 10, 5, 1.0, False)

    def stream(self, messages: list[Message], **_: Any) -> AsyncGenerator[str, None]:
        raise NotImplementedError

    async def embed(self, texts: list[str], *, model: str | None = None) -> list[list[float]]:
        return [[1.0, 0.0] if "cat" in t else [0.0, 1.0] for t in texts]

    async def aclose(self) -> None:
        return None


async def test_the_judge_answers_through_the_rubric_schema_and_its_threshold_applies() -> None:
    judge = JudgeProvider({"reason": "polite but vague", "pass": True, "score": 0.6})
    grader = ProviderGrader(judge, model="judge-model")
    verdict = await evaluate(
        "Thanks for asking!",
        [Assertion(type="llm-rubric", value="is polite", threshold=0.7)],
        latency_ms=None,
        threshold=None,
        vars={},
        grader=grader,
    )
    [call] = judge.calls
    assert (call["model"], call["temperature"], call["schema"]) == ("judge-model", 0, RUBRIC_SCHEMA)
    assert json.loads(call["messages"][1]["content"]) == {
        "rubric": "is polite",
        "output": "Thanks for asking!",
    }
    assert verdict.pass_ is False  # 0.6 is below the assertion's threshold
    assert verdict.error is None
    assert verdict.assertions[0].reason == "polite but vague"


async def test_similar_compares_the_providers_embeddings() -> None:
    grader = ProviderGrader(JudgeProvider({}), model=None)
    assert await grader.embed(["a cat", "a dog"]) == [[1.0, 0.0], [0.0, 1.0]]


@pytest.mark.parametrize(
    "assertion",
    [{"type": "llm-rubric", "value": "is polite"}, {"type": "similar", "value": "hello"}],
)
async def test_offline_model_graded_assertions_are_errors_not_guesses(
    assertion: dict[str, Any],
) -> None:
    verdict = await evaluate(
        "hello",
        [Assertion.model_validate(assertion)],
        latency_ms=None,
        threshold=None,
        vars={},
        grader=ProviderGrader(OfflineProvider(), model=None),
    )
    assert verdict.pass_ is False
    assert verdict.error is not None
    assert "needs an AI provider; none is configured (offline)" in verdict.error
