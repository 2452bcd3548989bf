"""The app tries its routers hot paths first (`gateway.app.ROUTERS`): safe only while no request,
a path and a method, matches routes of two routers in full, so that the order changes no answer."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.convertors import FloatConvertor, IntegerConvertor
from starlette.routing import Match

from gateway.app import ROUTERS

PARAMETER = re.compile(r"{(\w+)(?::\w+)?}")


def sample_path(route: APIRoute) -> str:
    """`route`'s path with a value its converter accepts in place of each parameter."""

    def value(match: re.Match[str]) -> str:
        convertor = route.param_convertors[match.group(1)]
        if isinstance(convertor, IntegerConvertor):
            return "1"
        if isinstance(convertor, FloatConvertor):
            return "1.5"
        return str(uuid.uuid4())

    return PARAMETER.sub(value, route.path)


def clashes(routers: Sequence[APIRouter]) -> list[str]:
    """Each request, one per method of each route, that routes of two routers match in full."""
    found = []
    for router in routers:
        others = [r for other in routers if other is not router for r in other.routes]
        for route in (r for r in router.routes if isinstance(r, APIRoute)):
            for method in sorted(route.methods or ()):
                scope = {"type": "http", "method": method, "path": sample_path(route)}
                found += [
                    f"{method} {route.path} and {getattr(other, 'path', other)}"
                    for other in others
                    if other.matches(dict(scope))[0] == Match.FULL
                ]
    return found


def test_no_request_matches_routes_of_two_routers() -> None:
    assert clashes(ROUTERS) == []


def test_a_route_under_another_routers_parameter_is_a_clash() -> None:
    by_id = APIRouter()
    by_id.add_api_route("/api/v1/agents/{agent_id}", lambda: None, methods=["POST"])
    literal = APIRouter()
    literal.add_api_route("/api/v1/agents/import", lambda: None, methods=["POST", "GET"])

    assert clashes((by_id, literal)) == ["POST /api/v1/agents/import and /api/v1/agents/{agent_id}"]
