"""What every response carries for a browser's safety, and the API's own documentation page.

The policy is strict (no inline scripts or styles, nothing from another origin) so that the web UI,
served from `/` as files of its own, runs under it unchanged. `/docs` is the one page with a policy
of its own: Swagger UI's files come from its CDN and its start-up script is allowed by its hash.
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
DOCS_PATH = "/docs"
_SWAGGER_CDN = "https://cdn.jsdelivr.net"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def security_headers(csp: str, *, hsts: bool) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"content-security-policy", csp.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        # same-origin, not no-referrer: under no-referrer a browser's form POST carries
        # `Origin: null`, which the CSRF check refuses; other sites still learn nothing.
        (b"referrer-policy", b"same-origin"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]
    if hsts:
        # Browsers heed it over HTTPS only; behind TLS-terminating proxies that is every request.
        headers.append((b"strict-transport-security", b"max-age=63072000; includeSubDomains"))
    return headers


class SecurityHeadersMiddleware:
    """Adds the prebuilt headers to every response (errors and 429s included)."""

    def __init__(
        self, app: ASGIApp, headers: list[tuple[bytes, bytes]], docs: list[tuple[bytes, bytes]]
    ) -> None:
        self.app = app
        self.headers = headers
        self.docs = docs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.docs if scope["path"] == DOCS_PATH else self.headers

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                # A response that sets one of these itself (a page's own policy) keeps its own.
                names = {name.lower() for name, _ in headers}
                headers.extend(h for h in extra if h[0] not in names)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def add_docs(app: FastAPI, *, hsts: bool) -> list[tuple[bytes, bytes]]:
    """Serve Swagger UI at /docs; returns the headers that page needs (its scripts' hashes)."""
    page = get_swagger_ui_html(openapi_url=app.openapi_url or "", title=f"{app.title} - docs")
    html = bytes(page.body).decode()
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in _INLINE_SCRIPT.findall(html)
    )
    csp = (
        f"default-src 'self'; script-src 'self' {_SWAGGER_CDN} {hashes}; "
        f"style-src 'self' {_SWAGGER_CDN}; img-src 'self' data: https://fastapi.tiangolo.com; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )

    async def docs(_request: Request) -> HTMLResponse:
        return HTMLResponse(html)

    app.add_route(DOCS_PATH, docs, include_in_schema=False)
    return security_headers(csp, hsts=hsts)
