"""Benchmark: a service process from `exec` to `/readyz` answering 200, and the CPU it spent.

Each service is started alone, then all four at once (what a rolling deploy or a node's restart
does to a two-core machine), on a fresh database and subject root of the local PostgreSQL and
NATS; the topology already exists, as it does after the first deploy. For each start it prints
the wall time to ready and the process's CPU time (user + system, from /proc) at that moment,
the median of `--rounds` rounds, with the load average. Goal: every service ready within 10 s of
its restart with all four restarting at once.

Run: `uv run python -m bench.startup [--rounds N]`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time
from collections.abc import Sequence

import httpx

from bench.harness import machine, running_stack
from tests.support.fixtures import Stack

SERVICES = ("gateway", "compiler", "test-runner", "publisher")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of `pid` so far (fields 14 and 15 of /proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def start_together(stack: Stack, services: Sequence[str]) -> dict[str, tuple[float, float]]:
    """Start `services` at once; each one's (seconds to ready, CPU seconds by then)."""
    started = time.monotonic()
    processes = {name: stack.start(name, wait=False) for name in services}
    waiting = dict(processes)
    ready: dict[str, tuple[float, float]] = {}
    with httpx.Client(timeout=1) as client:
        while waiting:
            if time.monotonic() - started > 120:
                raise RuntimeError(f"not ready within 120 s: {sorted(waiting)}")
            for name, process in list(waiting.items()):
                assert process.proc is not None
                if process.proc.poll() is not None:
                    raise RuntimeError(f"{name} exited:\n{process.log_tail()}")
                try:
                    answered = client.get(f"{process.url}/readyz").status_code == 200
                except httpx.TransportError:
                    answered = False
                if answered:
                    ready[name] = (time.monotonic() - started, cpu_seconds(process.proc.pid))
                    del waiting[name]
            time.sleep(0.02)
    for process in processes.values():
        try:
            process.stop()
        except subprocess.TimeoutExpired:
            process.kill()
    return ready


def report(label: str, rounds: list[dict[str, tuple[float, float]]]) -> None:
    for name in rounds[0]:
        wall = statistics.median(r[name][0] for r in rounds)
        cpu = statistics.median(r[name][1] for r in rounds)
        print(f"{label:<10} {name:<12} ready {wall:5.2f} s   CPU {cpu:5.2f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(machine())
    with running_stack(services=()) as stack:
        start_together(stack, SERVICES)  # provisions the topology, warms the file cache
        print(f"load average before: {os.getloadavg()}", flush=True)
        for name in SERVICES:
            report("alone", [start_together(stack, [name]) for _ in range(args.rounds)])
        report("all four", [start_together(stack, SERVICES) for _ in range(args.rounds)])
        print(f"load average after: {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
