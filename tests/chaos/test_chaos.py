"""The bounded chaos run: the scenarios that hold today, a smaller workload, one seed.

`make chaos` runs every scenario with a 500-case run (tests/chaos/runner.py); this one keeps to a
few minutes on two cores. A scenario joins `BOUNDED` once its violations are fixed.
"""

from __future__ import annotations

import os

import pytest

from tests.chaos.runner import run, table

pytestmark = pytest.mark.chaos

BOUNDED = (
    "kill-any",
    "rolling-deploy",
    "nats-restart",
    "postgres-restart",
    "postgres-away-60s",
    "provider-failing",
)
SEED = int(os.environ.get("CHAOS_SEED", "1"))


@pytest.mark.timeout(900)
def test_nothing_is_lost_or_done_twice_whatever_fails() -> None:
    # The issue asks for readiness within 10 s of a fault's end; a loaded two-core machine
    # restarting a Python process may need longer, so the bound here is generous and `make chaos`
    # holds the 10 s.
    outcomes = run(BOUNDED, SEED, cases=100, ready_bound=30, settle_timeout=120)

    assert [o.scenario for o in outcomes] == list(BOUNDED)
    assert all(o.violations == [] for o in outcomes), table(outcomes)
