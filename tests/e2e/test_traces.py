"""One user action is one trace across the services, as exported over OTLP by the standard
`OTEL_*` settings: HTTP → outbox → NATS → compiler → database → the event back to the gateway."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest

from tests.support.fake_openai import FakeOpenAI
from tests.support.fixtures import Stack
from tests.support.otlp import ReceivedSpan, TraceReceiver, trace_receiver
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

SERVER, CLIENT, CONSUMER = 2, 3, 5  # OTLP's SpanKind numbers
REQUEST = "POST /api/v1/agents/{agent_id}/compilations"


@pytest.fixture
def receiver() -> Iterator[TraceReceiver]:
    with trace_receiver() as running:
        yield running


def test_a_compile_request_is_one_trace_across_the_gateway_and_the_compiler(
    receiver: TraceReceiver, isolated_stack: Callable[..., Stack]
) -> None:
    stack = isolated_stack(
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        OTEL_BSP_SCHEDULE_DELAY="100",  # export within a tenth of a second, not the default 5 s
    )
    stack.start("compiler")
    stack.start("gateway")
    with stack.new_user() as client:
        agent_id = client.post("/api/v1/agents", json={"name": "Traced"}).json()["id"]
        client.put(
            f"/api/v1/agents/{agent_id}/spec",
            json={"blocks": {"persona": {"role": "billing support agent"}}},
        )
        accepted = client.post(f"/api/v1/agents/{agent_id}/compilations")
        assert accepted.status_code == 202, accepted.text
        done = client.get(
            f"/api/v1/agents/{agent_id}/compilations/{accepted.json()['id']}",
            params={"wait": 20},
            timeout=30,
        )
        assert done.json()["status"] == "succeeded"

    def request_spans() -> list[ReceivedSpan]:
        return [s for s in receiver.spans if s.name == REQUEST and s.kind == SERVER]

    # One server span for the request: a second root would split its trace.
    [request] = eventually(request_spans, timeout=15, what="the request's span exported")
    assert request.service == "gateway"

    def one_trace() -> dict[str, ReceivedSpan]:
        in_trace = [s for s in receiver.spans if s.trace_id == request.trace_id]
        return {f"{s.service} {s.name}": s for s in in_trace if s.kind == CONSUMER}

    consumers = eventually(
        one_trace,
        lambda found: (
            {
                "compiler process compiler.cmd.compile_agent.v1",
                "gateway process compiler.evt.agent_compiled.v1",
            }
            <= set(found)
        ),
        timeout=15,
        what="the compiler's and the gateway's consumer spans in the request's trace",
    )
    # The compiler's work on the database is in the message's span: one client span per statement.
    compile_span = consumers["compiler process compiler.cmd.compile_agent.v1"]
    statements = [
        s for s in receiver.spans if s.parent_span_id == compile_span.span_id and s.kind == CLIENT
    ]
    assert any(s.attributes.get("db.system") == "postgresql" for s in statements), [
        (s.service, s.name, s.kind, s.parent_span_id == compile_span.span_id)
        for s in receiver.spans
        if s.service == "compiler"
    ]
    # The compiler's span continues a span the gateway exported; the event's continues the compiler's.
    gateway_spans = {s.span_id for s in receiver.spans if s.service == "gateway"}
    compiler_spans = {s.span_id for s in receiver.spans if s.service == "compiler"}
    assert consumers["compiler process compiler.cmd.compile_agent.v1"].parent_span_id in (
        gateway_spans
    )
    assert consumers["gateway process compiler.evt.agent_compiled.v1"].parent_span_id in (
        compiler_spans
    )


def test_a_coach_request_traces_the_ai_call_in_the_compiler(
    receiver: TraceReceiver, isolated_stack: Callable[..., Stack], fake_openai: FakeOpenAI
) -> None:
    stack = isolated_stack(
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        OTEL_BSP_SCHEDULE_DELAY="100",
        AI_PROVIDER="openai",
        OPENAI_API_KEY="sk-test",
        OPENAI_BASE_URL=fake_openai.base_url,
        AI_MODEL="gpt-4o-mini",
    )
    stack.start("compiler")
    stack.start("gateway")
    fake_openai.respond(json.dumps({"draft": {"role": "billing agent"}}), usage=(120, 30))
    with stack.new_user() as client:
        agent_id = client.post("/api/v1/agents", json={"name": "Coached"}).json()["id"]
        coached = client.post(f"/api/v1/agents/{agent_id}/spec/coach", json={"block": "persona"})
    assert coached.status_code == 200, coached.text

    def ai_call() -> list[ReceivedSpan]:
        return [s for s in receiver.spans if s.name == "chat gpt-4o-mini"]

    [call] = eventually(ai_call, timeout=15, what="the AI call's span exported")
    assert call.service == "compiler"
    assert call.kind == CLIENT
    assert (
        call.attributes["gen_ai.usage.input_tokens"],
        call.attributes["gen_ai.usage.output_tokens"],
    ) == (120, 30)

    def chain_up_from_the_call() -> list[str]:
        trace = {s.span_id: s for s in receiver.spans if s.trace_id == call.trace_id}
        chain = []
        span: ReceivedSpan | None = call
        while span is not None:
            chain.append(f"{span.service} {span.name}")
            span = trace.get(span.parent_span_id)
        return chain

    chain = eventually(
        chain_up_from_the_call,
        lambda found: found[-1].startswith("gateway POST"),
        timeout=15,
        what="the AI call's span linked up to the request's",
    )
    # From the AI call up to the person's request, one trace across both services.
    assert chain[1] == "compiler process qry.compiler.coach_block.v1"
    assert chain[-1] == "gateway POST /api/v1/agents/{agent_id}/spec/coach"
