"""What AI tokens cost, for the estimated-cost metric: USD per million prompt and completion tokens.

The defaults are list prices at the time of writing; `AI_PRICES` (JSON, `{"model": [prompt,
completion]}`) replaces the table for models priced otherwise (a discount, a self-hosted model).
"""

from __future__ import annotations

from collections.abc import Mapping

ModelPrice = tuple[float, float]
"""USD per million prompt tokens, USD per million completion tokens."""

DEFAULT_PRICES: Mapping[str, ModelPrice] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "text-embedding-3-small": (0.02, 0.0),
    "text-embedding-3-large": (0.13, 0.0),
}


def estimated_cost(
    prices: Mapping[str, ModelPrice], model: str, prompt_tokens: int, completion_tokens: int
) -> float | None:
    """The cost in USD of one call, or None for a model the table does not price."""
    price = prices.get(model)
    if price is None:
        return None
    per_prompt, per_completion = price
    return (prompt_tokens * per_prompt + completion_tokens * per_completion) / 1_000_000
