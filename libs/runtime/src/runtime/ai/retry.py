"""The AI retry policy, the only retry layer in process: what is worth another attempt, and when.

The openai SDK is built with `max_retries=0`; tenacity retries 429, 408, 409, 5xx, timeouts and
connection errors with full-jitter backoff, waiting what `retry-after-ms` / `Retry-After` asks
(clamped). Other 4xx are never retried.

The SDK (and its httpx2) is imported where an error is examined: an SDK error means the SDK is
loaded already, and a service that never calls the provider never loads it (provider.py).
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)
from tenacity.wait import wait_base

from runtime.ai.base import ProviderInvalidOutput
from runtime.ai.metrics import ai_retries

T = TypeVar("T")
RETRYABLE_STATUS = {408: "408", 409: "409", 429: "429"}
log = structlog.get_logger()


def retry_reason(exc: BaseException | None) -> str | None:
    """The `ai_retries_total` reason for a failure worth retrying, or None when it is not."""
    import httpx2
    import openai

    if isinstance(exc, openai.APITimeoutError):
        # The aiohttp transport reports a refused connection as a connect timeout.
        return "connection" if isinstance(exc.__cause__, httpx2.ConnectTimeout) else "timeout"
    if isinstance(exc, openai.APIConnectionError):
        return "connection"
    if isinstance(exc, openai.APIStatusError):
        return "5xx" if exc.status_code >= 500 else RETRYABLE_STATUS.get(exc.status_code)
    return None


def is_client_error(exc: BaseException) -> bool:
    """A 4xx that no retry can fix (400, 401, 403, 404, 422…): not the provider's ill health."""
    import openai

    return (
        isinstance(exc, openai.APIStatusError)
        and exc.status_code < 500
        and exc.status_code not in RETRYABLE_STATUS
    )


def counts_against_breaker(exc: BaseException) -> bool:
    return not is_client_error(exc) and not isinstance(exc, ProviderInvalidOutput)


def retry_after_seconds(exc: BaseException | None) -> float | None:
    """What the provider asked to wait (`retry-after-ms`, then `Retry-After` seconds or date)."""
    import openai

    if not isinstance(exc, openai.APIStatusError):
        return None
    headers = exc.response.headers
    for header, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(header)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            continue
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    date = email.utils.parsedate_tz(headers.get("retry-after") or "")
    if date is None:
        return None
    return max(0.0, email.utils.mktime_tz(date) - time.time())


class WaitRetryAfter(wait_base):
    """The provider's Retry-After when it gives one, else `backoff`; never more than `max_wait`."""

    def __init__(self, backoff: wait_base, max_wait: float) -> None:
        self.backoff = backoff
        self.max_wait = max_wait

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        asked = retry_after_seconds(outcome.exception() if outcome is not None else None)
        wait = asked if asked is not None else self.backoff(retry_state)
        return min(wait, self.max_wait)


class RetryPolicy:
    """At most `max_attempts` attempts, none started after `deadline` seconds from the first."""

    def __init__(
        self,
        *,
        max_attempts: int,
        deadline: float,
        max_wait: float,
        backoff_multiplier: float = 0.5,
    ) -> None:
        self.max_attempts = max_attempts
        self.deadline = deadline
        self.max_wait = max_wait
        self.backoff_multiplier = backoff_multiplier

    async def run(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """Await `attempt()` until it succeeds, fails for good, or attempts or time run out."""
        # The first attempt runs bare: tenacity's loop costs a call about a tenth of the SDK
        # request it wraps, and most calls succeed at once. A first failure worth retrying
        # enters the loop as its first attempt, with the time it took counted against the
        # deadline, so the attempts, waits, counts and logs are those of the loop alone.
        started = time.monotonic()
        try:
            return await attempt()
        except Exception as exc:
            if self.max_attempts < 2 or retry_reason(exc) is None:
                raise
            first_failure = exc
        replayed = False

        async def replay_then_attempt() -> T:
            nonlocal replayed
            if not replayed:
                replayed = True
                raise first_failure
            return await attempt()

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.max_attempts)
            | stop_before_delay(self.deadline - (time.monotonic() - started)),
            wait=WaitRetryAfter(
                wait_random_exponential(multiplier=self.backoff_multiplier, max=self.max_wait),
                self.max_wait,
            ),
            retry=retry_if_exception(lambda exc: retry_reason(exc) is not None),
            before_sleep=_count_retry,
            reraise=True,
        )
        async for attempt_state in retrying:
            with attempt_state:
                return await replay_then_attempt()
        raise AssertionError("tenacity re-raises the last error when it stops")  # pragma: no cover


def _count_retry(retry_state: RetryCallState) -> None:
    exc = retry_state.outcome.exception() if retry_state.outcome is not None else None
    reason = retry_reason(exc) or "other"
    ai_retries.labels(reason).inc()
    log.warning(
        "ai.retry",
        reason=reason,
        attempt=retry_state.attempt_number,
        wait_seconds=round(retry_state.upcoming_sleep, 3),
        error=str(exc),
    )
