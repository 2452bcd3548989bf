"""How an erasure's commands are cut: parts of at most 1,000 agents, at least one."""

from __future__ import annotations

import uuid

from gateway.privacy import service


def test_agents_are_sent_in_parts_of_at_most_a_thousand() -> None:
    agent_ids = [uuid.uuid4() for _ in range(2001)]

    assert [len(p) for p in service.parts_of(agent_ids)] == [1000, 1000, 1]
    assert service.parts_of([]) == [[]]
