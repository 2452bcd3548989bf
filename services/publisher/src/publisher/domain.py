"""The publisher's pure rules: the publish gate (may this test run stand behind a new version?),
the records the handlers work with, and when a channel's read-model value is replaced."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from pydantic import BaseModel

from contracts.comparison import compare_cases
from contracts.publishing import PublishedChannel, PublishedVersion, VersionDetail, VersionSummary


@dataclass(frozen=True)
class RunOutcome:
    run_id: UUID
    compilation_id: UUID
    status: str
    pass_rate: float | None
    passed: frozenset[UUID]
    failed: frozenset[UUID]


@dataclass(frozen=True)
class Refusal:
    reason: str
    regressions: tuple[UUID, ...] = ()


def gate(
    *,
    compilation_id: UUID,
    test_run_id: UUID | None,
    run: RunOutcome | None,
    min_pass_rate: float,
    production: tuple[int, RunOutcome | None] | None,
) -> Refusal | None:
    """Why the publish must be refused, or None. `production` is the version on `production` and
    the run it was judged by (None when nothing is in production yet)."""
    if test_run_id is None:
        return Refusal("a publish must name a completed test run of its compilation")
    if run is None or run.status != "completed":
        state = "unknown" if run is None else run.status
        return Refusal(f"test run {test_run_id} is not completed ({state})")
    if run.compilation_id != compilation_id:
        return Refusal(
            f"test run {test_run_id} tested compilation {run.compilation_id}, not {compilation_id}"
        )
    if run.pass_rate is None:
        return Refusal(f"test run {test_run_id} has no pass rate: every case errored")
    if run.pass_rate < min_pass_rate:
        return Refusal(
            f"pass rate {run.pass_rate:.1%} is below the agent's min_pass_rate {min_pass_rate:.1%}"
        )
    number, behind = production if production is not None else (0, None)
    if behind is not None:
        compared = compare_cases(behind.passed, behind.failed, run.passed, run.failed)
        regressions = tuple(sorted(compared.regressed, key=str))
        if regressions:
            listed = ", ".join(str(c) for c in regressions[:20])
            more = f" and {len(regressions) - 20} more" if len(regressions) > 20 else ""
            return Refusal(
                f"{len(regressions)} case(s) that passed in the run behind production "
                f"(version {number}) fail now: {listed}{more}",
                regressions,
            )
    return None


@dataclass(frozen=True)
class Clearance:
    """A run offered to clear a move to an imported version, with what it tested."""

    test_run_id: UUID
    run: RunOutcome | None
    compilation_id: UUID | None
    instructions: str | None
    min_pass_rate: float


def move_refusal(
    number: int,
    version: VersionDetail | None,
    *,
    force: bool,
    reason: str,
    clearance: Clearance | None,
) -> str | None:
    """Why a channel may not point at version `number`, or None. An imported version has no test
    run of this installation behind it: a run here must clear it (it passes the gate and tested
    the very same instructions), or the move must be forced with a reason."""
    if version is None:
        return f"version {number} does not exist"
    if version.imported is None:
        return None
    if clearance is not None and clearance.compilation_id is not None:
        c = clearance
        refusal = gate(
            compilation_id=clearance.compilation_id,
            test_run_id=c.test_run_id,
            run=c.run,
            min_pass_rate=c.min_pass_rate,
            production=None,
        )
        if refusal is not None:
            return f"test run {c.test_run_id} does not clear imported version {number}: {refusal.reason}"
        if c.instructions != version.instructions:
            return (
                f"test run {c.test_run_id} tested other instructions than imported version "
                f"{number}, so it does not stand behind it"
            )
        return None
    if force and reason.strip():
        return None
    return (
        f"version {number} was imported and no test run here stands behind it: moving a channel "
        "to it needs a passing test run of the same instructions (test_run_id), or force with a "
        "reason"
    )


class Version(VersionDetail):
    """A stored version: the detail the API shows, plus the publish that made it and the owner."""

    publish_id: UUID
    owner_id: UUID

    def summary(self) -> VersionSummary:
        return VersionSummary.model_validate(self._fields_of(VersionSummary))

    def detail(self) -> VersionDetail:
        return VersionDetail.model_validate(self._fields_of(VersionDetail))

    def published(self) -> PublishedVersion:
        """The read model's value: what serving needs, nothing more."""
        return PublishedVersion.model_validate(self._fields_of(PublishedVersion))

    def _fields_of(self, model: type[BaseModel]) -> dict[str, object]:
        # A plain copy: validating a subclass instance would hand back this very object.
        return {name: getattr(self, name) for name in model.model_fields}


def replaces(current: PublishedChannel | None, new: PublishedChannel) -> bool:
    """A channel's read-model value is replaced only by a later move, so replays change nothing."""
    return current is None or current.seq < new.seq
