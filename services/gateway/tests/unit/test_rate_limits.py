"""`limit("sign_in")`, the dependency a sign-in route adds: per client address and per email, on a
small app of its own in this process (the `limits` library's memory storage, no fakes)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from gateway.ratelimit import Limiter, RateLimitedError, limit, too_many_requests
from gateway.settings import GatewaySettings
from runtime.settings import SettingsError, load_settings
from tests.support import infra


def sign_in_app(**settings: Any) -> FastAPI:
    app = FastAPI()
    app.state.limiter = Limiter(GatewaySettings(**settings))

    @app.post("/sign-in", dependencies=[limit("sign_in")])
    async def sign_in(body: dict[str, Any]) -> dict[str, str]:
        return {"status": "sent"}

    @app.exception_handler(RateLimitedError)
    async def refused(_request: Request, exc: RateLimitedError) -> JSONResponse:
        return too_many_requests(exc)

    return app


async def post(app: FastAPI, email: str, client: tuple[str, int] = ("192.0.2.1", 1)) -> Any:
    transport = httpx.ASGITransport(app=app, client=client)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        return await http.post("/sign-in", json={"email": email})


async def test_sign_in_is_limited_per_email_whatever_the_address() -> None:
    app = sign_in_app(rate_limit_sign_in="100/minute", rate_limit_sign_in_email="2/15 minutes")

    first = await post(app, "ada@example.com", ("192.0.2.1", 1))
    second = await post(app, " Ada@Example.com ", ("192.0.2.2", 1))
    third = await post(app, "ada@example.com", ("192.0.2.3", 1))
    other = await post(app, "grace@example.com", ("192.0.2.3", 1))

    assert (first.status_code, second.status_code, other.status_code) == (200, 200, 200)
    assert third.status_code == 429
    assert third.json()["error"]["policy"] == "sign_in_email"
    assert third.headers["ratelimit-policy"] == '"sign_in_email";q=2;w=900'
    assert "ada" not in third.text  # the email is a key by its hash only


async def test_sign_in_is_limited_per_address_whatever_the_email() -> None:
    app = sign_in_app(rate_limit_sign_in="3/minute", rate_limit_sign_in_email="100/minute")

    statuses = [(await post(app, f"u{i}@example.com")).status_code for i in range(3)]
    refused = await post(app, "u9@example.com")
    elsewhere = await post(app, "u9@example.com", ("192.0.2.99", 1))

    assert statuses == [200, 200, 200]
    assert refused.status_code == 429
    assert refused.json()["error"]["policy"] == "sign_in"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert elsewhere.status_code == 200


async def test_nothing_is_limited_when_rate_limits_are_off() -> None:
    app = sign_in_app(rate_limit_enabled=False, rate_limit_sign_in="1/minute")

    statuses = {(await post(app, "ada@example.com")).status_code for _ in range(5)}

    assert statuses == {200}


@pytest.mark.parametrize(
    "name", ["RATE_LIMIT_PER_IP", "RATE_LIMIT_SIGN_IN", "GATEWAY_RATE_LIMIT_BAD_CREDENTIALS"]
)
def test_a_rate_that_does_not_parse_is_refused_naming_it(name: str) -> None:
    with pytest.raises(SettingsError, match=f"setting {name} is invalid: .*10/minute"):
        load_settings(GatewaySettings, "gateway", {name: "lots"})


async def test_an_unreachable_redis_lets_requests_through() -> None:
    port = infra.free_port()  # nothing listens there
    limiter = Limiter(
        GatewaySettings(redis_url=f"redis://127.0.0.1:{port}/0", rate_limit_per_ip="1/minute")
    )

    for _ in range(3):
        await limiter.hit(limiter.policies["per_ip"], "192.0.2.1")  # would raise if refused


def test_a_placeholder_smtp_password_is_refused_outside_development() -> None:
    env = {
        "STUDIO_ENV": "production",
        "DATABASE_URL": "postgresql://studio:Kq8vX2mZ7rT4@db:5432/studio",
        "SMTP_URL": "smtp://mail:587",
        "SMTP_PASSWORD": "changeme",
    }

    with pytest.raises(SettingsError, match="setting SMTP_PASSWORD is invalid: is a placeholder"):
        load_settings(GatewaySettings, "gateway", env)
