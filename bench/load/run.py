"""Load: the realistic mix (bench/load/locustfile.py) of USERS people, each about one request a
second, against the whole product on this machine (127.0.0.1 only), for SECONDS, headless.

Starts the four services on a fresh database and subject root of the local PostgreSQL and NATS,
with the fake OpenAI-compatible provider (zero latency) in its own process; seeds OWNERS people,
each with an agent compiled, a finished run of 3 cases and version 1 on `production`; then runs
locust and prints, per class of request, the count, p50/p95/p99 (ms) and errors beside the goals.
The ramp-up is not measured.

Run: `make load` (or `uv run python -m bench.load.run [--users 200] [--seconds 60]`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench.fake_provider import running_fake_provider
from bench.harness import machine, running_stack
from bench.load.report import (
    command_cpu_seconds,
    load_average,
    machine_busy_seconds,
    percentile,
    provider_env,
)
from bench.test_runs import cpu_text, cpu_used, pid_of
from tests.support import infra
from tests.support.fixtures import PACKAGES, Stack
from tests.support.processes import ServiceProcess

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
# Shared by every service, so counted by process name: PostgreSQL's backends and the broker.
SHARED = ("postgres", "nats-server")
SPEC: dict[str, Any] = {
    "persona": {"role": "support agent for {{company}}"},
    "mission": {"problem": "answer questions about orders"},
    "variables": [{"name": "company", "description": "Who the agent works for"}],
}
CASES = [
    {"description": f"case {i}", "vars": {"company": "Acme", "input": f"question {i}"},
     "assert": [{"type": "contains", "value": "Answer"}]}
    for i in range(3)
]  # fmt: skip
# (class, percentile, goal in ms); the error goal (none) applies to every class.
GOALS = [
    ("read", 0.95, 15.0),
    ("read", 0.99, 50.0),
    ("write", 0.95, 30.0),
    ("published", 0.99, 10.0),
]


def wait(client: httpx.Client, path: str, done: tuple[str, ...], what: str) -> dict[str, Any]:
    for _ in range(60):
        body: dict[str, Any] = client.get(path, params={"wait": 5}).json()
        if body["status"] in done:
            return body
    raise RuntimeError(f"{what} did not finish: {body}")


def seed_owner(stack: Stack) -> dict[str, str]:
    """A person with an agent compiled, a finished run and version 1 on production."""
    token = stack.new_token()
    with stack.client(token) as client:
        client.timeout = httpx.Timeout(60)
        agent = client.post("/api/v1/agents", json={"name": "load"}).json()["id"]
        base = f"/api/v1/agents/{agent}"
        client.put(f"{base}/spec", json={"blocks": SPEC}).raise_for_status()
        compilation = client.post(f"{base}/compilations").json()["id"]
        wait(client, f"{base}/compilations/{compilation}", ("succeeded",), "compilation")
        client.post(
            f"{base}/test-cases/import",
            content=yaml.safe_dump({"tests": CASES}),
            headers={"Content-Type": "application/yaml"},
        ).raise_for_status()
        run = client.post(f"{base}/test-runs", json={"compilation_id": compilation}).json()["id"]
        for _ in range(120):
            if client.get(f"{base}/test-runs/{run}").json()["status"] == "completed":
                break
        body = {"compilation_id": compilation, "test_run_id": run, "channel": "production",
                "force": True, "reason": "load seed"}  # fmt: skip
        publish = client.post(f"{base}/versions", json=body).json()["id"]
        wait(client, f"{base}/publishes/{publish}", ("done",), "publish")
    return {"token": token, "agent": agent, "compilation": compilation, "run": run}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--owners", type=int, default=20, help="seeded people the users act as")
    parser.add_argument(
        "--gateways", type=int, default=1, help="gateway replicas; each person keeps to one"
    )
    args = parser.parse_args()
    port = infra.free_port()
    env = {
        **provider_env(port),
        # Ten people share each seeded owner; the in-flight run quota (10) is not what is measured.
        "GATEWAY_QUOTA_RUNS_IN_FLIGHT_PER_USER": "1000",
    }
    services = ("compiler", "test-runner", "publisher", "gateway")
    with (
        running_fake_provider(port, 0.0),
        running_stack(services, env) as stack,
        tempfile.TemporaryDirectory(prefix="bench-load-") as work,
    ):
        owners = [seed_owner(stack) for _ in range(args.owners)]
        replicas = [start_gateway_replica(stack, n) for n in range(2, args.gateways + 1)]
        seed_path, samples_path = Path(work, "seed.json"), Path(work, "samples.json")
        seed_path.write_text(json.dumps({"owners": owners, "spec": SPEC}))
        print(f"machine: {machine()}")
        print(f"date: {datetime.now().astimezone().isoformat(timespec='seconds')}")
        print(f"before: {load_average()}", flush=True)
        command = [
            sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
            "--users", str(args.users), "--spawn-rate", str(max(1, args.users // 10)),
            "--run-time", f"{args.seconds}s", "--host", stack.gateway_url,
            "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "10",
        ]  # fmt: skip
        env_locust = {
            "LOAD_SEED": str(seed_path),
            "LOAD_SAMPLES": str(samples_path),
            "LOAD_GATEWAYS": ",".join([stack.gateway_url] + [r.url for r in replicas]),
        }
        pids = {name: pid_of(process) for name, process in stack.processes.items()}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        shared_before = {name: command_cpu_seconds(name) for name in SHARED}
        busy_before, wall_before = machine_busy_seconds(), time.monotonic()
        with cpu_used(pids) as cpu:
            subprocess.run(command, env={**os.environ, **env_locust}, check=False)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu["locust"] = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        for name, seconds in shared_before.items():
            cpu[name] = command_cpu_seconds(name) - seconds
        busy, wall = machine_busy_seconds() - busy_before, time.monotonic() - wall_before
        # Whatever else ran on the machine meanwhile (other work; PostgreSQL backends that exited).
        cpu["rest of the machine"] = max(0.0, busy - sum(cpu.values()))
        print(f"after: {load_average()}")
        print(
            f"{cpu_text(cpu)} (over {wall:.0f} s on {os.cpu_count()} cores: {busy / wall:.2f} cores busy)"
        )
        measured = json.loads(samples_path.read_text())
    report(measured, args.users, args.seconds, args.gateways)


def start_gateway_replica(stack: Stack, number: int) -> ServiceProcess:
    """Another gateway on the stack's database and subject root, on a port of its own (the
    deployment runs at least two; the stack stops it with the rest)."""
    port = infra.free_port()
    env = stack.env("gateway", GATEWAY_HTTP_PORT=str(port))
    replica = ServiceProcess(PACKAGES["gateway"], env, port, stack.log_dir)
    stack.processes[f"gateway {number}"] = replica
    return replica.start()


def report(measured: dict[str, Any], users: int, seconds: int, gateways: int) -> None:
    samples: dict[str, list[float]] = measured["samples"]
    errors: dict[str, int] = measured["errors"]
    total = sum(len(v) for v in samples.values())
    processes = "one gateway process" if gateways == 1 else f"{gateways} gateway processes"
    print(
        f"\n{users} users, {seconds} s, {processes} (ramp-up excluded): {total} requests measured"
    )
    print(f"{'class':<10} {'requests':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'errors':>6}")
    for kind in sorted(samples):
        values = samples[kind]
        failed = sum(n for key, n in errors.items() if key.startswith(f"{kind}:"))
        print(
            f"{kind:<10} {len(values):>8} {percentile(values, 0.5):>7.1f} "
            f"{percentile(values, 0.95):>7.1f} {percentile(values, 0.99):>7.1f} {failed:>6}"
        )
    print("\ngoals:")
    for kind, q, goal in GOALS:
        got = percentile(samples.get(kind, []), q)
        verdict = "met" if got <= goal else "NOT met"
        print(f"  {kind} p{round(q * 100)} ≤ {goal:g} ms: {verdict} ({got:.1f} ms)")
    failed = sum(errors.values())
    print(f"  zero errors: {'met' if not failed else 'NOT met'} ({failed})")
    for key, n in sorted(errors.items(), key=lambda item: -item[1])[:10]:
        print(f"    {n} x {key}")


if __name__ == "__main__":
    main()
