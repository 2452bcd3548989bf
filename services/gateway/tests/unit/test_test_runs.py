"""How the gateway cuts a run's snapshot into messages and writes JUnit XML."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest

from contracts.runs import CASES_PER_CHUNK, CaseResult, RunCase
from gateway.errors import ApiError
from gateway.testing import junit, runs
from gateway.testing.repository import TestRunView


def run_case(index: int, text: str = "x") -> RunCase:
    return RunCase.model_validate(
        {"index": index, "test_case_id": uuid.uuid4(), "input": text, "assert": []}
    )


def test_chunks_hold_at_most_the_chunk_size_in_order() -> None:
    cases = [run_case(i) for i in range(2 * CASES_PER_CHUNK + 1)]
    chunks = runs._chunks(cases)
    assert [len(c) for c in chunks] == [CASES_PER_CHUNK, CASES_PER_CHUNK, 1]
    assert [c.index for chunk in chunks for c in chunk] == list(range(len(cases)))


def test_large_cases_make_smaller_chunks_so_every_message_fits() -> None:
    cases = [run_case(i, "y" * 200_000) for i in range(6)]
    chunks = runs._chunks(cases)
    assert [len(c) for c in chunks] == [2, 2, 2]
    assert all(sum(len(c.model_dump_json()) for c in chunk) <= runs.CHUNK_BYTES for chunk in chunks)


def test_a_case_too_large_for_any_message_is_refused_by_name() -> None:
    big = RunCase.model_validate(
        {"index": 0, "test_case_id": uuid.uuid4(), "description": "huge", "input": "z" * 1_000_000}
    )
    with pytest.raises(ApiError) as refused:
        runs._chunks([big])
    assert refused.value.status_code == 422
    assert refused.value.message.startswith("test case huge is too large to run")


def result(index: int, *, pass_: bool, error: str | None = None, output: str = "out") -> CaseResult:
    return CaseResult(
        case_index=index,
        repeat_index=0,
        test_case_id=uuid.uuid4(),
        description=None if index else "first <case>",
        pass_=pass_,
        error=error,
        score=1.0 if pass_ else 0.0,
        reason="ok" if pass_ else 'Expected output to contain "a & b"',
        output=output,
        latency_ms=1500.0,
    )


def test_junit_names_failures_errors_and_the_executions_still_missing() -> None:
    view = TestRunView(
        id=uuid.uuid4(),
        agent_id=uuid.uuid4(),
        compilation_id=uuid.uuid4(),
        status="running",
        reason=None,
        total=4,
        repeat=1,
        model=None,
        temperature=None,
        cache=True,
        passed=None,
        failed=None,
        errored=None,
        flaky=None,
        pass_rate=None,
        created_at=datetime(2026, 11, 25, tzinfo=UTC),
        finished_at=None,
        paused_changed_at=None,
    )
    results = [
        result(0, pass_=True),
        result(1, pass_=False, output="bad \x07 byte"),
        result(2, pass_=False, error="AI provider: down"),
    ]
    suites = ET.fromstring(junit.junit_xml("Agent & co", None, view, results))
    suite = suites.find("testsuite")
    assert suite is not None
    assert {k: suite.get(k) for k in ("tests", "failures", "errors", "skipped", "time")} == {
        "tests": "4", "failures": "1", "errors": "1", "skipped": "1", "time": "4.500"
    }  # fmt: skip
    assert suite.get("name") == f"Agent & co — test run {view.id}"
    first, failed, errored = suite.findall("testcase")
    assert first.get("name") == "first <case>"
    assert failed.get("name") == "case 2"
    failure = failed.find("failure")
    assert failure is not None
    assert failure.get("message") == 'Expected output to contain "a & b"'
    assert failure.text == "bad \ufffd byte"  # a character XML cannot hold is replaced
    error = errored.find("error")
    assert error is not None
    assert error.get("message") == "AI provider: down"
