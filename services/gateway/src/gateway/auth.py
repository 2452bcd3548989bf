"""Secrets that stand for a caller: personal API tokens, sign-in links and session cookies. All are
random, shown once, and stored only as a SHA-256 hash.

Each carries 256 bits of randomness, so a fast hash is the right tool (a slow password hash
protects guessable secrets; it would only add latency to every request here).
"""

from __future__ import annotations

import base64
import hashlib
import secrets

TOKEN_PREFIX = "sas_"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_secret() -> str:
    """The secret of a sign-in link or a session cookie."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def display_prefix(token: str) -> str:
    """The part of a token safe to show in listings, to tell tokens apart."""
    return token[: len(TOKEN_PREFIX) + 6]


def csrf_token(session_secret: str) -> str:
    """The session's CSRF token: derived from the cookie's secret, so nothing more is stored, and
    a page of another site, which cannot read the cookie, cannot compute it either."""
    digest = hashlib.sha256(b"studio-csrf:" + session_secret.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def same_secret(given: str, expected: str) -> bool:
    return secrets.compare_digest(given.encode(), expected.encode())
