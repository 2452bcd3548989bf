"""Paging: the one opaque cursor every paged list hands out and takes back.

A cursor is the sort key of a page's last item (`created_at` and `id`, or a number), as URL-safe
base64 of a JSON list without padding. Anything else is answered 422 `invalid_cursor`, a number
past its column's range (`INT`, `BIGINT`) included: it never reaches a query.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from contracts.storable import INT32_MAX, INT64_MAX
from gateway.errors import ApiError

Key = datetime | UUID | int
T = TypeVar("T")


@dataclass(frozen=True)
class Whole:
    """A cursor part that is a whole number from 0 to `most` (the column's range)."""

    most: int


INT = Whole(INT32_MAX)
"""A number kept in an `INTEGER` column: a version or a case index."""
BIGINT = Whole(INT64_MAX)
"""A number kept in a `BIGINT` column: a sequence number."""
Kind = type[datetime] | type[UUID] | Whole


def encode_cursor(*key: Key) -> str:
    values = [k.isoformat() if isinstance(k, datetime) else _plain(k) for k in key]
    raw = json.dumps(values).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *kinds: Kind) -> tuple[Any, ...]:
    """The key `encode_cursor` was given, each part checked against `kinds` (e.g. `datetime, UUID`
    or `INT`)."""
    try:
        if not cursor.isascii():
            raise ValueError("not a cursor")
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parsed = json.loads(raw, parse_constant=_refuse, parse_float=_refuse)
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


def _refuse(_value: str) -> Any:
    raise ValueError("not a cursor")


def _parse(kind: Kind, value: object) -> Key:
    if isinstance(kind, Whole):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= kind.most:
            raise ValueError("not a cursor")
        return value
    if not isinstance(value, str) or not value.isascii():
        raise ValueError("not a cursor")
    if kind is datetime:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:  # every cursor this API hands out carries its offset
            raise ValueError("not a cursor")
        return parsed
    return UUID(value)
