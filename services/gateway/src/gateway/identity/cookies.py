"""The session cookie: what it is called and how it is set and cleared."""

from __future__ import annotations

from fastapi import Response

from gateway.settings import GatewaySettings

SESSION_COOKIE = "studio_session"


def set_session_cookie(response: Response, secret: str, settings: GatewaySettings) -> None:
    """HttpOnly (no script reads it), SameSite=Lax (not sent on other sites' POSTs), Secure outside
    development; it lives as long as the session may, the server deciding when it ends."""
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=settings.session_lifetime_hours * 3600,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.cookies_secure,
    )


def clear_session_cookie(response: Response, settings: GatewaySettings) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=settings.cookies_secure
    )
