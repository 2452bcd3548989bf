"""Rate limits: moving windows (the `limits` library), counted in Redis when `REDIS_URL` is set, so
every replica shares one allowance, and in this process's memory otherwise.

On the hot path each request is charged once, by `RateLimitMiddleware`: to its user's allowance
when it carries a token this replica already knows, otherwise to its client address. Failed token
checks count against a strict allowance per address that `deps._authenticate` consults before the
database. A route adds its own policy with `limit("sign_in")`.

A refusal is a 429 with `Retry-After` and the `RateLimit` / `RateLimit-Policy` fields of
draft-ietf-httpapi-ratelimit-headers-10 (`"sign_in";q=10;w=60`, `"sign_in";r=0;t=42`).
"""

from __future__ import annotations

import hashlib
import math
import time
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import structlog
from fastapi import Depends, Request
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.auth import hash_token
from gateway.notifications import Notifications, TokenCache
from gateway.settings import GatewaySettings

log = structlog.get_logger()

# Orchestrators' probes and scrapes are never refused.
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


@dataclass(frozen=True)
class Policy:
    name: str
    item: RateLimitItem

    @property
    def header(self) -> str:
        return f'"{self.name}";q={self.item.amount};w={self.item.get_expiry()}'


class RateLimitedError(Exception):
    def __init__(self, policy: Policy, retry_after: int) -> None:
        super().__init__(f"rate limit {policy.name} reached")
        self.policy = policy
        self.retry_after = retry_after


def too_many_requests(exc: RateLimitedError) -> JSONResponse:
    policy = exc.policy
    return JSONResponse(
        {
            "error": {
                "code": "rate_limited",
                "message": f"too many requests ({policy.item.amount} per "
                f"{policy.item.get_expiry()} s allowed by {policy.name}); "
                f"retry in {exc.retry_after} s",
                "policy": policy.name,
                "retry_after": exc.retry_after,
            }
        },
        status_code=429,
        headers={
            "Retry-After": str(exc.retry_after),
            "RateLimit": f'"{policy.name}";r=0;t={exc.retry_after}',
            "RateLimit-Policy": policy.header,
        },
    )


def _storage(settings: GatewaySettings) -> Storage:
    if settings.redis_url is None:
        return MemoryStorage()
    scheme, rest = settings.redis_url.split("://", 1)
    uri = f"async+{'redis+unix' if scheme == 'unix' else scheme}://{rest}"
    return RedisStorage(
        uri,
        implementation="redispy",
        wrap_exceptions=True,
        # Installations sharing a Redis keep apart, as they do on a shared NATS server.
        key_prefix=f"{settings.nats_subject_root}:ratelimit",
        # A slow Redis must not hold every request: past this, the request goes through.
        socket_timeout=0.5,
        socket_connect_timeout=0.5,
    )


class Limiter:
    """The installation's policies over one storage."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.enabled = settings.rate_limit_enabled
        self.storage = _storage(settings)
        self._windows = MovingWindowRateLimiter(self.storage)
        self.policies = {
            name: Policy(name, parse(getattr(settings, f"rate_limit_{name}")))
            for name in ("per_ip", "per_user", "bad_credentials", "sign_in", "sign_in_email")
        }

    async def hit(self, policy: Policy, key: str) -> None:
        """Charge one request to `key`; `RateLimitedError` when its allowance is spent."""
        if self.enabled and not await self._ask(self._windows.hit, policy, key):
            raise await self._refusal(policy, key)

    async def check(self, policy: Policy, key: str) -> None:
        """`RateLimitedError` when `key`'s allowance is spent, charging nothing."""
        if self.enabled and not await self._ask(self._windows.test, policy, key):
            raise await self._refusal(policy, key)

    async def _ask(self, method: Any, policy: Policy, key: str) -> bool:
        try:
            return bool(await method(policy.item, policy.name, key))
        except StorageError as exc:
            # Availability over strictness: an unreachable store lets requests through.
            log.warning("ratelimit.storage_unavailable", reason=type(exc.storage_error).__name__)
            return True

    async def _refusal(self, policy: Policy, key: str) -> RateLimitedError:
        try:
            stats = await self._windows.get_window_stats(policy.item, policy.name, key)
            retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        except StorageError:
            retry_after = policy.item.get_expiry()
        return RateLimitedError(policy, retry_after)


def client_address(scope: Scope) -> str:
    """The socket's peer, or what a trusted proxy said (uvicorn's `forwarded_allow_ips`)."""
    client = scope.get("client")
    return client[0] if client else "unknown"


class RateLimitMiddleware:
    """Charges each request once: to the user of a token this replica knows, else to its address."""

    def __init__(
        self, app: ASGIApp, limiter: Limiter, tokens: TokenCache, notifications: Notifications
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.tokens = tokens
        self.notifications = notifications
        self.per_user = limiter.policies["per_user"]
        self.per_ip = limiter.policies["per_ip"]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        policy, key = self.per_ip, client_address(scope)
        if self.notifications.listening:
            user_id = self._known_user(scope)
            if user_id is not None:
                policy, key = self.per_user, user_id
        try:
            await self.limiter.hit(policy, key)
        except RateLimitedError as exc:
            await too_many_requests(exc)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _known_user(self, scope: Scope) -> str | None:
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() != "bearer":
                    return None
                user_id = self.tokens.get(hash_token(token.strip()))
                return None if user_id is None else str(user_id)
        return None


def _limiter(request: Request) -> Limiter:
    limiter: Limiter = request.app.state.limiter
    return limiter


def limit(policy_name: str) -> Any:
    """A route dependency charging `policy_name` per client address and, when the policy has an
    `<name>_email` companion and the JSON body an `email`, per address hashed (never stored plain):

        @router.post("/auth/magic-link", dependencies=[limit("sign_in")])
    """

    async def enforce(request: Request) -> None:
        limiter = _limiter(request)
        await limiter.hit(limiter.policies[policy_name], client_address(request.scope))
        by_email = limiter.policies.get(f"{policy_name}_email")
        email = await _body_email(request) if by_email is not None else None
        if by_email is not None and email:
            await limiter.hit(by_email, hashlib.sha256(email.encode()).hexdigest())

    return Depends(enforce)


async def _body_email(request: Request) -> str | None:
    try:
        body = await request.json()  # FastAPI has read and cached it already
    except ValueError:
        return None
    email = body.get("email") if isinstance(body, dict) else None
    return email.strip().lower() if isinstance(email, str) else None


async def check_bad_credentials(request: Request) -> None:
    """Before a token is looked up: 429 once this address has failed too often."""
    limiter = _limiter(request)
    await limiter.check(limiter.policies["bad_credentials"], client_address(request.scope))


async def record_bad_credentials(request: Request) -> None:
    limiter = _limiter(request)
    policy = limiter.policies["bad_credentials"]
    # This failure is answered 401 whatever the count; the next attempt meets the 429.
    with suppress(RateLimitedError):
        await limiter.hit(policy, client_address(request.scope))
