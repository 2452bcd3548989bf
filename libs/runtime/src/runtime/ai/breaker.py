"""A pybreaker circuit breaker made right for asyncio: failures counted, one half-open probe at a time.

pybreaker's `call` never sees an async function fail, so the guarded block runs inside
`breaker.calling()`; pybreaker lets every concurrent caller through when half-open, so an
`asyncio.Lock` admits a single probe and the others fail fast.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import ExitStack, asynccontextmanager
from functools import cached_property
from typing import TYPE_CHECKING

from runtime.ai.base import ProviderUnavailable
from runtime.ai.metrics import (
    circuit_breaker_rejections,
    circuit_breaker_state,
    circuit_breaker_transitions,
)

if TYPE_CHECKING:
    import pybreaker

STATES = ("closed", "open", "half-open")


class CircuitOpen(ProviderUnavailable):
    """The breaker refused the call without sending it (open, or another call is probing)."""


class Breaker:
    """One breaker per provider and process; a block guarded by `guard()` is one sample."""

    def __init__(
        self,
        name: str,
        *,
        fail_max: int,
        reset_timeout: float,
        is_failure: Callable[[BaseException], bool],
    ) -> None:
        self.name = name
        self.reset_timeout = reset_timeout
        self._fail_max = fail_max
        self._is_failure = is_failure
        self._opened_at: float | None = None
        self._probe = asyncio.Lock()
        self._publish_state("closed")

    @cached_property
    def _cb(self) -> pybreaker.CircuitBreaker:
        """Built at the first guarded call: importing pybreaker imports redis (installed for the
        gateway's rate limits), most of a second of CPU that a service's start need not pay."""
        import pybreaker

        breaker = self

        class Listener(pybreaker.CircuitBreakerListener):
            def state_change(
                self,
                cb: pybreaker.CircuitBreaker,  # noqa: ARG002 - pybreaker's listener signature
                old_state: pybreaker.CircuitBreakerState | None,  # noqa: ARG002
                new_state: pybreaker.CircuitBreakerState,
            ) -> None:
                breaker._on_state_change(new_state.name)

        # pybreaker treats an excluded error as a success; cancellation is the caller's choice,
        # not a sign of the provider's health, so it must never open the breaker.
        neutral = (asyncio.CancelledError, GeneratorExit)
        is_failure = self._is_failure
        return pybreaker.CircuitBreaker(
            fail_max=self._fail_max,
            reset_timeout=self.reset_timeout,
            exclude=[lambda exc: isinstance(exc, neutral) or not is_failure(exc)],
            listeners=[Listener()],
            name=self.name,
            throw_new_error_on_trip=False,  # the call that trips reports the provider's own error
        )

    @property
    def state(self) -> str:
        """`closed`, `open` or `half-open` (an open breaker becomes half-open at its next call)."""
        if "_cb" not in self.__dict__:
            return "closed"  # no call yet
        return str(self._cb.current_state)

    @property
    def fail_counter(self) -> int:
        if "_cb" not in self.__dict__:
            return 0
        return int(self._cb.fail_counter)

    def seconds_until_half_open(self) -> float:
        if self.state != "open" or self._opened_at is None:
            return 0.0
        return max(0.0, self._opened_at + self.reset_timeout - time.monotonic())

    def is_available(self) -> bool:
        state = self.state
        if state == "closed":
            return True
        if self._probe.locked():
            return False
        return state == "half-open" or self.seconds_until_half_open() == 0.0

    @asynccontextmanager
    async def guard(self) -> AsyncIterator[None]:
        """Run the block as one breaker sample, or raise `CircuitOpen` at once without running it."""
        if self.state == "closed":
            with self._calling():
                yield
            return
        if self._probe.locked():
            self._reject("AI provider is being probed after failures; try again shortly", None)
        async with self._probe:
            with self._calling():
                yield

    def _calling(self) -> ExitStack:
        import pybreaker  # once loaded, a dictionary lookup

        stack = ExitStack()
        try:
            stack.enter_context(self._cb.calling())
        except pybreaker.CircuitBreakerError:
            self._reject(
                "AI provider circuit breaker is open after repeated failures",
                max(self.seconds_until_half_open(), 0.001),
            )
        return stack

    def _reject(self, reason: str, retry_after: float | None) -> None:
        circuit_breaker_rejections.labels(self.name).inc()
        raise CircuitOpen(reason, retry_after=retry_after)

    def _on_state_change(self, new_state: str) -> None:
        if new_state == "open":
            self._opened_at = time.monotonic()
        circuit_breaker_transitions.labels(self.name, new_state).inc()
        self._publish_state(new_state)

    def _publish_state(self, current: str) -> None:
        for state in STATES:
            circuit_breaker_state.labels(self.name, state).set(1 if state == current else 0)
