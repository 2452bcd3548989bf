"""Prometheus metrics of AI provider calls and circuit breakers; labels are closed sets, never ids."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

AI_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 45, 60, 90, 120)

ai_requests = Counter(
    "ai_requests",
    "Logical AI provider calls, by outcome (ok, rejected, unavailable, circuit_open, invalid_output).",
    ["provider", "model", "outcome"],
)
ai_request_duration = Histogram(
    "ai_request_duration_seconds",
    "Time of a logical AI provider call, retries and waits included.",
    ["provider", "model"],
    buckets=AI_BUCKETS,
)
ai_retries = Counter(
    "ai_retries",
    "AI provider attempts that failed and were retried, by reason (429, 5xx, timeout, connection, 408, 409).",
    ["reason"],
)
ai_tokens = Counter("ai_tokens", "Tokens reported by the AI provider.", ["model", "kind"])
ai_estimated_cost = Counter(
    "ai_estimated_cost_usd",
    "Estimated AI spend in USD from the tokens reported and the price table (AI_PRICES).",
    ["model"],
)

circuit_breaker_state = Gauge(
    "circuit_breaker_state",
    "1 for the state a circuit breaker is in (closed, open, half-open), 0 for the others.",
    ["breaker", "state"],
)
circuit_breaker_transitions = Counter(
    "circuit_breaker_transitions", "Circuit breaker state changes.", ["breaker", "to_state"]
)
circuit_breaker_rejections = Counter(
    "circuit_breaker_rejections",
    "Calls failed fast by an open (or probing) circuit breaker.",
    ["breaker"],
)
