"""Model-graded assertions through the AI provider adapter (so the breaker and retries apply).

llm-rubric: the judge answers a strict structured output `{reason, pass, score}` checked against
its schema by the adapter; nothing is scraped from free text.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from assertions import RubricGrade
from runtime.ai import AIProvider

RUBRIC_SCHEMA: dict[str, Any] = {
    "title": "rubric_grade",
    "type": "object",
    "properties": {
        "reason": {"type": "string", "description": "Why the output does or does not pass."},
        "pass": {"type": "boolean"},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
    },
    "required": ["reason", "pass", "score"],
    "additionalProperties": False,
}

RUBRIC_INSTRUCTIONS = (
    "You grade an AI assistant's output against a rubric. Judge only what the rubric asks. "
    "Answer with JSON: `reason` (one or two sentences), `pass` (true when the output meets the "
    "rubric) and `score` (0 to 1, how well it meets it)."
)


Through = Callable[[Callable[[], Awaitable[Any]]], Awaitable[Any]]
"""Makes a provider call the way the case's own call is made (`Executor._waiting`): its answer, a
str saying why there is none, or None when the run was cancelled while the call waited."""


class ProviderGrader:
    """The engine's `Grader`, answering with the configured provider; refuses to pretend offline.

    Through `through`, a call that meets an open breaker waits (the run shows paused) instead of
    failing the assertion; `cancelled` tells that the run was cancelled meanwhile.
    """

    def __init__(
        self, provider: AIProvider, *, model: str | None, through: Through | None = None
    ) -> None:
        self._provider = provider
        self._model = model
        self._through = through
        self.cancelled = False

    async def _call(self, call: Callable[[], Awaitable[Any]]) -> Any:
        if self._through is None:
            return await call()
        answer = await self._through(call)
        if answer is None:
            self.cancelled = True
            raise RuntimeError("the run was cancelled while the grader waited")
        if isinstance(answer, str):
            raise RuntimeError(answer)
        return answer

    async def rubric(
        self,
        output: str,
        rubric: str,
        vars: dict[str, Any],  # noqa: ARG002 - the Grader signature; the rubric is rendered already
    ) -> RubricGrade:
        self._need_model("llm-rubric")
        prompt = json.dumps({"rubric": rubric, "output": output}, ensure_ascii=False)
        completion = await self._call(
            lambda: self._provider.complete(
                [
                    {"role": "system", "content": RUBRIC_INSTRUCTIONS},
                    {"role": "user", "content": prompt},
                ],
                model=self._model,
                temperature=0,
                json_schema=RUBRIC_SCHEMA,
            )
        )
        answer = completion.json()
        return RubricGrade(pass_=answer["pass"], score=answer["score"], reason=answer["reason"])

    async def embed(self, texts: list[str]) -> list[list[float]]:
        self._need_model("similar")
        vectors: list[list[float]] = await self._call(lambda: self._provider.embed(texts))
        return vectors

    def _need_model(self, assertion: str) -> None:
        if self._provider.name == "offline":
            raise RuntimeError(f"{assertion} needs an AI provider; none is configured (offline)")
