"""Rate limits end to end: gateway processes over HTTP, their limits set small for each test.

Each test talks as its own client address through X-Forwarded-For from a trusted proxy (the test
itself, on 127.0.0.1), so the allowances of one test never meet another's.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable

import httpx
import pytest
import redis

from tests.support.fixtures import Stack
from tests.support.processes import ServiceProcess
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TRUSTED = {"FORWARDED_ALLOW_IPS": "127.0.0.1"}


def as_address(address: str, token: str | None = None) -> dict[str, str]:
    headers = {"X-Forwarded-For": address}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return headers


@pytest.fixture(scope="module")
def strict(gateway_with: Callable[..., ServiceProcess]) -> ServiceProcess:
    """A gateway with small limits, trusting the test as its proxy (an address per test)."""
    return gateway_with(
        RATE_LIMIT_PER_IP="8/minute",
        RATE_LIMIT_BAD_CREDENTIALS="3/minute",
        RATE_LIMIT_PER_USER="5/minute",
        RATE_LIMIT_SIGN_IN_EMAIL="2/minute",
        **TRUSTED,
    )


@pytest.fixture(scope="module")
def sharing_redis(gateway_with: Callable[..., ServiceProcess]) -> list[ServiceProcess]:
    """Two gateways counting in one Redis."""
    shared = {"REDIS_URL": REDIS_URL, "RATE_LIMIT_PER_IP": "10/minute", **TRUSTED}
    return [gateway_with(**shared), gateway_with(**shared)]


def assert_refused(response: httpx.Response, policy: str, quota: int, window: int) -> None:
    assert response.status_code == 429, response.text
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= window
    assert response.headers["ratelimit-policy"] == f'"{policy}";q={quota};w={window}'
    assert response.headers["ratelimit"] == f'"{policy}";r=0;t={retry_after}'
    error = response.json()["error"]
    assert error["code"] == "rate_limited"
    assert error["policy"] == policy
    assert error["retry_after"] == retry_after
    assert "content-security-policy" in response.headers


def test_a_flood_of_bad_tokens_is_refused_per_address_before_any_token_is_looked_up(
    stack: Stack, strict: ServiceProcess
) -> None:
    flooder, bystander = "203.0.113.7", "203.0.113.8"
    with httpx.Client(base_url=strict.url, timeout=10) as http:
        statuses = [
            http.get(
                "/api/v1/agents", headers=as_address(flooder, f"sas_{uuid.uuid4().hex}")
            ).status_code
            for _ in range(3)
        ]
        refused = http.get("/api/v1/agents", headers=as_address(flooder, "sas_wrong"))
        # Refused before the lookup: even a valid token (not yet known to this replica) waits.
        valid_but_refused = http.get(
            "/api/v1/agents", headers=as_address(flooder, stack.new_token())
        )
        other = http.get("/api/v1/agents", headers=as_address(bystander, "sas_wrong"))

    assert statuses == [401] * 3
    assert_refused(refused, "bad_credentials", 3, 60)
    assert_refused(valid_but_refused, "bad_credentials", 3, 60)
    assert other.status_code == 401


def test_requests_without_a_known_token_meet_the_ceiling_per_address(
    strict: ServiceProcess,
) -> None:
    address = "203.0.113.20"
    with httpx.Client(base_url=strict.url, timeout=10) as http:
        statuses = [
            http.get("/api/v1/agents", headers=as_address(address)).status_code for _ in range(8)
        ]
        refused = http.get("/openapi.json", headers=as_address(address))
        probe = http.get("/healthz", headers=as_address(address))
        other = http.get("/api/v1/agents", headers=as_address("203.0.113.21"))

    assert statuses == [401] * 8
    assert_refused(refused, "per_ip", 8, 60)
    assert probe.status_code == 200  # orchestrators' probes are never refused
    assert other.status_code == 401


def test_a_user_with_a_valid_token_has_an_allowance_of_their_own(
    stack: Stack, strict: ServiceProcess
) -> None:
    address = "203.0.113.30"
    busy, other = stack.new_token(), stack.new_token()
    with httpx.Client(base_url=strict.url, timeout=10) as http:
        refused = eventually(
            lambda: http.get("/api/v1/agents", headers=as_address(address, busy)),
            lambda response: response.status_code != 200,
            interval=0.01,
            what="the busy user's allowance running out",
        )
        others = [
            http.get("/api/v1/agents", headers=as_address(address, other)).status_code
            for _ in range(3)
        ]

    assert_refused(refused, "per_user", 5, 60)
    assert others == [200] * 3  # same address, another user: not refused


def test_sign_in_links_are_limited_per_email_address(strict: ServiceProcess) -> None:
    email = f"u{uuid.uuid4().hex[:8]}@example.com"
    with httpx.Client(base_url=strict.url, timeout=10) as http:
        asked = [
            http.post(
                "/api/v1/auth/magic-link",
                json={"email": email},
                headers=as_address(f"203.0.113.{70 + i}"),
            )
            for i in range(3)
        ]

    assert [a.status_code for a in asked[:2]] == [202, 202]
    assert_refused(asked[2], "sign_in_email", 2, 60)


def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(
    gateway_with: Callable[..., ServiceProcess],
) -> None:
    gateway = gateway_with(RATE_LIMIT_PER_IP="3/minute")
    with httpx.Client(base_url=gateway.url, timeout=10) as http:
        statuses = [
            http.get("/api/v1/agents", headers=as_address(f"192.0.2.{i}")).status_code
            for i in range(4)
        ]

    assert statuses == [401, 401, 401, 429]


def test_rate_limits_can_be_turned_off(gateway_with: Callable[..., ServiceProcess]) -> None:
    gateway = gateway_with(
        RATE_LIMIT_ENABLED="false", RATE_LIMIT_BAD_CREDENTIALS="2/minute", **TRUSTED
    )
    with httpx.Client(base_url=gateway.url, timeout=10) as http:
        statuses = {
            http.get("/api/v1/agents", headers=as_address("203.0.113.40", "sas_x")).status_code
            for _ in range(10)
        }

    assert statuses == {401}


def test_two_gateways_sharing_redis_share_one_allowance(
    sharing_redis: list[ServiceProcess],
) -> None:
    gateways = sharing_redis
    address = "203.0.113.50"
    answered: dict[str, list[int]] = {g.url: [] for g in gateways}
    for i in range(30):
        url = gateways[i % 2].url
        response = httpx.get(f"{url}/api/v1/agents", headers=as_address(address), timeout=10)
        answered[url].append(response.status_code)

    allowed = [s for statuses in answered.values() for s in statuses if s != 429]
    assert len(allowed) == 10, answered
    assert all(429 in statuses and 401 in statuses for statuses in answered.values()), answered


def test_the_redis_keys_belong_to_the_installation(
    stack: Stack, sharing_redis: list[ServiceProcess]
) -> None:
    httpx.get(
        f"{sharing_redis[0].url}/api/v1/agents", headers=as_address("203.0.113.60"), timeout=10
    )

    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = [k.decode() for k in client.scan_iter(match=f"{stack.root}:ratelimit:*")]
    finally:
        client.close()
    assert any(re.search(r"per_ip/203\.0\.113\.60/", key) for key in keys), keys
