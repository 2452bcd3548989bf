"""How the routes get their session: through one of `Tx`, `ReadTx` (deps.py) or `DirectTx`
(direct_pool.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from gateway import deps, direct_pool
from gateway.agents import routes as agents
from gateway.audit import routes as audit
from gateway.identity import routes as identity
from gateway.publishing import openai_compat
from gateway.publishing import routes as publishing
from gateway.specs import routes as specs
from gateway.testing import routes as testing
from gateway.users import routes as users

ROUTERS = (
    agents.router,
    specs.router,
    specs.coach,
    specs.compilations,
    testing.cases,
    testing.router,
    publishing.router,
    publishing.imports,
    openai_compat.router,
    identity.router,
    identity.callback,
    users.router,
    audit.router,
)
# The routes with no caller yet: asking for a sign-in link, and using it.
SIGN_IN = {"/api/v1/auth/magic-link", "/auth/callback"}
# Each authenticates the caller before the route runs.
SESSIONS = {
    deps.transaction,
    deps.reading,
    direct_pool.direct,
}
AUTHENTICATING = SESSIONS | {deps.current_user}


def calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from calls(sub)


def api_routes() -> list[APIRoute]:
    routes = [r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)]
    assert len(routes) == 46  # every operation of the API (checks the list above is complete)
    return routes


def test_no_route_opens_more_than_one_session() -> None:
    several = [r.path for r in api_routes() if len(SESSIONS & set(calls(r.dependant))) > 1]

    assert several == []


def test_every_route_of_an_agent_of_the_caller_authenticates() -> None:
    unauthenticated = [
        r.path
        for r in api_routes()
        if r.path.startswith("/api/v1/agents") and not AUTHENTICATING & set(calls(r.dependant))
    ]

    assert unauthenticated == []


def test_every_route_but_signing_in_authenticates_its_caller() -> None:
    unauthenticated = {r.path for r in api_routes() if not AUTHENTICATING & set(calls(r.dependant))}

    assert unauthenticated == SIGN_IN


def test_signing_in_opens_a_transaction_without_a_caller() -> None:
    signing_in = [r for r in api_routes() if r.path in SIGN_IN and "POST" in (r.methods or set())]

    assert len(signing_in) == 2
    assert all(deps.anonymous_transaction in set(calls(r.dependant)) for r in signing_in)
