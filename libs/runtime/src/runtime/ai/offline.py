"""The offline stand-in for an AI provider: deterministic text derived from the prompt, no network.

Everything it returns says `provider="offline"`, `offline=True`, so the API and UI can tell people
that no model wrote it. For a `json_schema` it returns JSON valid for that schema.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import Counter
from collections.abc import AsyncGenerator
from typing import Any

from runtime.ai.base import Completion, Message, ProviderName, ProviderUnavailable
from runtime.ai.schema import example_for

OFFLINE_MODEL = "offline"
_SNIPPET = 280
_STOPWORDS = frozenset(
    re.findall(
        r"\w+",
        "a an and are as at be but by can do for from has have how i in is it its me my not of on or"
        " our please so that the their them then there these this to us was we what when which who"
        " will with would you your",
    )
)


class OfflineProvider:
    """Answers every call at once and the same way for the same messages; never fails, never waits."""

    name: ProviderName = "offline"
    breaker_state = "closed"

    def is_available(self) -> bool:
        return True

    async def complete(
        self,
        messages: list[Message],
        *,
        model: str | None = None,  # noqa: ARG002 - the shared signature; output ignores it
        temperature: float | None = None,  # noqa: ARG002
        max_tokens: int | None = None,  # noqa: ARG002
        json_schema: dict[str, Any] | None = None,
    ) -> Completion:
        """A stable summary of the request; with `json_schema`, a JSON instance of the schema.

        `model`, `temperature` and `max_tokens` are accepted for the shared signature and ignored,
        so the output depends on the messages (and schema) only.
        """
        started = time.perf_counter()
        if json_schema is not None:
            value = example_for(json_schema, _snippet(_last_user_text(messages), 120))
            text = json.dumps(value, ensure_ascii=False, sort_keys=True)
        else:
            text = draft(messages)
        return Completion(
            text=text,
            model=OFFLINE_MODEL,
            provider="offline",
            prompt_tokens=sum(_count_tokens(_text_of(m)) for m in messages),
            completion_tokens=_count_tokens(text),
            latency_ms=(time.perf_counter() - started) * 1000,
            offline=True,
        )

    async def stream(
        self,
        messages: list[Message],
        *,
        model: str | None = None,  # noqa: ARG002 - the shared signature; output ignores it
        temperature: float | None = None,  # noqa: ARG002
        max_tokens: int | None = None,  # noqa: ARG002
    ) -> AsyncGenerator[str, None]:
        """`complete()`'s text, one word (with its trailing space) per delta."""
        for word in re.findall(r"\S+\s*", draft(messages)):
            yield word

    async def embed(self, texts: list[str], *, model: str | None = None) -> list[list[float]]:  # noqa: ARG002
        """Refused: without a model there is no embedding worth comparing."""
        raise ProviderUnavailable("no AI provider is configured: embeddings need one")

    async def aclose(self) -> None:
        return None


def draft(messages: list[Message]) -> str:
    """The offline reply: what was asked, its key terms, and the shape of the context."""
    request = _last_user_text(messages)
    system = [_text_of(m) for m in messages if m.get("role") in ("system", "developer")]
    fingerprint = hashlib.sha256(
        json.dumps(messages, sort_keys=True, default=str).encode()
    ).hexdigest()[:12]
    terms = ", ".join(key_terms(request)) or "(none)"
    return "\n".join(
        [
            "[offline] Written by the offline stand-in, not by an AI model: no AI provider is configured.",
            f"Request: {_snippet(request, _SNIPPET) or '(empty)'}",
            f"Key terms: {terms}",
            f"Context: {len(system)} system message(s) of {sum(len(s) for s in system)} characters,"
            f" {len(messages)} message(s) in all.",
            f"Fingerprint: {fingerprint}",
        ]
    )


def key_terms(text: str, limit: int = 5) -> list[str]:
    """The most frequent words that are not stopwords, ties broken alphabetically."""
    words = [w for w in re.findall(r"[a-z0-9][a-z0-9_-]+", text.lower()) if w not in _STOPWORDS]
    counts = Counter(words)
    return sorted(counts, key=lambda w: (-counts[w], w))[:limit]


def _last_user_text(messages: list[Message]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return _text_of(message)
    return _text_of(messages[-1]) if messages else ""


def _text_of(message: Message) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _snippet(text: str, limit: int) -> str:
    flat = re.sub(r"\s+", " ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _count_tokens(text: str) -> int:
    return len(re.findall(r"\w+|[^\w\s]", text))
