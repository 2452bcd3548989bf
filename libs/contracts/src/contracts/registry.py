"""Subject ↔ model map, and decoding of raw message bytes into typed envelopes."""

from __future__ import annotations

import functools
import json
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ValidationError

from contracts import subjects as s
from contracts.coach import BlockDraftedV1, CoachBlockV1
from contracts.compiler import (
    AgentCompiledV1,
    CompilationFailedV1,
    CompilationsV1,
    CompileAgentV1,
    ListCompilationsV1,
)
from contracts.envelope import Envelope
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
    ChannelHistoryV1,
    ChannelMovedV1,
    ChannelMoveRefusedV1,
    GetChannelHistoryV1,
    GetVersionV1,
    ImportAgentVersionsV1,
    ListVersionsV1,
    MoveChannelV1,
    PublishRefusedV1,
    PublishVersionV1,
    VersionPublishedV1,
    VersionsV1,
    VersionV1,
)
from contracts.runs import (
    AddRunCasesV1,
    CancelTestRunV1,
    ExecuteCaseV1,
    FanOutRunV1,
    GetTestRunV1,
    StartTestRunV1,
    TestRunCancelledV1,
    TestRunCompletedV1,
    TestRunPausedV1,
    TestRunResumedV1,
    TestRunStartedV1,
    TestRunV1,
)

MODELS: dict[s.Subject, type[BaseModel]] = {
    s.COMPILE_AGENT: CompileAgentV1,
    s.AGENT_COMPILED: AgentCompiledV1,
    s.COMPILATION_FAILED: CompilationFailedV1,
    s.COACH_BLOCK: CoachBlockV1,
    s.LIST_COMPILATIONS: ListCompilationsV1,
    s.START_TEST_RUN: StartTestRunV1,
    s.ADD_RUN_CASES: AddRunCasesV1,
    s.EXECUTE_CASE: ExecuteCaseV1,
    s.FAN_OUT_RUN: FanOutRunV1,
    s.CANCEL_TEST_RUN: CancelTestRunV1,
    s.TEST_RUN_STARTED: TestRunStartedV1,
    s.TEST_RUN_COMPLETED: TestRunCompletedV1,
    s.TEST_RUN_CANCELLED: TestRunCancelledV1,
    s.TEST_RUN_PAUSED: TestRunPausedV1,
    s.TEST_RUN_RESUMED: TestRunResumedV1,
    s.GET_TEST_RUN: GetTestRunV1,
    s.PUBLISH_VERSION: PublishVersionV1,
    s.MOVE_CHANNEL: MoveChannelV1,
    s.IMPORT_AGENT_VERSIONS: ImportAgentVersionsV1,
    s.VERSION_PUBLISHED: VersionPublishedV1,
    s.PUBLISH_REFUSED: PublishRefusedV1,
    s.CHANNEL_MOVED: ChannelMovedV1,
    s.CHANNEL_MOVE_REFUSED: ChannelMoveRefusedV1,
    s.LIST_VERSIONS: ListVersionsV1,
    s.GET_VERSION: GetVersionV1,
    s.GET_CHANNEL_HISTORY: GetChannelHistoryV1,
    s.AGENT_DELETED: AgentDeletedV1,
    s.ERASE_COMPILATIONS: EraseCompilationsV1,
    s.COMPILATIONS_ERASED: CompilationsErasedV1,
    s.ERASE_TEST_RUNS: EraseTestRunsV1,
    s.TEST_RUNS_ERASED: TestRunsErasedV1,
    s.ERASE_VERSIONS: EraseVersionsV1,
    s.VERSIONS_ERASED: VersionsErasedV1,
}

REPLIES: dict[s.Subject, type[BaseModel]] = {
    s.COACH_BLOCK: BlockDraftedV1,
    s.LIST_COMPILATIONS: CompilationsV1,
    s.GET_TEST_RUN: TestRunV1,
    s.LIST_VERSIONS: VersionsV1,
    s.GET_VERSION: VersionV1,
    s.GET_CHANNEL_HISTORY: ChannelHistoryV1,
}
"""The reply model of each query subject."""

_BY_TYPE: dict[str, s.Subject] = {subject.type: subject for subject in MODELS}
_BY_RELATIVE: dict[str, s.Subject] = {subject.relative: subject for subject in MODELS}
_SUBJECT_OF_MODEL: dict[type[BaseModel], s.Subject] = {m: subj for subj, m in MODELS.items()}


MAX_MESSAGE_BYTES = 1_000_000
"""The largest message decoded: under NATS's default 1 MiB payload limit, which every producer
already keeps to (query replies stay under 800 kB, a run's cases go in 512 KiB chunks)."""


class UndecodableMessageError(ValueError):
    """The bytes on a subject are not a valid message for it: poison, never worth redelivering."""


def is_registered(relative_subject: str) -> bool:
    return relative_subject in _BY_RELATIVE


def subject_of(data: BaseModel) -> s.Subject:
    return _SUBJECT_OF_MODEL[type(data)]


def subject_for_type(type_: str) -> s.Subject:
    return _BY_TYPE[type_]


@functools.cache
def envelope_type(model: type[BaseModel]) -> type[Envelope[Any]]:
    # Held here for the process's life: pydantic keeps parametrised generics only weakly, so a
    # garbage collection drops `Envelope[model]` and the next message rebuilds it (~3 ms each).
    return Envelope[model]  # type: ignore[valid-type]


def decode(relative_subject: str, payload: bytes) -> Envelope[Any]:
    """Decode `payload` received on `relative_subject` (the subject without its root)."""
    subject = _BY_RELATIVE.get(relative_subject)
    if subject is None:
        raise UndecodableMessageError(f"no message is registered for subject {relative_subject!r}")
    if len(payload) > MAX_MESSAGE_BYTES:
        raise UndecodableMessageError(
            f"oversized {subject.relative} message: {len(payload)} bytes, "
            f"more than {MAX_MESSAGE_BYTES}"
        )
    try:
        envelope = envelope_type(MODELS[subject]).model_validate_json(payload)
    except ValidationError as exc:
        sent_as = _declared_type(payload)
        if sent_as is not None and sent_as != subject.type:
            # Another version's or another subject's message: say that, not which fields differ.
            raise UndecodableMessageError(
                f"envelope type {sent_as!r} does not match subject {subject.relative!r}"
            ) from exc
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
            for err in exc.errors()[:5]
        )
        raise UndecodableMessageError(f"invalid {subject.relative} message: {problems}") from exc
    if envelope.type != subject.type:
        raise UndecodableMessageError(
            f"envelope type {envelope.type!r} does not match subject {subject.relative!r}"
        )
    return envelope


def _declared_type(payload: bytes) -> str | None:
    """The `type` a message that failed validation says it is, if it is readable at all."""
    try:
        declared = json.loads(payload).get("type")
    except (ValueError, AttributeError):
        return None
    return declared if isinstance(declared, str) else None


def envelope_for(
    data: BaseModel,
    *,
    source: str,
    correlation_id: UUID,
    owner_id: UUID | None,
    causation_id: UUID | None = None,
) -> Envelope[Any]:
    """Wrap `data` in a new envelope whose `type` is that of the model's registered subject."""
    return envelope_type(type(data))(
        type=subject_of(data).type,
        source=source,
        correlation_id=correlation_id,
        causation_id=causation_id,
        owner_id=owner_id,
        data=data,
    )
