"""What a browser and a hostile client meet at the gateway: security headers on every response, no
server banner, bounded request heads, CORS closed unless configured, docs that can be turned off,
and settings that refuse placeholder secrets outside development without ever echoing them."""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import sys
from collections.abc import Callable

import httpx
import pytest

from tests.support import infra
from tests.support.fixtures import Stack
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.e2e

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def assert_safe_headers(response: httpx.Response, *, hsts: bool = True) -> None:
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["x-frame-options"] == "DENY"
    assert "camera=()" in headers["permissions-policy"]
    assert "server" not in headers
    assert ("strict-transport-security" in headers) is hsts


@pytest.mark.parametrize(
    ("method", "path", "signed_in", "status"),
    [
        ("GET", "/healthz", False, 200),
        ("GET", "/openapi.json", False, 200),
        ("GET", "/api/v1/agents", False, 401),
        ("GET", "/api/v1/agents", True, 200),
        ("POST", "/api/v1/agents", True, 422),
        ("GET", "/api/v1/agents/00000000-0000-0000-0000-000000000000", True, 404),
        ("GET", "/api/v1/nowhere", False, 404),
        ("GET", "/agents/a-page-of-the-web-ui", False, 200),
        ("DELETE", "/healthz", False, 405),
    ],
)
def test_every_response_carries_the_security_headers(
    stack: Stack, method: str, path: str, signed_in: bool, status: int
) -> None:
    headers = {"Authorization": f"Bearer {stack.new_token()}"} if signed_in else {}

    response = httpx.request(method, f"{stack.gateway_url}{path}", headers=headers, json={})

    assert response.status_code == status
    assert response.headers["content-security-policy"] == CSP
    assert "unsafe" not in response.headers["content-security-policy"]
    assert_safe_headers(response)  # STUDIO_ENV=test: not development, so HSTS too


def test_the_docs_page_allows_its_own_script_by_hash_and_nothing_inline(stack: Stack) -> None:
    response = httpx.get(f"{stack.gateway_url}/docs")

    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "unsafe" not in csp
    assert "frame-ancestors 'none'" in csp
    inline = re.findall(r"<script>(.*?)</script>", response.text, re.DOTALL)
    assert inline
    for script in inline:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp
    assert_safe_headers(response)
    assert httpx.get(f"{stack.gateway_url}/redoc").status_code == 404


@pytest.mark.parametrize(("size", "status"), [(8_000, 200), (100_000, 431)])
def test_a_request_head_over_the_limit_is_refused(stack: Stack, size: int, status: int) -> None:
    response = httpx.get(f"{stack.gateway_url}/healthz", headers={"x-padding": "a" * size})

    assert response.status_code == status
    if status == 431:
        assert response.json()["error"]["code"] == "request_header_too_large"
        assert "server" not in response.headers
    # The gateway goes on serving.
    assert httpx.get(f"{stack.gateway_url}/healthz").status_code == 200


def preflight(url: str, origin: str) -> httpx.Response:
    return httpx.options(
        f"{url}/api/v1/agents",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
    )


def test_cors_is_closed_unless_origins_are_configured(
    stack: Stack, gateway_with: Callable[..., ServiceProcess]
) -> None:
    closed = preflight(stack.gateway_url, "https://ui.example")
    gateway = gateway_with(CORS_ORIGINS="https://ui.example, https://admin.example")
    allowed = preflight(gateway.url, "https://ui.example")
    stranger = preflight(gateway.url, "https://evil.example")

    assert "access-control-allow-origin" not in closed.headers
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://ui.example"
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-origin" not in stranger.headers


def test_outside_development_docs_are_off_and_secrets_stay_out_of_the_log(
    stack: Stack, gateway_with: Callable[..., ServiceProcess]
) -> None:
    db_password, api_key = "Kq8vX2mZ7rT4wQ", "sk-proj-4fJ9qLw2Xv8TzR1mN6bY"
    database_url = stack.database_url.replace("postgres@", f"postgres:{db_password}@", 1)
    gateway = gateway_with(
        STUDIO_ENV="staging",
        LOG_LEVEL="DEBUG",
        DATABASE_URL=database_url,
        OPENAI_API_KEY=api_key,
        AI_PROVIDER="offline",
    )
    token = stack.new_token()
    answers = [httpx.get(f"{gateway.url}{path}") for path in ("/docs", "/redoc", "/openapi.json")]
    signed_in = httpx.get(
        f"{gateway.url}/api/v1/agents", headers={"Authorization": f"Bearer {token}"}
    )

    assert [a.status_code for a in answers] == [404, 404, 404]
    assert signed_in.status_code == 200
    assert_safe_headers(signed_in)
    log = gateway.log_text()
    assert "gateway.ready" in log
    assert db_password not in log
    assert api_key not in log


def test_docs_can_be_turned_off(gateway_with: Callable[..., ServiceProcess]) -> None:
    gateway = gateway_with(API_DOCS="false")

    assert httpx.get(f"{gateway.url}/docs").status_code == 404
    assert httpx.get(f"{gateway.url}/openapi.json").status_code == 404


@pytest.mark.parametrize(
    ("overrides", "variable", "secret"),
    [
        ({"OPENAI_API_KEY": "sk-...placeholder"}, "OPENAI_API_KEY", "sk-...placeholder"),
        ({"GATEWAY_OPENAI_API_KEY": "changeme"}, "GATEWAY_OPENAI_API_KEY", "changeme"),
        ({"DATABASE_URL": "postgresql://studio@db/studio"}, "DATABASE_URL", None),
        (
            {"DATABASE_URL": "postgresql://studio:change_me_please@db/studio"},
            "DATABASE_URL",
            "change_me_please",
        ),
    ],
)
def test_production_refuses_a_placeholder_or_missing_secret_in_one_line(
    stack: Stack, overrides: dict[str, str], variable: str, secret: str | None
) -> None:
    env = stack.env("gateway", GATEWAY_HTTP_PORT=str(infra.free_port()))
    env.update(
        {
            "STUDIO_ENV": "production",
            "DATABASE_URL": "postgresql://studio:Kq8vX2mZ7rT4@db:5432/studio",
            **overrides,
        }
    )

    result = subprocess.run(
        [sys.executable, "-m", "gateway"], env=env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"agent-studio: setting {variable} is invalid: ")
    assert "STUDIO_ENV=production" in lines[0]
    if secret is not None:
        assert secret not in result.stderr + result.stdout
