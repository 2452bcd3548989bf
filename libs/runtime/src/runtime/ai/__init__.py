"""The AI provider adapter services call: `provider_from_settings(settings).complete(messages)`.

`AI_PROVIDER=openai` talks to any OpenAI-compatible server; `offline` (the default with no key) is
a deterministic local stand-in whose results say `offline=True`.
"""

from __future__ import annotations

from runtime.ai.base import (
    AIProvider,
    Completion,
    Message,
    ProviderError,
    ProviderInvalidOutput,
    ProviderName,
    ProviderRejected,
    ProviderUnavailable,
)
from runtime.ai.breaker import CircuitOpen
from runtime.ai.offline import OfflineProvider
from runtime.ai.provider import OpenAIProvider
from runtime.settings import CommonSettings, SettingsError

__all__ = [
    "AIProvider",
    "CircuitOpen",
    "Completion",
    "Message",
    "OfflineProvider",
    "OpenAIProvider",
    "ProviderError",
    "ProviderInvalidOutput",
    "ProviderName",
    "ProviderRejected",
    "ProviderUnavailable",
    "provider_from_settings",
]


def provider_from_settings(settings: CommonSettings) -> AIProvider:
    """The provider `settings.effective_ai_provider` names, configured from the `AI_*` settings."""
    if settings.effective_ai_provider == "offline":
        return OfflineProvider()
    if settings.openai_api_key is None:
        raise SettingsError("setting OPENAI_API_KEY is invalid: required when AI_PROVIDER=openai")
    return OpenAIProvider(
        api_key=settings.openai_api_key.get_secret_value(),
        base_url=settings.openai_base_url,
        model=settings.ai_model,
        embedding_model=settings.ai_embedding_model,
        timeout=settings.ai_timeout_seconds,
        max_attempts=settings.ai_max_attempts,
        retry_deadline=settings.ai_retry_deadline_seconds,
        retry_max_wait=settings.ai_retry_max_wait_seconds,
        breaker_fail_max=settings.ai_breaker_fail_max,
        breaker_reset=settings.ai_breaker_reset_seconds,
        prices=settings.ai_prices,
    )
