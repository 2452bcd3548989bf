"""Every registered model survives envelope → JSON bytes → `registry.decode`; bad bytes are poison."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from pydantic import BaseModel

from contracts import registry
from contracts import subjects as s
from contracts.coach import CoachBlockV1
from contracts.compiler import (
    AgentCompiledV1,
    CompilationFailedV1,
    CompileAgentV1,
    ListCompilationsV1,
    Section,
    VariableDecl,
)
from contracts.privacy import (
    CompilationsErasedV1,
    EraseCompilationsV1,
    EraseTestRunsV1,
    EraseVersionsV1,
    TestRunsErasedV1,
    VersionsErasedV1,
)
from contracts.publishing import (
    AgentDeletedV1,
    ChannelMove,
    ChannelMovedV1,
    ChannelMoveRefusedV1,
    GetChannelHistoryV1,
    GetVersionV1,
    ImportAgentVersionsV1,
    ImportedMove,
    ListVersionsV1,
    ModelSettings,
    MoveChannelV1,
    PublishRefusedV1,
    PublishVersionV1,
    VersionDetail,
    VersionPublishedV1,
    VersionSummary,
)
from contracts.runs import (
    AddRunCasesV1,
    CancelTestRunV1,
    ExecuteCaseV1,
    FanOutRunV1,
    GetTestRunV1,
    RunCase,
    RunSummary,
    StartTestRunV1,
    TestRunCancelledV1,
    TestRunCompletedV1,
    TestRunPausedV1,
    TestRunResumedV1,
    TestRunStartedV1,
)

COMPILATION_ID = UUID("3f1c2a7e-0b6d-4c1e-9a55-0c4f7d2b8e01")
AGENT_ID = UUID("a9d4e6b2-5c3f-4e8a-b1d7-2f6e9c0a4b12")
CORRELATION_ID = UUID("5e0b7c1d-8a2f-4d6e-93b4-7c1a0e5f2d23")
CAUSATION_ID = UUID("c2e8f4a6-1b3d-4f5a-8e7c-9d0b2a4c6e34")
OWNER_ID = UUID("e7a1c3b5-9d2f-4b6e-a0c8-1f3e5d7b9a45")

RUN_ID = UUID("0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b56")
CASE = RunCase.model_validate(
    {
        "index": 0,
        "test_case_id": "3f2e1d0c-9b8a-4765-8432-10fedcba9876",
        "description": "cites the invoice",
        "input": "Why was I charged twice?",
        "vars": {"company": "Acme", "plan": {"tier": "pro"}},
        "assert": [
            {"type": "contains", "value": "INV-"},
            {"type": "equals"},
            {"type": "llm-rubric", "value": "polite", "threshold": 0.7, "metric": "tone"},
        ],
        "threshold": 0.5,
    }
)
SUMMARY = RunSummary(
    run_id=RUN_ID,
    agent_id=AGENT_ID,
    compilation_id=COMPILATION_ID,
    status="completed",
    total=1,
    repeat=3,
    executions=3,
    executed=3,
    passed=0,
    failed=1,
    errored=0,
    flaky=1,
    pass_rate=0.0,
    created_at=datetime(2026, 11, 25, 17, 0, tzinfo=UTC),
    started_at=datetime(2026, 11, 25, 17, 0, 1, tzinfo=UTC),
    finished_at=datetime(2026, 11, 25, 17, 0, 9, tzinfo=UTC),
)

PUBLISH_ID = UUID("7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c21")
VERSION = VersionSummary(
    agent_id=AGENT_ID,
    number=2,
    compilation_id=COMPILATION_ID,
    test_run_id=RUN_ID,
    spec_revision=3,
    notes="friendlier tone",
    forced=False,
    force_reason=None,
    overridden=None,
    published_by=OWNER_ID,
    published_at=datetime(2026, 11, 25, 18, 0, tzinfo=UTC),
)
MOVE = ChannelMove(
    seq=7,
    agent_id=AGENT_ID,
    channel="production",
    from_version=1,
    to_version=2,
    moved_by=OWNER_ID,
    reason="promote",
    moved_at=datetime(2026, 11, 25, 18, 1, tzinfo=UTC),
)

# One realistic instance per registered model; a new model without one fails the test below.
EXAMPLES: dict[type[BaseModel], BaseModel] = {
    CompileAgentV1: CompileAgentV1(
        compilation_id=COMPILATION_ID,
        agent_id=AGENT_ID,
        spec_revision=3,
        blocks={
            "persona": {"name": "Ada", "tone": ["calm", "precise"]},
            "limits": {"max_tokens": 2048, "temperature": 0.2},
            "tools_enabled": True,
            "notes": None,
        },
    ),
    AgentCompiledV1: AgentCompiledV1(
        compilation_id=COMPILATION_ID,
        agent_id=AGENT_ID,
        spec_revision=3,
        instructions="You are Ada, a calm and precise assistant.\n\nAnswer in English.",
        sections=[
            Section(title="Persona", body="You are Ada, a calm and precise assistant."),
            Section(title="Language", body="Answer in English."),
        ],
        spec_hash="sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        compiler_version="0.1.0",
    ),
    CompilationFailedV1: CompilationFailedV1(
        compilation_id=COMPILATION_ID,
        agent_id=AGENT_ID,
        spec_revision=3,
        error="block 'persona' has no name",
    ),
    CoachBlockV1: CoachBlockV1(
        agent_id=AGENT_ID,
        block="workflow",
        guidance="three steps at most",
        blocks={"mission": {"problem": "Answer invoice questions"}},
    ),
    StartTestRunV1: StartTestRunV1(
        run_id=RUN_ID,
        agent_id=AGENT_ID,
        compilation_id=COMPILATION_ID,
        instructions="## System Backbone\nYou answer for {{company}}.",
        variables=[VariableDecl(name="company")],
        model="gpt-4o-mini",
        temperature=0.2,
        repeat=3,
        cache=False,
        total_cases=1,
    ),
    AddRunCasesV1: AddRunCasesV1(run_id=RUN_ID, cases=[CASE]),
    ExecuteCaseV1: ExecuteCaseV1(run_id=RUN_ID, repeat_index=2, case=CASE),
    FanOutRunV1: FanOutRunV1(run_id=RUN_ID, offset=500),
    CancelTestRunV1: CancelTestRunV1(run_id=RUN_ID, reason="cancelled by its owner"),
    TestRunStartedV1: TestRunStartedV1(run_id=RUN_ID, agent_id=AGENT_ID, executions=3),
    TestRunCompletedV1: TestRunCompletedV1(
        summary=SUMMARY, passed_cases=[], failed_cases=[CASE.test_case_id], errored_cases=[]
    ),
    TestRunCancelledV1: TestRunCancelledV1(
        summary=SUMMARY.model_copy(update={"status": "cancelled"})
    ),
    TestRunPausedV1: TestRunPausedV1(
        run_id=RUN_ID,
        reason="AI provider unavailable: circuit open",
        at=datetime(2026, 11, 25, 17, 0, 5, tzinfo=UTC),
    ),
    TestRunResumedV1: TestRunResumedV1(
        run_id=RUN_ID, at=datetime(2026, 11, 25, 17, 0, 7, tzinfo=UTC)
    ),
    GetTestRunV1: GetTestRunV1(run_id=RUN_ID, results_after=(0, 1), results_limit=50),
    PublishVersionV1: PublishVersionV1(
        publish_id=PUBLISH_ID,
        agent_id=AGENT_ID,
        compilation_id=COMPILATION_ID,
        test_run_id=RUN_ID,
        spec_revision=3,
        spec={"persona": {"role": "billing agent for {{company}}"}},
        instructions="## System Backbone\nRole: billing agent for {{company}}",
        variables=[VariableDecl(name="company")],
        settings=ModelSettings(model="gpt-4o-mini", temperature=0.2),
        notes="friendlier tone",
        channel="staging",
        force=True,
        reason="the failing case is being rewritten",
        min_pass_rate=0.9,
        published_by=OWNER_ID,
        owner_id=OWNER_ID,
    ),
    MoveChannelV1: MoveChannelV1(
        move_id=PUBLISH_ID, agent_id=AGENT_ID, channel="production", version=2, moved_by=OWNER_ID
    ),
    VersionPublishedV1: VersionPublishedV1(
        publish_id=PUBLISH_ID, version=VERSION, channel="staging"
    ),
    PublishRefusedV1: PublishRefusedV1(
        publish_id=PUBLISH_ID,
        agent_id=AGENT_ID,
        reason="1 case(s) that passed in the run behind production (version 1) fail now",
        regressions=[CASE.test_case_id],
    ),
    ChannelMovedV1: ChannelMovedV1(move_id=None, move=MOVE),
    ChannelMoveRefusedV1: ChannelMoveRefusedV1(
        move_id=PUBLISH_ID,
        agent_id=AGENT_ID,
        channel="production",
        reason="version 9 does not exist",
    ),
    ListVersionsV1: ListVersionsV1(agent_id=AGENT_ID, before=5, limit=10),
    GetVersionV1: GetVersionV1(agent_id=AGENT_ID, number=2),
    GetChannelHistoryV1: GetChannelHistoryV1(agent_id=AGENT_ID, channel="production"),
    AgentDeletedV1: AgentDeletedV1(agent_id=AGENT_ID),
    ListCompilationsV1: ListCompilationsV1(agent_id=AGENT_ID, after=COMPILATION_ID, limit=10),
    EraseCompilationsV1: EraseCompilationsV1(
        erasure_id=PUBLISH_ID, user_id=OWNER_ID, agent_ids=[AGENT_ID], part=0, parts=1
    ),
    CompilationsErasedV1: CompilationsErasedV1(
        erasure_id=PUBLISH_ID, part=0, parts=1, erased={"compilations": 2}
    ),
    EraseTestRunsV1: EraseTestRunsV1(
        erasure_id=PUBLISH_ID, user_id=OWNER_ID, agent_ids=[AGENT_ID], part=1, parts=2
    ),
    TestRunsErasedV1: TestRunsErasedV1(erasure_id=PUBLISH_ID, part=1, parts=2),
    EraseVersionsV1: EraseVersionsV1(
        erasure_id=PUBLISH_ID, user_id=OWNER_ID, agent_ids=[], part=0, parts=1
    ),
    VersionsErasedV1: VersionsErasedV1(
        erasure_id=PUBLISH_ID, part=0, parts=1, erased={"versions": 1, "channels": 1}
    ),
    ImportAgentVersionsV1: ImportAgentVersionsV1(
        agent_id=AGENT_ID,
        owner_id=OWNER_ID,
        versions=[
            VersionDetail(
                **VERSION.model_dump(),
                spec={"persona": {"role": "billing agent"}},
                instructions="## System Backbone\nRole: billing agent",
                variables=[],
                settings=ModelSettings(),
            )
        ],
        moves=[ImportedMove(**MOVE.model_dump(exclude={"seq", "agent_id"}))],
    ),
}


def _envelope_json(subject: s.Subject) -> dict[str, Any]:
    """The wire form of an example envelope, as a dict a test can tamper with."""
    envelope = registry.envelope_for(
        EXAMPLES[registry.MODELS[subject]],
        source="studio/gateway",
        correlation_id=CORRELATION_ID,
        owner_id=OWNER_ID,
    )
    loaded: dict[str, Any] = json.loads(envelope.model_dump_json())
    return loaded


class TestRoundTrip:
    """Example → envelope → JSON bytes → `registry.decode` gives back an equal envelope."""

    def test_every_registered_model_has_an_example(self) -> None:
        assert set(EXAMPLES) == set(registry.MODELS.values())

    @pytest.mark.parametrize("subject", s.ALL_SUBJECTS, ids=lambda subject: subject.relative)
    def test_envelope_survives_json_round_trip(self, subject: s.Subject) -> None:
        data = EXAMPLES[registry.MODELS[subject]]
        envelope = registry.envelope_for(
            data,
            source="studio/gateway",
            correlation_id=CORRELATION_ID,
            owner_id=OWNER_ID,
            causation_id=CAUSATION_ID,
        )

        decoded = registry.decode(subject.relative, envelope.model_dump_json().encode())

        assert decoded == envelope
        assert type(decoded.data) is registry.MODELS[subject]
        assert decoded.data == data
        assert decoded.type == subject.type
        assert decoded.time.utcoffset() == timedelta(0)

    def test_envelope_without_optional_ids_survives_json_round_trip(self) -> None:
        envelope = registry.envelope_for(
            EXAMPLES[CompilationFailedV1],
            source="studio/compiler",
            correlation_id=CORRELATION_ID,
            owner_id=None,
        )

        decoded = registry.decode(
            "compiler.evt.compilation_failed.v1", envelope.model_dump_json().encode()
        )

        assert decoded == envelope
        assert decoded.causation_id is None
        assert decoded.owner_id is None

    def test_envelope_for_stamps_the_canonical_type_and_given_ids(self) -> None:
        envelope = registry.envelope_for(
            EXAMPLES[CompileAgentV1],
            source="studio/gateway",
            correlation_id=CORRELATION_ID,
            owner_id=OWNER_ID,
            causation_id=CAUSATION_ID,
        )

        assert envelope.type == "studio.compiler.cmd.compile_agent.v1"
        assert envelope.source == "studio/gateway"
        assert (envelope.correlation_id, envelope.causation_id, envelope.owner_id) == (
            CORRELATION_ID,
            CAUSATION_ID,
            OWNER_ID,
        )

    def test_each_envelope_gets_its_own_id(self) -> None:
        first, second = (
            registry.envelope_for(
                EXAMPLES[CompileAgentV1],
                source="studio/gateway",
                correlation_id=CORRELATION_ID,
                owner_id=OWNER_ID,
            )
            for _ in range(2)
        )

        assert first.id != second.id

    def test_decode_ignores_unknown_fields_in_envelope_and_data(self) -> None:
        """A tolerant reader: a newer producer may add optional fields that this consumer lacks."""
        wire = _envelope_json(s.AGENT_COMPILED)
        expected = registry.decode("compiler.evt.agent_compiled.v1", json.dumps(wire).encode())
        wire["priority"] = "high"
        wire["data"]["warnings"] = ["block 'style' is empty"]
        wire["data"]["sections"][0]["anchor"] = "persona"

        decoded = registry.decode("compiler.evt.agent_compiled.v1", json.dumps(wire).encode())

        assert decoded == expected


class TestDecodeRejects:
    """Bytes that are not a valid message for their subject raise `UndecodableMessageError`."""

    def test_decode_rejects_an_oversized_message_before_parsing_it(self) -> None:
        payload = b"{" + b" " * registry.MAX_MESSAGE_BYTES + b"}"
        with pytest.raises(registry.UndecodableMessageError) as raised:
            registry.decode("compiler.cmd.compile_agent.v1", payload)

        assert str(raised.value) == (
            f"oversized compiler.cmd.compile_agent.v1 message: {len(payload)} bytes, "
            f"more than {registry.MAX_MESSAGE_BYTES}"
        )

    def test_another_versions_message_is_named_as_such_not_by_its_fields(self) -> None:
        wire = _envelope_json(s.AGENT_COMPILED)
        wire["type"] = wire["type"].replace(".v1", ".v2")
        del wire["data"]["sections"]  # as a v2 might have changed its shape
        with pytest.raises(registry.UndecodableMessageError) as raised:
            registry.decode("compiler.evt.agent_compiled.v1", json.dumps(wire).encode())

        assert str(raised.value).startswith("envelope type ")
        assert "does not match subject 'compiler.evt.agent_compiled.v1'" in str(raised.value)

    def test_decode_rejects_invalid_json(self) -> None:
        with pytest.raises(registry.UndecodableMessageError) as raised:
            registry.decode("compiler.cmd.compile_agent.v1", b'{"id": "3f1c2a7e", not json')

        message = str(raised.value)
        assert message.startswith(
            "invalid compiler.cmd.compile_agent.v1 message: <root>: Invalid JSON"
        )

    def test_decode_rejects_a_wrong_typed_field_naming_it(self) -> None:
        wire = _envelope_json(s.COMPILE_AGENT)
        wire["data"]["spec_revision"] = "three"

        with pytest.raises(registry.UndecodableMessageError) as raised:
            registry.decode("compiler.cmd.compile_agent.v1", json.dumps(wire).encode())

        assert str(raised.value) == (
            "invalid compiler.cmd.compile_agent.v1 message: data.spec_revision: "
            "Input should be a valid integer, unable to parse string as an integer"
        )

    def test_decode_rejects_a_missing_required_field_naming_it(self) -> None:
        wire = _envelope_json(s.COMPILATION_FAILED)
        del wire["data"]["error"]
        del wire["correlation_id"]

        with pytest.raises(registry.UndecodableMessageError) as raised:
            registry.decode("compiler.evt.compilation_failed.v1", json.dumps(wire).encode())

        assert str(raised.value) == (
            "invalid compiler.evt.compilation_failed.v1 message: "
            "correlation_id: Field required; data.error: Field required"
        )

    def test_decode_rejects_an_unknown_subject(self) -> None:
        payload = json.dumps(_envelope_json(s.COMPILE_AGENT)).encode()

        with pytest.raises(registry.UndecodableMessageError) as raised:
            registry.decode("compiler.cmd.compile_agent.v9", payload)

        assert str(raised.value) == (
            "no message is registered for subject 'compiler.cmd.compile_agent.v9'"
        )

    def test_decode_expects_the_subject_without_its_root(self) -> None:
        payload = json.dumps(_envelope_json(s.COMPILE_AGENT)).encode()

        with pytest.raises(registry.UndecodableMessageError) as raised:
            registry.decode("studio.compiler.cmd.compile_agent.v1", payload)

        assert str(raised.value) == (
            "no message is registered for subject 'studio.compiler.cmd.compile_agent.v1'"
        )

    @pytest.mark.parametrize(
        "wrong_type",
        [
            # Valid data for this subject, but the envelope claims to be another message.
            "studio.compiler.evt.agent_compiled.v1",
            # The deployment's root never appears in `type`: types are always under `studio`.
            "t0a1b2c3d4e.compiler.evt.compilation_failed.v1",
        ],
    )
    def test_decode_rejects_an_envelope_whose_type_does_not_match_the_subject(
        self,
        wrong_type: str,
    ) -> None:
        wire = _envelope_json(s.COMPILATION_FAILED)
        wire["type"] = wrong_type

        with pytest.raises(registry.UndecodableMessageError) as raised:
            registry.decode("compiler.evt.compilation_failed.v1", json.dumps(wire).encode())

        assert str(raised.value) == (
            f"envelope type {wrong_type!r} does not match subject 'compiler.evt.compilation_failed.v1'"
        )


def test_an_assertion_without_a_value_stays_without_one_across_the_wire() -> None:
    """promptfoo tells `equals` with no value from `equals: null`; a run must not blur them."""
    decoded = ExecuteCaseV1.model_validate_json(EXAMPLES[ExecuteCaseV1].model_dump_json())
    contains, equals, rubric = decoded.case.assertions
    assert "value" in contains.model_fields_set
    assert "value" not in equals.model_fields_set
    assert (rubric.threshold, rubric.metric) == (0.7, "tone")
