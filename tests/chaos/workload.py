"""What the product is doing while a fault strikes, all through the public HTTP API: one test run
of many cases, and a stream of spec saves, compilations, publishes and channel moves.

A request that fails (the gateway killed, the database away) is counted and the loop goes on:
what must hold afterwards is checked on what the product accepted, not on what the client saw.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import yaml

SPEC: dict[str, Any] = {
    "persona": {"role": "support agent for {{company}}"},
    "mission": {"problem": "answer questions about orders"},
    "variables": [{"name": "company", "description": "Who the agent works for"}],
}


def cases(n: int) -> list[dict[str, Any]]:
    return [
        {
            "description": f"case {i}",
            "vars": {"company": "Acme", "input": f"question {i}"},
            "assert": [{"type": "contains", "value": "Answer"}],
        }
        for i in range(n)
    ]


def compiled(client: httpx.Client, agent_id: str, timeout: float = 30) -> str:
    """A new compilation of the agent's spec, once it has succeeded: its id."""
    compilation_id = str(client.post(f"/api/v1/agents/{agent_id}/compilations").json()["id"])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = client.get(f"/api/v1/agents/{agent_id}/compilations/{compilation_id}?wait=5").json()
        if got["status"] == "succeeded":
            return compilation_id
        if got["status"] == "failed":
            raise RuntimeError(f"compilation failed: {got}")
    raise RuntimeError("compilation did not finish")


def new_agent(client: httpx.Client, name: str) -> str:
    created = client.post("/api/v1/agents", json={"name": name})
    created.raise_for_status()
    agent_id = str(created.json()["id"])
    client.put(f"/api/v1/agents/{agent_id}/spec", json={"blocks": SPEC}).raise_for_status()
    return agent_id


@dataclass
class Workload:
    """One scenario's traffic. `agents` are the ones it created (the invariants look at those)."""

    client: httpx.Client
    rng: random.Random
    cases: int
    agents: list[str] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    accepted: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start_run(self, name: str) -> None:
        """An agent with `cases` imported cases, compiled, and a run of them started."""
        agent_id = new_agent(self.client, name)
        self.agents.append(agent_id)
        for start in range(0, self.cases, 1000):
            chunk = cases(self.cases)[start : start + 1000]
            imported = self.client.post(
                f"/api/v1/agents/{agent_id}/test-cases/import",
                content=yaml.safe_dump({"tests": chunk}),
                headers={"Content-Type": "application/yaml"},
            )
            imported.raise_for_status()
        compilation_id = compiled(self.client, agent_id)
        started = self.client.post(
            f"/api/v1/agents/{agent_id}/test-runs", json={"compilation_id": compilation_id}
        )
        started.raise_for_status()
        self.runs.append(str(started.json()["id"]))
        self._count(self.accepted, "test run")

    def wait_executed(self, target: float, timeout: float = 120) -> int:
        """Wait until the run has executed `target` cases (or finished): the fault's moment."""
        agent, run = self.agents[-1], self.runs[-1]
        deadline = time.monotonic() + timeout
        executed = 0
        while time.monotonic() < deadline:
            got = self.client.get(f"/api/v1/agents/{agent}/test-runs/{run}?limit=0").json()
            executed = int(got.get("executed", 0))
            if executed >= target or got.get("status") not in ("queued", "running", "paused"):
                break
            time.sleep(0.1)
        return executed

    def start_commands(self, name: str) -> None:
        """Saves, compilations, publishes and channel moves, one after another, until `stop`."""
        agent_id = new_agent(self.client, name)
        self.agents.append(agent_id)
        self._thread = threading.Thread(target=self._commands, args=(agent_id,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(60)

    def _commands(self, agent_id: str) -> None:
        published = 0
        step = 0
        while not self._stop.is_set():
            step += 1
            try:
                published = self._one_round(agent_id, step, published)
            except (httpx.HTTPError, KeyError, ValueError, RuntimeError) as exc:
                self._count(self.errors, type(exc).__name__)
                self._stop.wait(0.5)

    def _one_round(self, agent_id: str, step: int, published: int) -> int:
        base = f"/api/v1/agents/{agent_id}"
        blocks = {**SPEC, "mission": {"problem": f"answer questions about orders ({step})"}}
        self._expect(self.client.put(f"{base}/spec", json={"blocks": blocks}), "spec save")
        compilation = self._expect(self.client.post(f"{base}/compilations"), "compilation")
        got = self.client.get(f"{base}/compilations/{compilation['id']}?wait=10").json()
        if got.get("status") != "succeeded":
            return published
        body = {"compilation_id": compilation["id"], "force": True, "reason": "chaos workload"}
        publish = self._expect(self.client.post(f"{base}/versions", json=body), "publish")
        outcome = self.client.get(f"{base}/publishes/{publish['id']}?wait=15").json()
        if outcome.get("status") == "done":
            published = max(published, int(outcome["version"]))
        if published >= 2:
            target = self.rng.randint(1, published)
            moved = self.client.put(
                f"{base}/channels/production", json={"version": target, "reason": "chaos"}
            )
            self._expect(moved, "channel move", ok=(200, 202, 409))
        return published

    def _expect(
        self, response: httpx.Response, what: str, ok: tuple[int, ...] = (200, 201, 202)
    ) -> dict[str, Any]:
        if response.status_code not in ok:
            self._count(self.errors, f"{what}: HTTP {response.status_code}")
            raise RuntimeError(f"{what}: HTTP {response.status_code}")
        self._count(self.accepted, what)
        body: dict[str, Any] = response.json()
        return body

    @staticmethod
    def _count(counts: dict[str, int], key: str) -> None:
        counts[key] = counts.get(key, 0) + 1
