"""Waiting on an eventually consistent product: the one way tests wait.

A read is repeated (by the same client, so as the same user) until its result satisfies a condition
or the deadline passes; then the test fails with the last thing it saw. No fixed sleeps: a wait
ends as soon as the product gets there, and a slow machine only makes it longer.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

import httpx

T = TypeVar("T")


def _truthy(value: object) -> bool:
    return bool(value)


def describe(seen: object) -> str:
    """The last thing a wait saw, short enough for a failure message."""
    if isinstance(seen, httpx.Response):
        text = f"HTTP {seen.status_code} from {seen.request.method} {seen.request.url}: {seen.text}"
    elif isinstance(seen, BaseException):
        text = f"{type(seen).__name__}: {seen}"
    else:
        text = repr(seen)
    return text if len(text) <= 2000 else f"{text[:2000]}…"


class _Deadline:
    def __init__(self, timeout: float, what: str) -> None:
        self.timeout, self.what = timeout, what
        self._end = time.monotonic() + timeout

    def check(self, seen: object) -> None:
        if time.monotonic() >= self._end:
            raise AssertionError(
                f"{self.what} did not happen within {self.timeout:g} s; last seen: {describe(seen)}"
            )


def eventually(
    read: Callable[[], T],
    until: Callable[[T], bool] = _truthy,
    *,
    timeout: float = 10.0,
    interval: float = 0.05,
    what: str = "the condition",
    tolerate: tuple[type[BaseException], ...] = (),
) -> T:
    """Call `read` until `until(result)` holds and return that result.

    Exceptions of the `tolerate` types count as "not yet" (a service restarting refuses
    connections); any other exception fails the test at once.
    """
    deadline = _Deadline(timeout, what)
    while True:
        seen: object
        try:
            value = read()
        except tolerate as exc:
            seen = exc
        else:
            if until(value):
                return value
            seen = value
        deadline.check(seen)
        time.sleep(interval)


@overload
async def eventually_async(
    read: Callable[[], Awaitable[T]],
    until: Callable[[T], bool] = ...,
    *,
    timeout: float = ...,
    interval: float = ...,
    what: str = ...,
    tolerate: tuple[type[BaseException], ...] = ...,
) -> T: ...


@overload
async def eventually_async(
    read: Callable[[], T],
    until: Callable[[T], bool] = ...,
    *,
    timeout: float = ...,
    interval: float = ...,
    what: str = ...,
    tolerate: tuple[type[BaseException], ...] = ...,
) -> T: ...


async def eventually_async(
    read: Callable[[], Any],
    until: Callable[[Any], bool] = _truthy,
    *,
    timeout: float = 10.0,
    interval: float = 0.05,
    what: str = "the condition",
    tolerate: tuple[type[BaseException], ...] = (),
) -> Any:
    """`eventually` for the event loop: `read` may be a coroutine function or a plain one."""
    deadline = _Deadline(timeout, what)
    while True:
        seen: Any
        try:
            seen = read()
            if inspect.isawaitable(seen):
                seen = await seen
        except tolerate as exc:
            seen = exc
        else:
            if until(seen):
                return seen
        deadline.check(seen)
        await asyncio.sleep(interval)


def ok_json(until: Callable[[Any], bool]) -> Callable[[httpx.Response], bool]:
    """A condition on a response: a 200 whose JSON body satisfies `until`."""
    return lambda response: response.status_code == 200 and until(response.json())
