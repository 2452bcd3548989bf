"""CSRF protection for requests a browser authenticates with the session cookie (pure rules).

A state-changing request must carry the session's CSRF token in `X-CSRF-Token` (a page of another
site can make the browser send the cookie, but cannot read the token), and, when the browser names
where the request comes from (`Origin`, else `Referer`), that must be the studio's own origin.
Bearer tokens are exempt: a browser never attaches them on its own.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from gateway import auth

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
HEADER = "X-CSRF-Token"


def origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def foreign_origin(origin: str | None, referer: str | None, allowed: str) -> str | None:
    """The origin the request claims when it is not `allowed` (`null` from a sandboxed page never
    is); None when it is, or when the client names none (not a browser)."""
    if origin:
        claimed = origin
    elif referer:
        claimed = origin_of(referer) or "an unreadable Referer"
    else:
        return None
    return None if claimed.rstrip("/").lower() == allowed.lower() else claimed


def refusal(
    method: str,
    given_token: str | None,
    origin: str | None,
    referer: str | None,
    session_secret: str,
    allowed_origin: str,
) -> str | None:
    """Why a cookie-authenticated request is refused, or None when it may proceed."""
    if method.upper() in SAFE_METHODS:
        return None
    foreign = foreign_origin(origin, referer, allowed_origin)
    if foreign is not None:
        return f"a request from {foreign} may not use the session; only {allowed_origin} may"
    if not given_token or not auth.same_secret(given_token, auth.csrf_token(session_secret)):
        return f"send the session's CSRF token (GET /api/v1/me) in the {HEADER} header"
    return None
