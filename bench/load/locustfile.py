"""The realistic mix for locust: people using Agent Studio, each about one request a second.

Driven by `bench/load/run.py`, which starts the product, seeds it (users, agents, published
versions, a finished run) and hands the seed over in the file named by `LOAD_SEED`. Every request
is named `<class>: <what>`; the classes are the goals' (read, write, published) plus three that
have no goal of their own (openai: the endpoint calls the AI provider; stream: an SSE follow;
floor: `/healthz`, which does no work, so its latency is what the load generator and the busy
machine add to every request).
The latencies of each class are written to `LOAD_SAMPLES` when the test stops.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

from locust import FastHttpUser, between, events, task

SEED: dict[str, Any] = (
    json.loads(Path(os.environ["LOAD_SEED"]).read_text()) if "LOAD_SEED" in os.environ else {}
)
GATEWAYS = [url for url in os.environ.get("LOAD_GATEWAYS", "").split(",") if url]
SAMPLES: dict[str, list[float]] = {}
ERRORS: dict[str, int] = {}
MEASURING: list[bool] = []  # filled once every user has started: the ramp-up is not measured


@events.spawning_complete.add_listener  # type: ignore[untyped-decorator]
def measure(**_: Any) -> None:
    MEASURING.append(True)


@events.request.add_listener  # type: ignore[untyped-decorator]
def record(name: str, response_time: float, exception: BaseException | None, **_: Any) -> None:
    if not MEASURING:
        return
    kind = name.split(":", 1)[0]
    SAMPLES.setdefault(kind, []).append(response_time)
    if exception is not None:
        key = f"{name}: {type(exception).__name__}: {str(exception)[:120]}"
        ERRORS[key] = ERRORS.get(key, 0) + 1


@events.test_stop.add_listener  # type: ignore[untyped-decorator]
def save(**_: Any) -> None:
    with open(os.environ["LOAD_SAMPLES"], "w") as out:
        json.dump({"samples": SAMPLES, "errors": ERRORS}, out)


class Person(FastHttpUser):
    """One signed-in person working on one of the seeded agents."""

    # Think time: about one request a second, at random like people. Not `constant_pacing(1)`:
    # under gevent its fixed one-second cycles fall into step, and all the users then fire within
    # a few milliseconds of each other once a second (seen with strace: one burst of 200 requests,
    # then ~900 ms of silence), which measures a burst's queue rather than the product (healthz at
    # 200 users: p50 22 ms in step, 1 ms at random).
    wait_time = between(0.5, 1.5)

    def __init__(self, environment: Any) -> None:
        # Several gateway replicas: each person keeps to one, as a Service's connection would.
        if GATEWAYS:
            self.host = random.choice(GATEWAYS)
        super().__init__(environment)

    def on_start(self) -> None:
        owner = random.choice(SEED["owners"])
        self.headers = {"Authorization": f"Bearer {owner['token']}"}
        self.agent = owner["agent"]
        self.compilation = owner["compilation"]
        self.run_id = owner["run"]
        self.step = 0

    def _get(self, path: str, name: str) -> None:
        self.client.get(path, headers=self.headers, name=name)

    @task(6)
    def list_agents(self) -> None:
        self._get("/api/v1/agents?limit=20", "read: list agents")

    @task(6)
    def read_agent(self) -> None:
        self._get(f"/api/v1/agents/{self.agent}", "read: agent")

    @task(4)
    def read_spec(self) -> None:
        self._get(f"/api/v1/agents/{self.agent}/spec", "read: spec")

    @task(5)
    def read_published(self) -> None:
        self._get(f"/api/v1/agents/{self.agent}/published", "published: read")

    @task(3)
    def save_spec(self) -> None:
        self.step += 1
        blocks = {**SEED["spec"], "mission": {"problem": f"answer questions ({self.step})"}}
        self.client.put(
            f"/api/v1/agents/{self.agent}/spec",
            json={"blocks": blocks},
            headers=self.headers,
            name="write: save spec",
        )

    @task(1)
    def compile(self) -> None:
        self.client.post(
            f"/api/v1/agents/{self.agent}/compilations",
            headers=self.headers,
            name="write: compile",
        )

    @task(1)
    def start_run(self) -> None:
        self.client.post(
            f"/api/v1/agents/{self.agent}/test-runs",
            json={"compilation_id": self.compilation},
            headers=self.headers,
            name="write: start run",
        )

    @task(1)
    def call_agent(self) -> None:
        self.client.post(
            "/v1/chat/completions",
            json={
                "model": f"agent:{self.agent}@production",
                "messages": [{"role": "user", "content": "Where is my order?"}],
                "variables": {"company": "Acme"},
            },
            headers=self.headers,
            name="openai: chat completion",
        )

    @task(1)
    def floor(self) -> None:
        self.client.get("/healthz", name="floor: healthz")

    @task(1)
    def follow_run(self) -> None:
        # A finished run's stream replays its progress and ends with `completed`.
        self._get(
            f"/api/v1/agents/{self.agent}/test-runs/{self.run_id}/events", "stream: run events"
        )
