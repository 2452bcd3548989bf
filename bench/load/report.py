"""What the load benchmarks share: percentiles and the machine's load."""

from __future__ import annotations

import math
from pathlib import Path


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank percentile (`q` in 0..1) of `values`; NaN when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def load_average() -> str:
    return "load average " + " ".join(Path("/proc/loadavg").read_text().split()[:3])
