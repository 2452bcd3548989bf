"""Benchmark: the gateway's agent list under saturation, against a bare one-SELECT floor.

`GET /api/v1/agents?limit=20` (a bearer token, a user with 50 agents: a full page and a cursor)
from one gateway process, and `GET /row` from `bench.floor_app` (FastAPI + uvicorn, one
primary-key SELECT through SQLAlchemy Core async + psycopg, pool of 10), one process each, both on
the same PostgreSQL. Both are driven by the same load generator in turn, `--rounds` times, each
round `--connections` back-to-back connections for `--seconds`: wrk (`apt-get install -y wrk`),
or, without it, an aiohttp closed loop in a process of its own. Requests over 2 s count as
timeouts. Then the list again, paced: 50 users at one request a second each.

After the two, in each round, the floor's own route served by a second gateway process behind
the gateway's middlewares (`bench/floor_in_gateway.py`, "floor in gw"): its distance from the
floor is what any route of the gateway pays, the rest is the list's own work.

Goal: gateway ≥ 1.0x the floor's req/s in the same round, p99 ≤ 250 ms, no request over 2 s, no
error. The gateway runs with `RATE_LIMIT_ENABLED=false` (one user would meet their allowance at
once); `--rate-limits` runs it with the limiter on in memory, allowances out of reach, to show its
cost. `--profile out.svg` records the gateway with py-spy during one more saturated run.

Run: `make bench` (or `uv run python -m bench.gateway_list [--rounds 3] [--seconds 8]`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import httpx

from bench.harness import machine, running_stack, serving
from bench.published import get, paced, percentiles
from tests.support import infra
from tests.support.fixtures import Stack

LIST_PATH = "/api/v1/agents?limit=20"
AGENTS = 50
TIMEOUT_S = 2.0
WRK_SCRIPT = Path(__file__).with_name("wrk_report.lua")


@dataclass(frozen=True)
class Result:
    rate: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    timeouts: int

    def line(self, label: str) -> str:
        return (
            f"  {label:<11} {self.rate:7.0f} req/s  p50 {self.p50_ms:7.1f} ms  "
            f"p99 {self.p99_ms:7.1f} ms  max {self.max_ms:7.1f} ms  errors {self.errors}  "
            f"timeouts {self.timeouts}"
        )


def run_wrk(url: str, headers: dict[str, str], connections: int, seconds: float) -> Result:
    args = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", f"--timeout={TIMEOUT_S:g}s"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run(
        [*args, "-s", str(WRK_SCRIPT), url], check=True, capture_output=True, text=True
    ).stdout
    report = json.loads(next(line for line in out.splitlines() if line.startswith("{")))
    errors = sum(report[k] for k in ("connect", "read", "write", "status"))
    return Result(
        rate=report["requests"] / (report["duration_us"] / 1e6),
        p50_ms=report["p50_us"] / 1000,
        p99_ms=report["p99_us"] / 1000,
        max_ms=report["max_us"] / 1000,
        errors=errors,
        timeouts=report["timeout"],
    )


def run_aiohttp(url: str, headers: dict[str, str], connections: int, seconds: float) -> Result:
    """The same closed loop without wrk, in a process of its own (so its CPU is not this one's)."""
    env = {**os.environ, "BENCH_HEADERS": json.dumps(headers)}
    command = [sys.executable, "-m", "bench.gateway_list", "--generate", url]
    command += [str(connections), str(seconds)]
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    return Result(**json.loads(out.strip().splitlines()[-1]))


async def _closed_loop(
    url: str, headers: dict[str, str], connections: int, seconds: float
) -> Result:
    latencies: list[float] = []
    errors = timeouts = 0
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(headers=headers, connector=connector, timeout=timeout) as s:
        end = time.perf_counter() + seconds

        async def client() -> None:
            nonlocal errors, timeouts
            while time.perf_counter() < end:
                started = time.perf_counter()
                try:
                    status = await get(s, url)
                except TimeoutError:
                    timeouts += 1
                    continue
                except aiohttp.ClientError:
                    errors += 1
                    continue
                latencies.append((time.perf_counter() - started) * 1000)
                errors += status != 200

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    p = percentiles(latencies)
    return Result(len(latencies) / elapsed, p["p50"], p["p99"], p["max"], errors, timeouts)


def generate(url: str, connections: int, seconds: float) -> None:
    headers = json.loads(os.environ.get("BENCH_HEADERS", "{}"))
    result = asyncio.run(_closed_loop(url, headers, connections, seconds))
    print(json.dumps(result.__dict__))


@contextmanager
def running_floor(database_url: str, agent_id: str) -> Iterator[tuple[str, int]]:
    port = infra.free_port()
    env = {**os.environ, "FLOOR_DATABASE_URL": database_url, "FLOOR_AGENT_ID": agent_id}
    command = [sys.executable, "-m", "uvicorn", "bench.floor_app:app", "--port", str(port)]
    command += ["--log-level", "warning", "--no-access-log"]
    with serving(command, env, port, "the floor app") as served:
        yield served


@contextmanager
def running_floor_in_gateway(stack: Stack, agent_id: str) -> Iterator[tuple[str, int]]:
    port = infra.free_port()
    env = stack.env("gateway", GATEWAY_HTTP_PORT=str(port))
    env |= {"FLOOR_DATABASE_URL": stack.database_url, "FLOOR_AGENT_ID": agent_id}
    command = [sys.executable, "-m", "bench.floor_in_gateway"]
    with serving(command, {**os.environ, **env}, port, "the gateway with the floor") as served:
        yield served


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) process `pid` has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_per_request(seconds: float, result: Result, args: argparse.Namespace) -> str:
    """The server process's own CPU per request: steadier than req/s on a shared machine (the
    database's share is not in it)."""
    return f"  cpu {1000 * seconds / (result.rate * args.seconds):.2f} ms/req"


def load_average() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


@contextmanager
def profiling(pid: int, out: str, seconds: float) -> Iterator[None]:
    """py-spy samples process `pid` for `seconds` while the block loads it (py-spy needs ptrace:
    root, or `--cap-add SYS_PTRACE` in a container)."""
    spy_bin = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    command = [spy_bin, "record", "--pid", str(pid), "--duration", str(int(seconds))]
    # A `.txt` output gets collapsed stacks (one line per stack and its count), for grep and sums.
    kind = "raw" if out.endswith(".txt") else "flamegraph"
    command += ["--rate", "200", "--format", kind, "--output", out, "--nonblocking"]
    spy = subprocess.Popen(command)
    time.sleep(1)  # attached before the load starts
    yield
    spy.wait(60)
    print(f"  profile written to {out}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rate-limits", action="store_true")
    parser.add_argument("--pool", type=int, help="the gateway's DATABASE_POOL_SIZE")
    parser.add_argument("--profile", metavar="SVG")
    parser.add_argument("--generate", nargs=3, metavar=("URL", "CONNECTIONS", "SECONDS"))
    args = parser.parse_args()
    if args.generate:
        generate(args.generate[0], int(args.generate[1]), float(args.generate[2]))
        return

    wrk = shutil.which("wrk") is not None
    drive = run_wrk if wrk else run_aiohttp
    limits = (
        {"RATE_LIMIT_ENABLED": "true", "RATE_LIMIT_PER_IP": "10000000/minute"}
        | {"RATE_LIMIT_PER_USER": "10000000/minute"}
        if args.rate_limits
        else {"RATE_LIMIT_ENABLED": "false"}
    )
    if args.pool is not None:
        limits["DATABASE_POOL_SIZE"] = str(args.pool)
    print(f"machine: {machine()}")
    print(
        f"date: {datetime.now(UTC).isoformat(timespec='seconds')}  load average: {load_average()}"
    )
    generator = "wrk -t1" if wrk else "aiohttp in its own process (wrk: apt-get install -y wrk)"
    print(
        f"conditions: one gateway process ({', '.join(f'{k}={v}' for k, v in limits.items())}, "
        f"LOG_LEVEL=WARNING), one floor process (bench/floor_app.py) and one gateway process "
        f"serving the floor's route too (bench/floor_in_gateway.py), local PostgreSQL and NATS; "
        f"{args.connections} connections back to back for {args.seconds:g} s, timeout "
        f"{TIMEOUT_S:g} s, load from {generator}, all on this machine"
    )
    with running_stack(("gateway",), limits) as stack:
        token = stack.new_token()
        headers = {"Authorization": f"Bearer {token}"}
        with stack.client(token) as client:
            ids = [
                client.post("/api/v1/agents", json={"name": f"agent {i}"}).json()["id"]
                for i in range(AGENTS)
            ]
            page = client.get(LIST_PATH).json()
            if len(page["items"]) != 20 or page["next_cursor"] is None:
                raise RuntimeError(f"unexpected page: {page}")
        gateway_url = stack.gateway_url + LIST_PATH
        gateway_process = stack.processes["gateway"].proc
        assert gateway_process is not None
        with (
            running_floor(stack.database_url, ids[0]) as (floor, floor_pid),
            running_floor_in_gateway(stack, ids[0]) as (inside, inside_pid),
        ):
            floor_url, inside_url = floor + "/row", inside + "/row"
            for url in (floor_url, inside_url):
                if httpx.get(url).status_code != 200:
                    raise RuntimeError(f"{url} cannot read the agent")
            for url in (floor_url, inside_url, gateway_url):  # warm-up: pools, caches
                drive(url, headers, args.connections, 2)
            print(f"\nsaturated: GET {LIST_PATH} against the one-SELECT floor (goal ≥ 1.0x)")
            ratios: list[float] = []
            worst: list[Result] = []
            cpu_ms: dict[str, list[float]] = {"floor": [], "floor in gw": [], "gateway": []}
            for n in range(1, args.rounds + 1):
                print(f" round {n} (load average {load_average()})")
                used = cpu_seconds(floor_pid)
                f = drive(floor_url, headers, args.connections, args.seconds)
                f_cpu = cpu_seconds(floor_pid) - used
                print(f.line("floor") + cpu_per_request(f_cpu, f, args))
                used = cpu_seconds(gateway_process.pid)
                g = drive(gateway_url, headers, args.connections, args.seconds)
                g_cpu = cpu_seconds(gateway_process.pid) - used
                print(g.line("gateway") + cpu_per_request(g_cpu, g, args))
                ratios.append(g.rate / f.rate)
                worst.append(g)
                print(f"  ratio       {g.rate / f.rate:.2f}x")
                # After the two the ratio compares, next to each other as in earlier runs.
                used = cpu_seconds(inside_pid)
                i = drive(inside_url, headers, args.connections, args.seconds)
                i_cpu = cpu_seconds(inside_pid) - used
                print(i.line("floor in gw") + cpu_per_request(i_cpu, i, args))
                for name, spent, result in (("floor", f_cpu, f), ("floor in gw", i_cpu, i)):
                    cpu_ms[name].append(1000 * spent / (result.rate * args.seconds))
                cpu_ms["gateway"].append(1000 * g_cpu / (g.rate * args.seconds))
            p99 = max(r.p99_ms for r in worst)
            top = max(r.max_ms for r in worst)
            failed = sum(r.errors + r.timeouts for r in worst)
            print(
                f" ratio {min(ratios):.2f}-{max(ratios):.2f}x (median "
                f"{statistics.median(ratios):.2f}x); gateway p99 ≤ {p99:.0f} ms, max {top:.0f} ms,"
                f" errors + timeouts {failed}"
            )
            floor_ms, inside_ms, gateway_ms = (statistics.median(v) for v in cpu_ms.values())
            print(
                f" CPU per request, medians: floor {floor_ms:.2f}, floor in gw {inside_ms:.2f}, "
                f"gateway {gateway_ms:.2f} ms; what every gateway route pays past the floor "
                f"{inside_ms - floor_ms:+.2f} ms, the list's own work past the floor's "
                f"{gateway_ms - inside_ms:+.2f} ms"
            )
            met = min(ratios) >= 1.0 and p99 <= 250 and top < TIMEOUT_S * 1000 and not failed
            print(
                f" goal (≥ 1.0x every round, p99 ≤ 250 ms, none over 2 s, no error): "
                f"{'met' if met else 'NOT met'}"
            )
        print("\npaced: 50 users, 1 request a second each, 10 s (latency from the scheduled time)")
        latencies, rate = asyncio.run(
            paced(lambda c: get(c, LIST_PATH), stack.gateway_url, headers, 1, 10)
        )
        q = statistics.quantiles(latencies, n=100, method="inclusive")
        print(
            f"  n={len(latencies)}  {rate:.0f} req/s  p50 {q[49]:.2f} ms  p95 {q[94]:.2f} ms  "
            f"p99 {q[98]:.2f} ms  max {max(latencies):.2f} ms"
        )
        if args.profile:
            print(f"\nprofile: py-spy on the gateway, {args.seconds:g} s saturated")
            with profiling(gateway_process.pid, args.profile, args.seconds + 2):
                print(drive(gateway_url, headers, args.connections, args.seconds).line("gateway"))


if __name__ == "__main__":
    main()
