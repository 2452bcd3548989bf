"""Spans when none are exported: not recorded, yet the ids of a caller's trace still go on to the
messages a request or a message causes."""

from __future__ import annotations

import pytest
from opentelemetry import propagate, trace

from runtime import observability

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture(autouse=True)
def not_exporting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)


def carried(span: trace.Span) -> str:
    """The `traceparent` a message sent inside the span carries."""
    headers: dict[str, str] = {}
    propagate.inject(headers, context=trace.set_span_in_context(span))
    return headers["traceparent"]


def test_a_span_of_its_own_is_not_recorded_but_has_ids_to_pass_on() -> None:
    tracer = observability.tracer_provider("test").get_tracer("test")
    with tracer.start_as_current_span("GET /api/v1/agents") as span:
        assert not span.is_recording()
        version, trace_id, span_id, flags = carried(span).split("-")
    assert version == "00"
    assert int(flags, 16) & 1 == 0  # not sampled: nobody downstream records it either
    assert int(trace_id, 16) != 0
    assert int(span_id, 16) != 0


@pytest.mark.parametrize(("flags", "recorded"), [("01", True), ("00", False)])
def test_a_callers_trace_goes_on_and_is_recorded_only_when_the_caller_samples_it(
    flags: str, recorded: bool
) -> None:
    tracer = observability.tracer_provider("test").get_tracer("test")
    caller = propagate.extract({"traceparent": f"00-{CALLER_TRACE}-00f067aa0ba902b7-{flags}"})
    with tracer.start_as_current_span("POST /api/v1/agents", context=caller) as span:
        assert span.is_recording() is recorded
        _, trace_id, span_id, sent_flags = carried(span).split("-")
    assert trace_id == CALLER_TRACE
    assert span_id != "00f067aa0ba902b7"
    assert int(sent_flags, 16) & 1 == int(flags, 16)
