"""Unit tests of personal API tokens: their shape, their hash and the part shown in listings."""

from __future__ import annotations

import string
from uuid import UUID

from gateway.auth import display_prefix, hash_token, new_token
from gateway.notifications import TokenCache

URLSAFE_ALPHABET = set(string.ascii_letters + string.digits + "-_")


def test_new_token_starts_with_sas_prefix() -> None:
    assert new_token()[:4] == "sas_"


def test_new_token_carries_43_url_safe_characters_after_the_prefix() -> None:
    secret = new_token().removeprefix("sas_")

    assert len(secret) == 43
    assert set(secret) <= URLSAFE_ALPHABET


def test_new_tokens_are_unique_across_1000_draws() -> None:
    tokens = {new_token() for _ in range(1000)}

    assert len(tokens) == 1000


def test_hash_is_32_bytes() -> None:
    digest = hash_token(new_token())

    assert isinstance(digest, bytes)
    assert len(digest) == 32


def test_hash_is_deterministic() -> None:
    token = new_token()

    assert hash_token(token) == hash_token(token)


def test_hash_is_sha256_of_the_token_text() -> None:
    expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

    assert hash_token("abc").hex() == expected


def test_different_tokens_have_different_hashes() -> None:
    assert hash_token("sas_one") != hash_token("sas_two")


def test_display_prefix_is_the_first_ten_characters_of_the_token() -> None:
    token = new_token()

    prefix = display_prefix(token)

    assert len(prefix) == 10
    assert token.startswith(prefix)
    assert prefix[:4] == "sas_"


def test_display_prefix_keeps_six_characters_after_the_sas_prefix() -> None:
    assert display_prefix("sas_abcdefghijklmnop") == "sas_abcdef"


def test_token_cache_forgets_entries_after_their_ttl() -> None:
    cache = TokenCache(ttl=-1.0)
    cache.put(b"h", UUID(int=1))
    assert cache.get(b"h") is None


def test_token_cache_keeps_at_most_max_entries_dropping_the_oldest() -> None:
    cache = TokenCache(ttl=60, max_entries=2)
    for i in range(3):
        cache.put(bytes([i]), UUID(int=i))
    assert [cache.get(bytes([i])) for i in range(3)] == [None, UUID(int=1), UUID(int=2)]
