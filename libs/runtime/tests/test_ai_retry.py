"""The retry policy alone, with hand-written attempts: how many are made, and when it stops."""

from __future__ import annotations

import asyncio

import httpx2
import openai
import pytest

from runtime.ai.retry import RetryPolicy


class Attempts:
    """An attempt that fails with `failures` in turn, then answers "ok"; each may take a while."""

    def __init__(self, *failures: Exception, seconds: float = 0.0) -> None:
        self.failures = list(failures)
        self.seconds = seconds
        self.made = 0

    async def __call__(self) -> str:
        self.made += 1
        await asyncio.sleep(self.seconds)
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


def connection_error() -> openai.APIConnectionError:
    return openai.APIConnectionError(request=httpx2.Request("POST", "http://provider/v1"))


def policy(*, max_attempts: int = 4, deadline: float = 10.0) -> RetryPolicy:
    return RetryPolicy(max_attempts=max_attempts, deadline=deadline, max_wait=0.01)


async def test_a_first_success_is_one_attempt() -> None:
    attempts = Attempts()
    assert await policy().run(attempts) == "ok"
    assert attempts.made == 1


async def test_failures_worth_retrying_are_retried_until_one_succeeds() -> None:
    attempts = Attempts(connection_error(), connection_error())
    assert await policy().run(attempts) == "ok"
    assert attempts.made == 3


async def test_the_attempts_stop_at_the_maximum_with_the_last_error() -> None:
    first, last = connection_error(), connection_error()
    attempts = Attempts(first, connection_error(), last, connection_error())
    with pytest.raises(openai.APIConnectionError) as caught:
        await policy(max_attempts=3).run(attempts)
    assert caught.value is last
    assert attempts.made == 3


async def test_an_error_not_worth_retrying_is_raised_at_once() -> None:
    attempts = Attempts(ValueError("a bug, not the provider"))
    with pytest.raises(ValueError, match="a bug"):
        await policy().run(attempts)
    assert attempts.made == 1


async def test_the_deadline_counts_from_the_first_attempt() -> None:
    # The first attempt alone outlasts the deadline: no second one starts.
    attempts = Attempts(connection_error(), seconds=0.3)
    with pytest.raises(openai.APIConnectionError):
        await policy(deadline=0.2).run(attempts)
    assert attempts.made == 1
