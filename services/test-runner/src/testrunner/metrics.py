"""The test-runner's own metrics (the AI adapter counts provider calls, latency and tokens)."""

from prometheus_client import Counter, Histogram

execution_duration = Histogram(
    "test_execution_duration_seconds",
    "Time to execute one case once: the AI call (or cache hit) and the verdict.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
executions = Counter(
    "test_executions",
    "Executions recorded, by outcome (pass, fail, error) and whether the response was cached.",
    ["outcome", "cached"],
)
queue_lag = Histogram(
    "test_run_queue_lag_seconds",
    "Time an execution waited between being queued and being picked up.",
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900),
)
runs_finished = Counter("test_runs_finished", "Runs finished, by status.", ["status"])
run_pass_rate = Histogram(
    "test_run_pass_rate",
    "Pass rate of each completed run (passed / judged), errors left out as in the API.",
    buckets=(0.1, 0.25, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0),
)
