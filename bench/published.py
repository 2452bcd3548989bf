"""Benchmark: serving published agents under 50 concurrent clients.

- `GET /api/v1/agents/{id}/published` (the read model mirrored in the gateway): latency
  percentiles as seen by the clients, and the gateway's own histogram. Goal: p99 ≤ 10 ms.
- `POST /v1/chat/completions` with `model: agent:<id>` against a zero-latency fake provider (its
  own process): the same load sent straight to the provider gives the baseline, so the difference
  is the gateway's overhead.

Clients: one asyncio process (this one), 50 closed-loop clients each sending requests back to back.
Run: `uv run python -m bench.published`.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import httpx

from bench.fake_provider import running_fake_provider
from bench.harness import machine, running_stack
from tests.support import infra

CLIENTS = 50
REQUESTS_PER_CLIENT = 100
SPEC = {
    "persona": {"role": "support agent for {{company}}", "voice": "plain"},
    "mission": {"problem": "Customers need answers about invoices", "success_criteria": ["cites"]},
    "variables": [{"name": "company", "description": "Who the agent works for"}],
}


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {"p50": pick(0.50), "p90": pick(0.90), "p99": pick(0.99), "max": ordered[-1]}


async def load(
    send: Callable[[aiohttp.ClientSession], Awaitable[int]],
    base_url: str,
    headers: dict[str, str],
) -> tuple[list[float], float]:
    """`CLIENTS` closed-loop clients x `REQUESTS_PER_CLIENT`: latencies (ms) and requests/s.
    aiohttp, whose client costs a fraction of httpx's CPU: the clients share the machine."""
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=CLIENTS)
    async with aiohttp.ClientSession(base_url, headers=headers, connector=connector) as client:

        async def one_client() -> None:
            for _ in range(REQUESTS_PER_CLIENT):
                started = time.perf_counter()
                status = await send(client)
                latencies.append((time.perf_counter() - started) * 1000)
                if status != 200:
                    raise RuntimeError(f"status {status}")

        for _ in range(3):  # warm-up: connections, caches
            await send(client)
        started = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(CLIENTS)))
        elapsed = time.perf_counter() - started
    return latencies, len(latencies) / elapsed


async def paced(
    send: Callable[[aiohttp.ClientSession], Awaitable[int]],
    base_url: str,
    headers: dict[str, str],
    per_client: float,
    seconds: float,
) -> tuple[list[float], float]:
    """`CLIENTS` clients, each sending `per_client` requests a second (evenly spaced, random
    phase) for `seconds`: latencies measured from each request's scheduled time, so a slow answer
    delays nothing it should not (no coordinated omission)."""
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=CLIENTS)
    async with aiohttp.ClientSession(base_url, headers=headers, connector=connector) as client:
        for _ in range(3):
            await send(client)
        loop = asyncio.get_running_loop()
        start = loop.time()

        async def one_client(phase: float) -> None:
            n = 0
            while True:
                due = start + phase + n / per_client
                if due > start + seconds:
                    return
                await asyncio.sleep(max(0.0, due - loop.time()))
                status = await send(client)
                latencies.append((loop.time() - due) * 1000)
                if status != 200:
                    raise RuntimeError(f"status {status}")
                n += 1

        await asyncio.gather(*(one_client(random.random() / per_client) for _ in range(CLIENTS)))
        elapsed = loop.time() - start
    return latencies, len(latencies) / elapsed


async def get(client: aiohttp.ClientSession, url: str) -> int:
    async with client.get(url) as response:
        await response.read()
        return response.status


async def post(client: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> int:
    async with client.post(url, json=body) as response:
        await response.read()
        return response.status


def server_histogram(metrics: str, route: str) -> str:
    """The gateway's own `http_request_duration_seconds` for `route`: share under each bound."""
    counts: dict[str, float] = {}
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith("http_request_duration_seconds_bucket{") and f'route="{route}"' in line:
            bound = line.split('le="')[1].split('"')[0]
            counts[bound] = float(line.rsplit(" ", 1)[1])
        if line.startswith("http_request_duration_seconds_count{") and f'route="{route}"' in line:
            total = float(line.rsplit(" ", 1)[1])
    if not total:
        return "no samples"
    shown = ("0.001", "0.0025", "0.005", "0.01")
    return ", ".join(
        f"≤{float(b) * 1000:g} ms {100 * counts.get(b, 0) / total:.1f}%" for b in shown
    )


def show(label: str, latencies: list[float], rate: float) -> dict[str, float]:
    p = percentiles(latencies)
    print(
        f"  {label:<44} n={len(latencies):>5}  {rate:7.0f} req/s  "
        + "  ".join(f"{k} {v:6.2f} ms" for k, v in p.items())
        + f"  mean {statistics.fmean(latencies):.2f} ms"
    )
    return p


def main() -> None:
    port = infra.free_port()
    print(f"machine: {machine()}")
    print(f"date: {datetime.now(UTC).isoformat(timespec='seconds')}")
    print(
        f"conditions: gateway, compiler and publisher as one process each (LOG_LEVEL=WARNING), "
        f"local PostgreSQL and NATS; the fake provider (zero latency) in its own process; "
        f"{CLIENTS} clients (closed loop: {REQUESTS_PER_CLIENT} requests each back to back; open "
        "loop: paced, latency from each request's scheduled time) from one asyncio process "
        "(aiohttp), all on this machine"
    )
    with running_fake_provider(port, 0.0) as fake:
        env = {
            "AI_PROVIDER": "openai",
            "OPENAI_API_KEY": "sk-bench",
            "OPENAI_BASE_URL": fake.base_url,
        }
        with running_stack(("compiler", "publisher", "gateway"), env) as stack:
            token = stack.new_token()
            headers = {"Authorization": f"Bearer {token}"}
            with stack.client(token) as client:
                agent_id = client.post("/api/v1/agents", json={"name": "Served"}).json()["id"]
                client.put(f"/api/v1/agents/{agent_id}/spec", json={"blocks": SPEC})
                cid = client.post(f"/api/v1/agents/{agent_id}/compilations").json()["id"]
                client.get(f"/api/v1/agents/{agent_id}/compilations/{cid}?wait=10")
                accepted = client.post(
                    f"/api/v1/agents/{agent_id}/versions",
                    json={
                        "compilation_id": cid,
                        "force": True,
                        "reason": "bench",
                        "channel": "production",
                    },
                ).json()
                outcome = client.get(
                    f"/api/v1/agents/{agent_id}/publishes/{accepted['id']}", params={"wait": 15}
                ).json()
                if outcome["status"] != "done":
                    raise RuntimeError(f"publish failed: {outcome}")

            print("\npublished read: GET /api/v1/agents/{id}/published (goal p99 ≤ 10 ms)")
            read_url = f"/api/v1/agents/{agent_id}/published"
            latencies, rate = asyncio.run(
                load(lambda c: get(c, read_url), stack.gateway_url, headers)
            )
            p = show("closed loop (each client back to back)", latencies, rate)
            for per_client in (4, 8, 12):
                latencies, rate = asyncio.run(
                    paced(lambda c: get(c, read_url), stack.gateway_url, headers, per_client, 10)
                )
                paced_p = show(f"open loop, {per_client} req/s per client", latencies, rate)
                verdict = "met" if paced_p["p99"] <= 10 else "NOT met"
                print(f"    goal p99 ≤ 10 ms at {rate:.0f} req/s: {verdict}")
            metrics = httpx.get(f"{stack.gateway_url}/metrics", timeout=5).text
            print(
                f"  gateway's own histogram: {server_histogram(metrics, '/api/v1/agents/{agent_id}/published')}"
            )
            print(
                f"  closed loop: p99 {p['p99']:.2f} ms is clients / throughput (Little's law), "
                "not the cost of one read"
            )

            print("\nOpenAI-compatible call: POST /v1/chat/completions, zero-latency provider")
            chat: dict[str, Any] = {
                "model": f"agent:{agent_id}",
                "messages": [{"role": "user", "content": "Why was I charged twice?"}],
                "variables": {"company": "Acme"},
            }
            via_gateway, rate = asyncio.run(
                load(lambda c: post(c, "/v1/chat/completions", chat), stack.gateway_url, headers)
            )
            g = show("through the gateway", via_gateway, rate)
            direct_body = {
                "model": "gpt-4o-mini",
                "messages": [{"role": "system", "content": "x" * 400}, *chat["messages"]],
            }
            direct, rate = asyncio.run(
                load(
                    lambda c: post(c, "chat/completions", direct_body),
                    fake.base_url + "/",
                    {"Authorization": "Bearer sk-bench"},
                )
            )
            d = show("straight to the provider (baseline)", direct, rate)
            print(
                "  closed loop, difference (queueing included): "
                + "  ".join(f"{k} {g[k] - d[k]:6.2f} ms" for k in ("p50", "p90", "p99"))
            )
            latencies, rate = asyncio.run(
                paced(
                    lambda c: post(c, "/v1/chat/completions", chat),
                    stack.gateway_url,
                    headers,
                    4,
                    10,
                )
            )
            g = show("open loop, 4 req/s per client, through the gateway", latencies, rate)
            latencies, rate = asyncio.run(
                paced(
                    lambda c: post(c, "chat/completions", direct_body),
                    fake.base_url + "/",
                    {"Authorization": "Bearer sk-bench"},
                    4,
                    10,
                )
            )
            d = show("open loop, 4 req/s per client, straight to it", latencies, rate)
            print(
                "  gateway overhead at that rate: "
                + "  ".join(f"{k} {g[k] - d[k]:6.2f} ms" for k in ("p50", "p90", "p99"))
            )
            metrics = httpx.get(f"{stack.gateway_url}/metrics", timeout=5).text
            print(
                f"  gateway's own histogram (provider included): {server_histogram(metrics, '/v1/chat/completions')}"
            )


if __name__ == "__main__":
    main()
