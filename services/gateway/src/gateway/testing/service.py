"""Test-case use cases: CRUD with assertion checks, and import of a promptfoo `tests:` list. The
route has checked that the agent is the caller's (`OwnedAgent`)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from assertions import (
    Assertion,
    InvalidAssertion,
    UnsupportedAssertion,
    validate_assertion,
)
from assertions.jsyaml import (
    YamlDocumentTooLarge,
    YamlError,
    YamlExpansionTooLarge,
    YamlUnsupported,
    load_yaml,
)
from contracts.storable import json_problem
from contracts.testing import TestCaseSpec
from gateway.errors import ApiError, not_found
from gateway.pagination import BIGINT, cut, decode_cursor
from gateway.quotas.service import Quotas
from gateway.testing import schemas
from gateway.testing.repository import TestCase, TestCaseRepository


def check(case: TestCaseSpec, where: str = "assert") -> None:
    """422 naming the case and the assertion when an assertion cannot run."""
    for i, assertion in enumerate(case.assertions):
        try:
            validate_assertion(assertion)
        except (InvalidAssertion, UnsupportedAssertion) as exc:
            label = f" ({case.description})" if case.description else ""
            raise ApiError(422, "invalid_assertion", f"{where}.{i}{label}: {exc}") from None


def spec_of(row: TestCase) -> TestCaseSpec:
    """A stored case as written (for export)."""
    return TestCaseSpec.model_validate(
        {
            "description": row.description,
            "input": row.input,
            "vars": row.vars,
            "assert": row.assertions,
            "threshold": row.threshold,
        }
    )


def row_of(case: TestCaseSpec) -> dict[str, Any]:
    return _row(case)


def _row(case: TestCaseSpec) -> dict[str, Any]:
    return {
        "description": case.description,
        "input": case.input,
        "vars": case.vars,
        "assertions": [a.model_dump(mode="json", exclude_none=True) for a in case.assertions],
        "threshold": case.threshold,
    }


def _public(row: TestCase) -> schemas.TestCasePublic:
    return schemas.TestCasePublic.model_validate(
        {
            "id": row.id,
            "description": row.description,
            "input": row.input,
            "vars": row.vars,
            "assert": row.assertions,
            "threshold": row.threshold,
            "created_at": row.created_at,
            "updated_at": row.updated_at,
        }
    )


async def create(
    session: AsyncSession, agent_id: UUID, case: TestCaseSpec, quotas: Quotas
) -> schemas.TestCasePublic:
    check(case)
    await quotas.admit_cases(session, agent_id, 1)
    [row] = await TestCaseRepository(session).add_many(agent_id, [_row(case)])
    return _public(row)


async def list_cases(
    session: AsyncSession, agent_id: UUID, limit: int, cursor: str | None
) -> schemas.TestCasesPublic:
    after = decode_cursor(cursor, BIGINT)[0] if cursor is not None else None
    rows = await TestCaseRepository(session).list_page(agent_id, limit + 1, after)
    page, next_cursor = cut(rows, limit, lambda r: (r.seq,))
    return schemas.TestCasesPublic(items=[_public(r) for r in page], next_cursor=next_cursor)


async def get(session: AsyncSession, agent_id: UUID, case_id: UUID) -> schemas.TestCasePublic:
    row = await TestCaseRepository(session).get(agent_id, case_id)
    if row is None:
        raise not_found("test case", case_id)
    return _public(row)


async def replace(
    session: AsyncSession, agent_id: UUID, case_id: UUID, case: TestCaseSpec
) -> schemas.TestCasePublic:
    check(case)
    row = await TestCaseRepository(session).replace(agent_id, case_id, _row(case))
    if row is None:
        raise not_found("test case", case_id)
    return _public(row)


async def delete(session: AsyncSession, agent_id: UUID, case_id: UUID) -> None:
    if not await TestCaseRepository(session).delete(agent_id, case_id):
        raise not_found("test case", case_id)


async def import_promptfoo(
    session: AsyncSession, agent_id: UUID, text: str, input_var: str, quotas: Quotas
) -> schemas.ImportReport:
    """Import a promptfoo config's `tests:` list (or a bare list). The case input is the test's
    `vars[input_var]`. An assertion type Agent Studio does not run is left out of its case and
    reported; a case that is invalid otherwise is skipped and reported. Nothing is silent."""
    tests = _tests(text)
    imported: list[tuple[int, TestCaseSpec, list[schemas.DroppedAssertion]]] = []
    reports: list[schemas.ImportedCase] = []
    for index, test in enumerate(tests):
        case, dropped, problem = _convert(test, input_var)
        if case is None:
            reports.append(schemas.ImportedCase(index=index, status="skipped", problem=problem))
        else:
            imported.append((index, case, dropped))
    await quotas.admit_cases(session, agent_id, len(imported))
    rows = await TestCaseRepository(session).add_many(agent_id, [_row(c) for _, c, _ in imported])
    for (index, case, dropped), row in zip(imported, rows, strict=True):
        reports.append(
            schemas.ImportedCase(
                index=index,
                status="imported",
                id=row.id,
                description=case.description,
                dropped=dropped,
            )
        )
    reports.sort(key=lambda r: r.index)
    return schemas.ImportReport(imported=len(rows), skipped=len(tests) - len(rows), cases=reports)


def _tests(text: str) -> list[Any]:
    try:
        # promptfoo reads its configs with js-yaml (YAML 1.2): `yes` and `12:30` stay strings.
        document = load_yaml(text, timestamps="keep")
    except YamlDocumentTooLarge as exc:
        raise ApiError(413, "yaml_too_large", str(exc)) from None
    except YamlExpansionTooLarge as exc:
        raise ApiError(422, "yaml_too_large", str(exc)) from None
    except (YamlError, YamlUnsupported) as exc:
        raise ApiError(422, "invalid_yaml", f"the body is not YAML: {exc}") from None
    tests = document.get("tests") if isinstance(document, dict) else document
    if not isinstance(tests, list):
        raise ApiError(
            422, "invalid_suite", "expected a promptfoo config with a `tests:` list, or a list"
        )
    if len(tests) > 1000:
        raise ApiError(413, "suite_too_large", f"{len(tests)} tests; import at most 1000 at a time")
    # What promptfoo itself could not load, or no store could hold, refuses the whole suite.
    problem = json_problem(tests) or _shape_problem(tests)
    if problem is not None:
        raise ApiError(422, "invalid_suite", f"tests.{problem.removeprefix('at ')}")
    return tests


def _shape_problem(tests: list[Any]) -> str | None:
    for i, test in enumerate(tests):
        assertions = test.get("assert") if isinstance(test, dict) else None
        if assertions is not None and not isinstance(assertions, list):
            return f"{i}.assert: must be a list of assertions"
        for j, raw in enumerate(assertions or []):
            if not isinstance(raw, dict):
                return f"{i}.assert.{j}: an assertion must be a mapping with a `type`"
    return None


def _convert(
    test: Any, input_var: str
) -> tuple[TestCaseSpec | None, list[schemas.DroppedAssertion], str | None]:
    if not isinstance(test, dict):
        return None, [], "a test must be a mapping"
    variables = test.get("vars") or {}
    if not isinstance(variables, dict) or not isinstance(variables.get(input_var), str):
        return None, [], f"vars.{input_var} (the case input) is missing or not text"
    kept: list[Any] = []
    dropped: list[schemas.DroppedAssertion] = []
    for i, raw in enumerate(test.get("assert") or []):
        try:
            assertion = Assertion.model_validate(raw)
            validate_assertion(assertion)
        except UnsupportedAssertion as exc:
            dropped.append(schemas.DroppedAssertion(type=str(raw.get("type")), reason=str(exc)))
            continue
        except (InvalidAssertion, ValidationError) as exc:
            return None, [], f"assert.{i}: {_first_line(exc)}"
        kept.append(assertion)
    try:
        case = TestCaseSpec(
            description=test.get("description"),
            input=variables[input_var],
            vars=variables,
            assertions=kept,
            threshold=test.get("threshold"),
        )
    except ValidationError as exc:
        return None, [], _first_line(exc)
    return case, dropped, None


def _first_line(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        return f"{'.'.join(str(p) for p in err['loc']) or 'value'}: {err['msg']}"
    return str(exc).splitlines()[0]
