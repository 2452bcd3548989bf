"""Test cases, in promptfoo's field names so suites move both ways (plain data).

A case's `input` is the user message; `vars` fill the compiled instructions' `{{variables}}` and
the assertions' `{{var}}` placeholders; `assert` lists what the answer must satisfy.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contracts.storable import JsonObject, NoNul, Number
from contracts.verdicts import Assertion

CASE_INPUT_MAX = 20_000
ASSERTIONS_MAX = 50

Text = Annotated[str, StringConstraints(max_length=CASE_INPUT_MAX), NoNul]


class TestCaseSpec(BaseModel):
    """A test case as written: `{description?, input, vars?, assert: [...], threshold?}`."""

    __test__ = False  # not a pytest class, whatever its name
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    description: Annotated[str, StringConstraints(max_length=500), NoNul] | None = None
    input: Text = Field(description="The user message sent to the agent.")
    vars: JsonObject = Field(default_factory=dict)
    assertions: list[Assertion] = Field(
        default_factory=list, alias="assert", max_length=ASSERTIONS_MAX
    )
    threshold: Number | None = Field(
        default=None,
        description="Pass when the weighted score reaches it (else: no assertion fails).",
    )
