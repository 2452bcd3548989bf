"""Personal API tokens: random, shown once, stored only as a SHA-256 hash.

A token carries 256 bits of randomness, so a fast hash is the right tool (a slow password hash
protects guessable secrets; it would only add latency to every request here).
"""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "sas_"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def display_prefix(token: str) -> str:
    """The part of a token safe to show in listings, to tell tokens apart."""
    return token[: len(TOKEN_PREFIX) + 6]
