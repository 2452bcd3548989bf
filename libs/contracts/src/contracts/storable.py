"""What every store accepts, as annotated types every model shares (plain data, no I/O).

PostgreSQL's `text` and `jsonb` refuse the NUL character (U+0000) and `jsonb` refuses NaN and
Infinity; an `INTEGER` column holds at most 2**31 - 1. A value that passes these types is stored
by every service, so a request is refused at the edge with the field named, never accepted for a
store (or a command's consumer, five deliveries later) to refuse.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import AfterValidator, AllowInfNan, BeforeValidator, Field, JsonValue, Strict
from pydantic_core import PydanticCustomError

INT32_MAX = 2**31 - 1
"""The largest value of an `INTEGER` column (version and revision numbers, indexes)."""
INT64_MAX = 2**63 - 1
"""The largest value of a `BIGINT` column (sequence numbers)."""
JSON_DEPTH_MAX = 64
"""Levels of arrays and objects in one JSON value (a spec's JSON Schema, a case's vars)."""


def no_nul(value: str) -> str:
    if "\x00" in value:
        raise PydanticCustomError(
            "nul_character", "must not contain the NUL character (\\u0000), which cannot be stored"
        )
    return value


def storable_json(value: Any) -> Any:
    """`value` when every string (object keys too) is free of NUL, every number is finite and it
    nests at most `JSON_DEPTH_MAX` levels."""
    problem = json_problem(value)
    if problem is not None:
        raise PydanticCustomError("unstorable_json", "{problem}", {"problem": problem})
    return value


def json_problem(value: Any) -> str | None:
    """Why `value` (as read from JSON or YAML) cannot be stored, naming where; None when it can.
    Walked without recursion, so any depth is safe to look at."""
    pending: list[tuple[Any, str, int]] = [(value, "", 0)]
    while pending:
        item, where, depth = pending.pop()
        at = f"at {where}: " if where else ""
        if isinstance(item, dict | list):
            if depth >= JSON_DEPTH_MAX:
                return (
                    f"{at}nests deeper than {JSON_DEPTH_MAX} levels of arrays and objects; "
                    f"the limit is {JSON_DEPTH_MAX}"
                )
            entries = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in entries:
                if isinstance(key, str) and "\x00" in key:
                    return f"{at}a key contains the NUL character (\\u0000), which cannot be stored"
                pending.append((child, f"{where}.{key}" if where else str(key), depth + 1))
        elif isinstance(item, str) and "\x00" in item:
            return f"{at}contains the NUL character (\\u0000), which cannot be stored"
        elif isinstance(item, float) and not math.isfinite(item):
            return f"{at}{item} is not a finite number (NaN and Infinity cannot be stored)"
    return None


def json_depth(value: Any) -> int:
    """Levels of arrays and objects in `value` (0 for a scalar), counted without recursion."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth + 1)
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
    return deepest


NoNul = AfterValidator(no_nul)
"""Put after a `StringConstraints`: `Annotated[str, StringConstraints(max_length=…), NoNul]`."""
Text = Annotated[str, NoNul]
"""Text that can be stored."""
Number = Annotated[float, Strict(), AllowInfNan(False)]
"""A finite number given as a number: `false` is not 0, `"1"` is not 1, NaN is not a number."""
Int32 = Annotated[int, Strict(), Field(ge=-(2**31), le=INT32_MAX)]
# Checked before pydantic walks the value itself, which would recurse as deep as it nests.
Json = Annotated[JsonValue, BeforeValidator(storable_json)]
JsonObject = Annotated[dict[str, JsonValue], BeforeValidator(storable_json)]
AnyJson = Annotated[Any, AfterValidator(storable_json)]
"""Any value read from JSON or YAML (left as read), held to what `Json` holds."""
