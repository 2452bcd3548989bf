"""A run beside the run behind the version on production: which cases regressed, were fixed or
kept their verdict, by the publish gate's own rule (`contracts.comparison`)."""

from __future__ import annotations

from uuid import UUID

from contracts.comparison import case_outcomes, compare_cases, passed_and_failed
from contracts.runs import CaseResult
from gateway.publishing.versions import Versions
from gateway.testing.results import RunResults
from gateway.testing.schemas import ComparedCase, TestRunComparisonPublic


async def with_production(
    results: RunResults, versions: Versions, agent_id: UUID, run_id: UUID
) -> TestRunComparisonPublic:
    """Compares the results recorded so far; nothing to compare with says so (None fields)."""
    moves = await versions.moves(agent_id, "production", None, 1)
    number = moves.items[0].to_version if moves.items else None
    base_run_id = (await versions.one(agent_id, number)).test_run_id if number else None
    if base_run_id is None:
        return TestRunComparisonPublic(
            run_id=run_id,
            production_version=number,
            base_run_id=None,
            regressed=[],
            fixed=[],
            unchanged=[],
        )
    _, base_results = await results.all_results(base_run_id)
    _, now_results = await results.all_results(run_id)
    before, now = case_outcomes(base_results), case_outcomes(now_results)
    compared = compare_cases(*passed_and_failed(before), *passed_and_failed(now))
    described = _descriptions(now_results)

    def listed(cases: frozenset[UUID]) -> list[ComparedCase]:
        return [
            ComparedCase(test_case_id=c, description=described.get(c), before=before[c], now=o)
            for c, o in now.items()  # in the run's case order
            if c in cases
        ]

    return TestRunComparisonPublic(
        run_id=run_id,
        production_version=number,
        base_run_id=base_run_id,
        regressed=listed(compared.regressed),
        fixed=listed(compared.fixed),
        unchanged=listed(compared.unchanged),
    )


def _descriptions(results: list[CaseResult]) -> dict[UUID, str | None]:
    return {r.test_case_id: r.description for r in results}
