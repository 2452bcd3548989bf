"""Unit tests of the one opaque pagination cursor: what the API hands out it takes back, nothing else."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID

import pytest

from gateway.errors import ApiError
from gateway.pagination import BIGINT, INT, Whole, decode_cursor, encode_cursor

AGENT_ID = UUID("0b7e4c1a-58d2-4f0e-9a51-2f6c3e8d9b10")
CREATED_AT = datetime(2026, 11, 25, 14, 50, 3, 123456, tzinfo=UTC)


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def assert_invalid_cursor(cursor: str) -> None:
    with pytest.raises(ApiError) as caught:
        decode_cursor(cursor, datetime, UUID)
    assert caught.value.status_code == 422
    assert caught.value.code == "invalid_cursor"
    assert caught.value.message == "cursor is not one this API returned"


@pytest.mark.parametrize(
    "created_at",
    [
        CREATED_AT,
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ],
)
def test_decoded_cursor_equals_what_was_encoded(created_at: datetime) -> None:
    cursor = encode_cursor(created_at, AGENT_ID)

    assert decode_cursor(cursor, datetime, UUID) == (created_at, AGENT_ID)


def test_cursor_is_url_safe_without_padding() -> None:
    cursor = encode_cursor(CREATED_AT, AGENT_ID)

    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@pytest.mark.parametrize("cursor", ["not a cursor!", "!!!!", "", "é", "%%%%%%%%", "a"])
def test_garbage_cursor_is_rejected(cursor: str) -> None:
    assert_invalid_cursor(cursor)


@pytest.mark.parametrize("keep", [1, 2, 5, 10, 30, -1, -3])
def test_truncated_cursor_is_rejected(keep: int) -> None:
    cursor = encode_cursor(CREATED_AT, AGENT_ID)

    assert_invalid_cursor(cursor[:keep])


@pytest.mark.parametrize("raw", [b"hello world", b"\xff\xfe\x00\x01", b"[1, 2", b"<cursor/>"])
def test_base64_of_non_json_is_rejected(raw: bytes) -> None:
    assert_invalid_cursor(b64(raw))


@pytest.mark.parametrize(
    "payload",
    [
        {},
        [],
        None,
        5,
        "ab",
        {"created_at": "2026-11-25T14:50:03+00:00"},
        ["2026-11-25T14:50:03+00:00"],
        ["2026-11-25T14:50:03+00:00", str(AGENT_ID), "extra"],
        ["yesterday", str(AGENT_ID)],
        ["2026-11-25T14:50:03+00:00", "not-a-uuid"],
        [1764082203, str(AGENT_ID)],
        ["2026-11-25T14:50:03+00:00", None],
    ],
)
def test_json_of_the_wrong_shape_is_rejected(payload: object) -> None:
    assert_invalid_cursor(b64(json.dumps(payload).encode()))


def test_json_with_a_non_string_agent_id_is_rejected() -> None:
    assert_invalid_cursor(b64(json.dumps(["2026-11-25T14:50:03+00:00", 5]).encode()))


def test_json_object_with_two_keys_is_not_a_cursor() -> None:
    assert_invalid_cursor(
        b64(
            json.dumps(
                {"2026-11-25T14:50:03+00:00": 0, "0b7c7e36-8c52-4b1e-9d4c-6f1f3b2f8a11": 0}
            ).encode()
        )
    )


def test_a_numbers_cursor_round_trips() -> None:
    assert decode_cursor(encode_cursor(12, 3), INT, INT) == (12, 3)
    assert decode_cursor(encode_cursor(7), INT) == (7,)
    assert decode_cursor(encode_cursor(2**31 - 1), INT) == (2**31 - 1,)
    assert decode_cursor(encode_cursor(2**63 - 1), BIGINT) == (2**63 - 1,)


@pytest.mark.parametrize(
    "payload", [[1], [1, 2, 3], ["1", "2"], [-1, 0], [1.5, 2], [True, 1], [None, 1]]
)
def test_a_numbers_cursor_of_the_wrong_shape_is_rejected(payload: object) -> None:
    with pytest.raises(ApiError) as caught:
        decode_cursor(b64(json.dumps(payload).encode()), INT, INT)
    assert caught.value.code == "invalid_cursor"


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (b"[2147483648]", INT),
        (b"[9223372036854775808]", BIGINT),
        (b"[1e3]", INT),
        (b"[NaN]", INT),
        (b"[Infinity]", BIGINT),
    ],
)
def test_a_number_past_its_column_or_not_a_whole_number_is_rejected(
    raw: bytes, kind: Whole
) -> None:
    with pytest.raises(ApiError) as caught:
        decode_cursor(b64(raw), kind)
    assert caught.value.code == "invalid_cursor"


@pytest.mark.parametrize(
    "cursor",
    [
        "²",
        "MQ²",
        b64('["2026-11-25T14:50:03+00:00", "\uff10b7e4c1a-58d2-4f0e-9a51-2f6c3e8d9b10"]'.encode()),
        b64('["\uff12026-11-25T14:50:03+00:00", "0b7e4c1a-58d2-4f0e-9a51-2f6c3e8d9b10"]'.encode()),
        b64(b'["2026-11-25T14:50:03", "0b7e4c1a-58d2-4f0e-9a51-2f6c3e8d9b10"]'),
    ],
)
def test_non_ascii_digits_and_times_without_an_offset_are_rejected(cursor: str) -> None:
    assert_invalid_cursor(cursor)


@pytest.mark.parametrize("cursor", ["1", "a.b", "12.3", ""])
def test_a_cursor_in_another_format_is_rejected(cursor: str) -> None:
    with pytest.raises(ApiError):
        decode_cursor(cursor, INT, INT)
