"""Unit tests of the rules of signing in: the CSRF check, the settings, mail retries, token cache."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest
from pydantic import ValidationError

from gateway import auth
from gateway.identity import csrf
from gateway.identity.mail import retry_delay
from gateway.identity.schemas import MagicLinkRequest
from gateway.notifications import TokenCache
from gateway.settings import GatewaySettings
from runtime.settings import SettingsError, load_settings

STUDIO = "https://studio.example.com"
SECRET = auth.new_secret()
GOOD = auth.csrf_token(SECRET)


def refusal(method: str = "POST", token: str | None = GOOD, **headers: str) -> str | None:
    return csrf.refusal(
        method, token, headers.get("origin"), headers.get("referer"), SECRET, STUDIO
    )


def test_a_write_with_the_sessions_csrf_token_passes() -> None:
    assert refusal() is None
    assert refusal(origin=STUDIO) is None
    assert refusal(referer=f"{STUDIO}/agents/1") is None


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_a_write_without_the_csrf_token_is_refused(method: str) -> None:
    assert "X-CSRF-Token" in (refusal(method, None) or "")


def test_a_csrf_token_of_another_session_is_refused() -> None:
    assert refusal(token=auth.csrf_token(auth.new_secret())) is not None


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"origin": "null"},
        {"origin": "http://studio.example.com"},  # same host, other scheme
        {"referer": "https://evil.example/page"},
    ],
)
def test_a_write_from_another_origin_is_refused_even_with_the_token(
    headers: dict[str, str],
) -> None:
    assert refusal(**headers) is not None


def test_reads_need_no_csrf_token() -> None:
    assert refusal("GET", None, origin="https://evil.example") is None


def test_the_csrf_token_differs_from_the_cookie_and_between_sessions() -> None:
    assert GOOD != SECRET
    assert auth.csrf_token(auth.new_secret()) != GOOD


def test_smtp_url_is_required_outside_development_only() -> None:
    with pytest.raises(SettingsError, match=r"SMTP_URL is invalid: .*outside development"):
        load_settings(GatewaySettings, "gateway", {"STUDIO_ENV": "production"})

    settings = load_settings(GatewaySettings, "gateway", {"STUDIO_ENV": "development"})
    assert settings.smtp_url is None


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://mail.example.com", "smtp://host:port"),
        ("smtp://user:secret@mail.example.com:587", "SMTP_PASSWORD"),
    ],
)
def test_a_bad_smtp_url_is_refused_without_echoing_it(url: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message) as raised:
        load_settings(GatewaySettings, "gateway", {"SMTP_URL": url})
    assert "secret" not in str(raised.value)


def test_the_public_base_url_defaults_to_the_gateways_own_address() -> None:
    settings = load_settings(GatewaySettings, "gateway", {"GATEWAY_HTTP_PORT": "8123"})

    assert settings.base_url == "http://127.0.0.1:8123"
    assert settings.cookies_secure is False  # development: plain HTTP on a laptop


def test_the_public_base_url_and_secure_cookies_outside_development() -> None:
    settings = load_settings(
        GatewaySettings,
        "gateway",
        {
            "STUDIO_ENV": "production",
            "SMTP_URL": "smtp://mail:587",
            "SMTP_PASSWORD": "hunter2",
            "PUBLIC_BASE_URL": "https://studio.example.com/",
        },
    )

    assert settings.base_url == "https://studio.example.com"
    assert settings.cookies_secure is True
    assert "hunter2" not in repr(settings)


def test_failed_mail_is_retried_sooner_first_then_at_most_every_five_minutes() -> None:
    delays = [retry_delay(n) for n in range(1, 12)]

    assert delays[0] == timedelta(seconds=2)
    assert delays == sorted(delays)
    assert delays[-1] == timedelta(minutes=5)


def test_a_cached_token_is_forgotten_when_it_expires_before_the_cache_would() -> None:
    cache = TokenCache(ttl=30)
    expiring, lasting = auth.hash_token(auth.new_token()), auth.hash_token(auth.new_token())
    user = uuid4()

    cache.put(expiring, user, valid_for=-1)  # expired already
    cache.put(lasting, user, valid_for=3600)

    assert cache.get(expiring) is None
    assert cache.get(lasting) == user


@pytest.mark.parametrize(
    "address",
    ["a,evil@example.com", "a@example.com\nBcc: x@y.io", "no-at-sign", "a@localhost", '"a b"@x.io'],
)
def test_a_sign_in_address_is_one_plain_address(address: str) -> None:
    with pytest.raises(ValidationError):
        MagicLinkRequest(email=address)


def test_a_sign_in_address_is_compared_in_lower_case() -> None:
    assert MagicLinkRequest(email="  Ann.Lee+x@Example.COM ").email == "ann.lee+x@example.com"
