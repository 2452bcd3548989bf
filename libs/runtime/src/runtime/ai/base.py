"""What every AI provider shares: the result type, the typed failures and the provider Protocol."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any, Literal, Protocol

ProviderName = Literal["openai", "offline"]
Message = dict[str, Any]


@dataclass(frozen=True)
class Completion:
    """One model reply. `offline` is True when the deterministic stand-in wrote it, not a model."""

    text: str
    model: str
    provider: ProviderName
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    offline: bool

    def json(self) -> Any:
        """The reply parsed as JSON (for calls made with a `json_schema`)."""
        return json.loads(self.text)


class ProviderError(Exception):
    """Base of the failures an AI provider reports."""


class ProviderRejected(ProviderError):
    """The provider refused the request (a 4xx other than 408/409/429): retrying cannot help."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"AI provider rejected the request ({status}): {message}")
        self.status = status
        self.message = message


class ProviderUnavailable(ProviderError):
    """The provider cannot answer now: its breaker is open, or it kept failing until retries ran out.

    `retry_after` is the number of seconds after which trying again makes sense, when known.
    """

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class ProviderInvalidOutput(ProviderError):
    """The provider answered a structured request with text that is not JSON valid for the schema."""

    def __init__(self, message: str, text: str) -> None:
        super().__init__(message)
        self.text = text


class AIProvider(Protocol):
    """A chat model: `provider_from_settings` builds the one the settings ask for."""

    @property
    def name(self) -> ProviderName: ...

    @property
    def breaker_state(self) -> str:
        """`closed`, `open` or `half-open`; the offline provider is always `closed`."""
        ...

    def is_available(self) -> bool:
        """Whether a call now would reach the provider rather than fail fast on an open breaker."""
        ...

    async def complete(
        self,
        messages: list[Message],
        *,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        json_schema: dict[str, Any] | None = None,
    ) -> Completion: ...

    def stream(
        self,
        messages: list[Message],
        *,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> AsyncGenerator[str, None]:
        """The reply's text deltas, in order, as the provider produces them."""
        ...

    async def embed(self, texts: list[str], *, model: str | None = None) -> list[list[float]]:
        """One embedding vector per text, in order."""
        ...

    async def aclose(self) -> None: ...
