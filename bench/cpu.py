"""CPU time spent per unit of work, by process: what a benchmark's throughput cost the machine.

Throughput on a shared 2-core machine moves with whatever else runs; the CPU seconds each process
spent per round trip do not, so a change is judged by both. PostgreSQL is counted as the backends
serving the benchmark's own database (by their process title); nats-server is the shared server,
so its share includes any other users' traffic at the same time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (fields 14 and 15 after the name)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _processes() -> Iterator[tuple[int, str]]:
    """Every process's pid and command line (its title, for PostgreSQL's backends)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError):
                yield (
                    int(entry.name),
                    (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(),
                )


def _postgres_backends(database: str) -> list[int]:
    return [
        pid
        for pid, title in _processes()
        if title.startswith("postgres:") and f" {database} " in title
    ]


def _nats_servers() -> list[int]:
    return [pid for pid, title in _processes() if Path(title.split(" ")[0]).name == "nats-server"]


@dataclass
class CpuMeter:
    """Process CPU seconds between `start()` and `stop()`, grouped by role."""

    services: Mapping[str, int]
    """Role → pid of the services under test."""
    database: str

    def _groups(self) -> dict[str, list[int]]:
        groups = {role: [pid] for role, pid in self.services.items()}
        groups["postgres"] = _postgres_backends(self.database)
        groups["nats-server"] = _nats_servers()
        groups["client"] = [os.getpid()]
        return groups

    def _sample(self) -> dict[str, dict[int, float]]:
        sample: dict[str, dict[int, float]] = {}
        for role, processes in self._groups().items():
            sample[role] = {}
            for pid in processes:
                with suppress(OSError):  # a backend that closed meanwhile
                    sample[role][pid] = _cpu_seconds(pid)
        return sample

    def start(self) -> None:
        self._before = self._sample()

    def stop(self) -> dict[str, float]:
        """CPU seconds spent by each role since `start()` (processes started since count whole)."""
        after = self._sample()
        return {
            role: sum(cpu - self._before[role].get(pid, 0.0) for pid, cpu in pids.items())
            for role, pids in after.items()
        }


def per_unit(spent: dict[str, float], units: int) -> str:
    """One line: milliseconds of CPU per unit, by role, and the total of all but the client."""
    parts = [f"{role}={1000 * cpu / units:.1f}" for role, cpu in spent.items()]
    servers = 1000 * sum(cpu for role, cpu in spent.items() if role != "client") / units
    return f"  cpu ms per round trip: {'  '.join(parts)}  (servers {servers:.1f})"


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"
