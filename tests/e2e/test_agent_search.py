"""Searching one's agents (`GET /api/v1/agents?q=`): by name or description, case-insensitive,
the text taken literally, paginated like the plain list, and never past the caller's own agents."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.fixtures import Stack

pytestmark = pytest.mark.e2e


def names(client: httpx.Client, **params: Any) -> list[str]:
    response = client.get("/api/v1/agents", params=params)
    assert response.status_code == 200, response.text
    return [agent["name"] for agent in response.json()["items"]]


def test_search_finds_agents_by_name_or_description_ignoring_case(stack: Stack) -> None:
    client = stack.new_user()
    for name, description in [
        ("Invoice helper", "answers billing questions"),
        ("Order desk", "tracks INVOICES and parcels"),
        ("Greeter", "says hello"),
    ]:
        client.post("/api/v1/agents", json={"name": name, "description": description})

    assert names(client, q="invoice") == ["Order desk", "Invoice helper"]
    assert names(client, q="  GREET ") == ["Greeter"]
    assert names(client, q="nothing like this") == []
    assert len(names(client)) == 3


def test_search_takes_wildcards_literally(stack: Stack) -> None:
    client = stack.new_user()
    for name in ["100% uptime", "1000 users", "snake_case", "snakeXcase"]:
        client.post("/api/v1/agents", json={"name": name})

    assert names(client, q="100%") == ["100% uptime"]
    assert names(client, q="snake_") == ["snake_case"]
    assert names(client, q="%") == ["100% uptime"]


def test_search_pages_with_the_cursor_and_sees_only_the_callers_agents(stack: Stack) -> None:
    owner, stranger = stack.new_user(), stack.new_user()
    for n in range(5):
        owner.post("/api/v1/agents", json={"name": f"Support {n}"})
        owner.post("/api/v1/agents", json={"name": f"Other {n}"})
    stranger.post("/api/v1/agents", json={"name": "Support of a stranger"})

    first = owner.get("/api/v1/agents", params={"q": "support", "limit": 3}).json()
    rest = owner.get(
        "/api/v1/agents", params={"q": "support", "limit": 3, "cursor": first["next_cursor"]}
    ).json()

    found = [a["name"] for a in first["items"] + rest["items"]]
    assert found == [f"Support {n}" for n in reversed(range(5))]
    assert rest["next_cursor"] is None
    assert names(stranger, q="support") == ["Support of a stranger"]


def test_a_search_text_past_its_limit_is_refused_naming_the_parameter(stack: Stack) -> None:
    response = stack.new_user().get("/api/v1/agents", params={"q": "x" * 101})

    assert response.status_code == 422
    assert response.json()["error"]["problems"][0]["field"] == "query.q"
