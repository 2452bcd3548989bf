"""Unit tests of the HTTP models for agents: trimming, limits, unknown fields, the listed shape."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from gateway.agents.repository import AgentItem
from gateway.agents.schemas import AgentCreate, AgentPublic, AgentUpdate


def error_types(exc: pytest.ExceptionInfo[ValidationError]) -> list[tuple[tuple[Any, ...], str]]:
    return [(tuple(e["loc"]), e["type"]) for e in exc.value.errors()]


class TestAgentCreate:
    def test_name_and_description_are_stripped(self) -> None:
        body = AgentCreate.model_validate({"name": "  Ada  ", "description": "\tBilling help \n"})

        assert body.name == "Ada"
        assert body.description == "Billing help"

    def test_description_defaults_to_empty(self) -> None:
        assert AgentCreate.model_validate({"name": "Ada"}).description == ""

    @pytest.mark.parametrize("name", ["", "   ", "\t\n"])
    def test_empty_or_whitespace_only_name_is_rejected(self, name: str) -> None:
        with pytest.raises(ValidationError) as exc:
            AgentCreate.model_validate({"name": name})

        assert error_types(exc) == [(("name",), "string_too_short")]

    def test_missing_name_is_rejected(self) -> None:
        with pytest.raises(ValidationError) as exc:
            AgentCreate.model_validate({"description": "Billing help"})

        assert error_types(exc) == [(("name",), "missing")]

    def test_name_of_100_characters_is_accepted_after_stripping(self) -> None:
        body = AgentCreate.model_validate({"name": "  " + "a" * 100 + "  "})

        assert body.name == "a" * 100

    def test_name_over_100_characters_is_rejected(self) -> None:
        with pytest.raises(ValidationError) as exc:
            AgentCreate.model_validate({"name": "a" * 101})

        assert error_types(exc) == [(("name",), "string_too_long")]

    def test_description_of_500_characters_is_accepted(self) -> None:
        body = AgentCreate.model_validate({"name": "Ada", "description": "d" * 500})

        assert body.description == "d" * 500

    def test_description_over_500_characters_is_rejected(self) -> None:
        with pytest.raises(ValidationError) as exc:
            AgentCreate.model_validate({"name": "Ada", "description": "d" * 501})

        assert error_types(exc) == [(("description",), "string_too_long")]

    def test_unknown_field_is_rejected(self) -> None:
        with pytest.raises(ValidationError) as exc:
            AgentCreate.model_validate({"name": "Ada", "owner_id": "someone-else"})

        assert error_types(exc) == [(("owner_id",), "extra_forbidden")]

    def test_json_body_is_validated_the_same_way(self) -> None:
        body = AgentCreate.model_validate_json('{"name": " Ada ", "description": " Help "}')

        assert body == AgentCreate(name="Ada", description="Help")


class TestAgentUpdate:
    def test_empty_body_sets_nothing(self) -> None:
        body = AgentUpdate.model_validate({})

        assert body.model_dump(exclude_unset=True) == {}

    def test_body_with_only_description_sets_only_description(self) -> None:
        body = AgentUpdate.model_validate({"description": "  New help text "})

        assert body.model_dump(exclude_unset=True) == {"description": "New help text"}

    def test_body_with_only_name_sets_only_name(self) -> None:
        body = AgentUpdate.model_validate({"name": " Bea "})

        assert body.model_dump(exclude_unset=True) == {"name": "Bea"}

    def test_whitespace_only_name_is_rejected(self) -> None:
        with pytest.raises(ValidationError) as exc:
            AgentUpdate.model_validate({"name": "   "})

        assert error_types(exc) == [(("name",), "string_too_short")]

    def test_unknown_field_is_rejected(self) -> None:
        with pytest.raises(ValidationError) as exc:
            AgentUpdate.model_validate({"revision": 2})

        assert error_types(exc) == [(("revision",), "extra_forbidden")]


def test_a_listed_agent_has_the_fields_of_agent_public_in_its_order() -> None:
    # The list sends its rows as read (agents/repository.py), documented as `AgentPublic`.
    assert list(AgentItem.__annotations__) == list(AgentPublic.model_fields)
