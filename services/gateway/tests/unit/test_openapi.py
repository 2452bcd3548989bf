"""The OpenAPI document declares, for every operation, the error statuses it can answer, each with
the one error model (never FastAPI's default `HTTPValidationError`, which the API never sends)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from gateway.app import include_routes

ERROR_MODEL = {"$ref": "#/components/schemas/ErrorPublic"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    app = FastAPI()
    include_routes(app)
    return app.openapi()


def operations(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def error_schema(operation: dict[str, Any], status: str) -> Any:
    return operation["responses"][status]["content"]["application/json"]["schema"]


def test_every_operation_declares_credentials_validation_limits_and_rate_limits(
    document: dict[str, Any],
) -> None:
    missing = [
        (name, status)
        for name, operation in operations(document)
        for status in ("400", "401", "403", "404", "413", "422", "429")
        if status not in operation["responses"] or error_schema(operation, status) != ERROR_MODEL
    ]

    assert missing == []


def test_reads_answered_by_another_service_declare_503(document: dict[str, Any]) -> None:
    undeclared = [
        name
        for name, operation in operations(document)
        if any(
            part in name for part in ("/versions/", "/history", "/test-runs/{run_id}", "/export")
        )
        and name.startswith("GET")
        and "503" not in operation["responses"]
    ]

    assert undeclared == []


def test_no_operation_declares_a_validation_error_shape_the_api_never_sends(
    document: dict[str, Any],
) -> None:
    assert "HTTPValidationError" not in document["components"]["schemas"]
