"""Scale: a run of 100,000 executions, with the test-runner's memory and the gateway's reads
watched while it runs.

A run holds at most 10,000 cases (`RUN_CASES_MAX`), so the 100,000 are 10,000 cases x repeat 10,
the response cache off (every execution calls the provider), with the gateway's executions-per-run
quota raised to allow it. The provider is the zero-latency fake in its own process; one
test-runner (concurrency 64). Printed: the run's time and rate, the test-runner's RSS (sampled
every 100 ms: before, peak, VmHWM; goal < 300 MB), the latency of a steady stream of gateway
reads (20 a second, `GET /api/v1/agents/{id}`) for 20 s before the run and during it (goal: reads
unaffected, i.e. p95 ≤ 15 ms and p99 ≤ 50 ms as under no load), and the CPU each process used
during the run (PostgreSQL and NATS are shared with whatever else runs on the machine).

The other scale check, two test-runners finishing 1,000 cases in ≤ 0.6x the time of one, is
`uv run python -m bench.test_runs replicas`. Run: `make load` (or `uv run python -m
bench.load.scale [--cases 10000] [--repeat 10]`).
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from datetime import datetime

import httpx

from bench.fake_provider import running_fake_provider
from bench.harness import machine, running_stack
from bench.load.report import (
    command_cpu_seconds,
    load_average,
    machine_busy_seconds,
    percentile,
    provider_env,
)
from bench.test_runs import RssSampler, Studio, cpu_text, cpu_used, pid_of, status_kb
from tests.support import infra

SHARED = ("postgres", "nats-server")


class ReadProbe(threading.Thread):
    """`rate` reads a second of one agent through the gateway, latencies in ms."""

    def __init__(self, client: httpx.Client, path: str, rate: float = 20) -> None:
        super().__init__(daemon=True)
        self.client, self.path, self.interval = client, path, 1 / rate
        self.samples: list[float] = []
        self.errors = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(self.interval):
            started = time.perf_counter()
            try:
                ok = self.client.get(self.path).is_success
            except httpx.HTTPError:
                ok = False
            self.samples.append((time.perf_counter() - started) * 1000)
            self.errors += not ok

    def stop(self) -> None:
        self._done.set()
        self.join()

    def line(self, label: str) -> str:
        s = self.samples
        return (
            f"{label}: {len(s)} reads, p50 {percentile(s, 0.5):.1f} ms, p95 "
            f"{percentile(s, 0.95):.1f} ms, p99 {percentile(s, 0.99):.1f} ms, errors {self.errors}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    executions = args.cases * args.repeat
    port = infra.free_port()
    env = {
        **provider_env(port),
        "TEST_RUNNER_CONCURRENCY": "64",
        "GATEWAY_QUOTA_EXECUTIONS_PER_RUN": str(max(20_000, executions)),
    }
    print(f"machine: {machine()}")
    print(f"date: {datetime.now().astimezone().isoformat(timespec='seconds')}; {load_average()}")
    with (
        running_fake_provider(port, 0.0),
        running_stack(("compiler", "test-runner", "gateway"), env) as stack,
    ):
        studio = Studio(stack)
        try:
            studio.warm_up()
            agent_id, compilation_id = studio.agent_with_cases(args.cases)
            runner = stack.processes["test-runner"]
            pid = pid_of(runner)
            before = ReadProbe(studio.client, f"/api/v1/agents/{agent_id}")
            before.start()
            time.sleep(20)
            before.stop()
            rss_before = status_kb(pid, "VmRSS") / 1024
            sampler, during = (
                RssSampler(pid),
                ReadProbe(studio.client, f"/api/v1/agents/{agent_id}"),
            )
            sampler.start()
            during.start()
            started = time.perf_counter()
            pids = {name: pid_of(process) for name, process in stack.processes.items()}
            shared_before = {name: command_cpu_seconds(name) for name in SHARED}
            busy_before = machine_busy_seconds()
            with cpu_used(pids) as cpu:
                body = {"compilation_id": compilation_id, "repeat": args.repeat, "cache": False}
                accepted = studio.client.post(f"/api/v1/agents/{agent_id}/test-runs", json=body)
                accepted.raise_for_status()
                url = f"/api/v1/agents/{agent_id}/test-runs/{accepted.json()['id']}"
                run: dict[str, object] = {}
                while run.get("status") not in ("completed", "cancelled"):
                    time.sleep(1)
                    run = studio.client.get(url, params={"limit": 0}).json()
            seconds = time.perf_counter() - started
            for name, before_s in shared_before.items():
                cpu[name] = command_cpu_seconds(name) - before_s
            busy = machine_busy_seconds() - busy_before
            cpu["rest of the machine"] = max(0.0, busy - sum(cpu.values()))
            during.stop()
            sampler.stop()
            hwm = status_kb(pid, "VmHWM") / 1024
        finally:
            studio.close()
    print(f"\nrun of {args.cases} cases x repeat {args.repeat} = {executions} executions: "
          f"{run.get('status')} in {seconds:.0f} s ({executions / seconds:.0f} executions/s); "
          f"passed {run.get('passed')}, failed {run.get('failed')}, errored {run.get('errored')}")  # fmt: skip
    peak = sampler.peak_kb / 1024
    print(f"test-runner RSS: {rss_before:.0f} MB before, peak {peak:.0f} MB "
          f"({sampler.samples} samples), VmHWM {hwm:.0f} MB; goal < 300 MB: "
          f"{'met' if peak < 300 else 'NOT met'}")  # fmt: skip
    print(f"{cpu_text(cpu)} (over {seconds:.0f} s on {os.cpu_count()} cores: "
          f"{busy / seconds:.2f} cores busy); test-runner "
          f"{cpu['test-runner'] / executions * 1000:.2f} ms CPU per execution")  # fmt: skip
    print(before.line("gateway reads before the run"))
    print(during.line("gateway reads during the run"))
    print(f"after: {load_average()}")


if __name__ == "__main__":
    main()
