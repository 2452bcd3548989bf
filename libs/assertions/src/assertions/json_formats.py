"""JSON Schema `format` checks as ajv-formats 3 ("full" mode, the `addFormats(ajv)` default) makes
them: a subset of its string formats, each a JS regex (ASCII, `i` where ajv-formats sets it, `$` at
the very end) or its small validator function.

`FORMATS` holds the formats checked here; `AJV_FORMATS` every name ajv-formats defines, so that a
name outside it is Ajv's strict-mode "unknown format" and one inside but not here is unsupported.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from assertions.jsregex_chars import SPACE

_FLAGS = re.ASCII | re.IGNORECASE

AJV_FORMATS = frozenset(
    {"date", "time", "date-time", "iso-time", "iso-date-time", "duration", "uri",
     "uri-reference", "uri-template", "url", "email", "hostname", "ipv4", "ipv6", "regex",
     "uuid", "json-pointer", "json-pointer-uri-fragment", "relative-json-pointer", "byte",
     "int32", "int64", "float", "double", "password", "binary"}
)  # fmt: skip

_DATE = re.compile(r"(\d\d\d\d)-(\d\d)-(\d\d)\Z", re.ASCII)
_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_TIME = re.compile(r"(\d\d):(\d\d):(\d\d(?:\.\d+)?)(z|([+-])(\d\d)(?::?(\d\d))?)?\Z", _FLAGS)
_JS_SPACE = "".join(f"\\u{low:04x}-\\u{high:04x}" for low, high in SPACE)
_DATE_TIME_SEPARATOR = re.compile(f"[tT{_JS_SPACE}]")


def _is_leap_year(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _date(text: str) -> bool:
    m = _DATE.match(text)
    if m is None:
        return False
    year, month, day = (int(g) for g in m.groups())
    if not 1 <= month <= 12:
        return False
    return 1 <= day <= (29 if month == 2 and _is_leap_year(year) else _DAYS[month])


def _time(strict_time_zone: bool) -> Callable[[str], bool]:
    def check(text: str) -> bool:
        m = _TIME.match(text)
        if m is None:
            return False
        hour, minute, second = int(m.group(1)), int(m.group(2)), float(m.group(3))
        zone, sign = m.group(4), -1 if m.group(5) == "-" else 1
        zone_hour, zone_minute = int(m.group(6) or 0), int(m.group(7) or 0)
        if zone_hour > 23 or zone_minute > 59 or (strict_time_zone and not zone):
            return False
        if hour <= 23 and minute <= 59 and second < 60:
            return True
        # a leap second: 23:59:60 in UTC
        utc_minute = minute - zone_minute * sign
        utc_hour = hour - zone_hour * sign - (1 if utc_minute < 0 else 0)
        return utc_hour in (23, -1) and utc_minute in (59, -1) and second < 61

    return check


def _date_time(strict_time_zone: bool) -> Callable[[str], bool]:
    time = _time(strict_time_zone)

    def check(text: str) -> bool:
        parts = _DATE_TIME_SEPARATOR.split(text)
        return len(parts) == 2 and _date(parts[0]) and time(parts[1])

    return check


def _regex(pattern: str, flags: int = _FLAGS) -> Callable[[str], bool]:
    compiled = re.compile(pattern + r"\Z", flags)
    return lambda text: compiled.match(text) is not None


_ATEXT = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]"
FORMATS: dict[str, Callable[[str], bool]] = {
    "date": _date,
    "time": _time(True),
    "date-time": _date_time(True),
    "iso-time": _time(False),
    "iso-date-time": _date_time(False),
    "duration": _regex(
        r"P(?!\Z)((\d+Y)?(\d+M)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?|(\d+W)?)", re.ASCII
    ),
    "email": _regex(
        rf"{_ATEXT}+(?:\.{_ATEXT}+)*@(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+"
        r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
    ),
    "hostname": _regex(
        r"(?=[^\n\r\u2028\u2029]{1,253}\.?\Z)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
        r"(?:\.[a-z0-9](?:[-0-9a-z]{0,61}[0-9a-z])?)*\.?"
    ),
    "ipv4": _regex(r"(?:(?:25[0-5]|2[0-4]\d|[01]?\d\d?)\.){3}(?:25[0-5]|2[0-4]\d|[01]?\d\d?)"),
    "uuid": _regex(r"(?:urn:uuid:)?[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}"),
    "json-pointer": _regex(r"(?:/(?:[^~/]|~0|~1)*)*", re.ASCII | re.DOTALL),
    "relative-json-pointer": _regex(
        r"(?:0|[1-9][0-9]*)(?:#|(?:/(?:[^~/]|~0|~1)*)*)", re.ASCII | re.DOTALL
    ),
    "password": lambda _: True,
    "binary": lambda _: True,
}
