"""Paging: the one opaque cursor every paged list hands out and takes back.

A cursor is the sort key of a page's last item (`created_at` and `id`, or a number), as URL-safe
base64 of a JSON list without padding. Anything else is answered 422 `invalid_cursor`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from gateway.errors import ApiError

Key = datetime | UUID | int
T = TypeVar("T")


def encode_cursor(*key: Key) -> str:
    values = [k.isoformat() if isinstance(k, datetime) else _plain(k) for k in key]
    raw = json.dumps(values).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *kinds: type[Key]) -> tuple[Any, ...]:
    """The key `encode_cursor` was given, each part checked against `kinds` (e.g. `datetime, UUID`)."""
    try:
        parsed = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not (isinstance(parsed, list) and len(parsed) == len(kinds)):
            raise ValueError("not a cursor")
        return tuple(_parse(kind, value) for kind, value in zip(kinds, parsed, strict=True))
    except (ValueError, TypeError) as exc:
        raise ApiError(422, "invalid_cursor", "cursor is not one this API returned") from exc


def cut(
    rows: Sequence[T], limit: int, key: Callable[[T], tuple[Key, ...]]
) -> tuple[Sequence[T], str | None]:
    """A page of `limit` from `limit + 1` rows, and the cursor of the next page (None on the last)."""
    page = rows[:limit]
    return page, encode_cursor(*key(page[-1])) if len(rows) > limit else None


def _plain(key: UUID | int) -> str | int:
    return key if isinstance(key, int) else str(key)


def _parse(kind: type[Key], value: object) -> Key:
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError("not a cursor")
        return value
    if not isinstance(value, str):
        raise ValueError("not a cursor")
    return datetime.fromisoformat(value) if kind is datetime else UUID(value)
