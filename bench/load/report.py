"""What the load benchmarks share: percentiles, the provider's settings, the machine's load."""

from __future__ import annotations

import math
import os
from pathlib import Path


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank percentile (`q` in 0..1) of `values`; NaN when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def provider_env(port: int) -> dict[str, str]:
    """The services' settings for the fake OpenAI-compatible provider on 127.0.0.1:`port`."""
    return {
        "AI_PROVIDER": "openai",
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1",
        "AI_MODEL": "gpt-4o-mini",
    }


def load_average() -> str:
    return "load average " + " ".join(Path("/proc/loadavg").read_text().split()[:3])


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine has spent busy since boot (all but idle and iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def command_cpu_seconds(command: str) -> float:
    """CPU seconds used so far by every live process of that name (e.g. all PostgreSQL backends)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, rest = stat.read_text().split(" (", 1)[1].rsplit(")", 1)
        except (OSError, IndexError, ValueError):  # gone meanwhile
            continue
        if name == command:
            fields = rest.split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")
