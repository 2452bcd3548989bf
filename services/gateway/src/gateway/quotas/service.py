"""The quotas, checked where things are created. Past one the answer is 409 `quota_exceeded`,
naming the quota and its limit. Each check locks the row it counts under (the user, or the agent),
so concurrent requests take the last places one at a time."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.errors import ApiError
from gateway.quotas.repository import QuotaRepository
from gateway.settings import GatewaySettings


def exceeded(quota: str, limit: int, message: str) -> ApiError:
    return ApiError(409, "quota_exceeded", f"quota {quota}: {message}", quota=quota, limit=limit)


@dataclass(frozen=True)
class Quotas:
    agents_per_user: int
    cases_per_agent: int
    runs_in_flight_per_user: int
    executions_per_run: int

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> Quotas:
        return cls(
            agents_per_user=settings.quota_agents_per_user,
            cases_per_agent=settings.quota_cases_per_agent,
            runs_in_flight_per_user=settings.quota_runs_in_flight_per_user,
            executions_per_run=settings.quota_executions_per_run,
        )

    async def admit_agent(self, session: AsyncSession, user_id: UUID) -> None:
        repo = QuotaRepository(session)
        await repo.lock_user(user_id)
        if await repo.agents_of(user_id) >= self.agents_per_user:
            raise exceeded(
                "agents_per_user",
                self.agents_per_user,
                f"a user has at most {self.agents_per_user} agents; delete one first",
            )

    async def admit_cases(self, session: AsyncSession, agent_id: UUID, adding: int) -> None:
        repo = QuotaRepository(session)
        await repo.lock_agent(agent_id)
        self.check_cases(await repo.cases_of(agent_id), adding)

    def check_cases(self, held: int, adding: int) -> None:
        """For an agent holding `held` cases (0 for one being created)."""
        if held + adding > self.cases_per_agent:
            raise exceeded(
                "cases_per_agent",
                self.cases_per_agent,
                f"an agent has at most {self.cases_per_agent} test cases; "
                f"it has {held} and this adds {adding}",
            )

    async def admit_run(self, session: AsyncSession, user_id: UUID, executions: int) -> None:
        if executions > self.executions_per_run:
            raise exceeded(
                "executions_per_run",
                self.executions_per_run,
                f"a run makes at most {self.executions_per_run} executions (test cases x "
                f"repeat); this one would make {executions}",
            )
        repo = QuotaRepository(session)
        await repo.lock_user(user_id)
        if await repo.runs_in_flight(user_id) >= self.runs_in_flight_per_user:
            raise exceeded(
                "runs_in_flight_per_user",
                self.runs_in_flight_per_user,
                f"at most {self.runs_in_flight_per_user} test runs at once; wait for one to "
                "finish, or cancel one",
            )
