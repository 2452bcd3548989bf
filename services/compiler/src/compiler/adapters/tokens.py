"""Token counts of compiled instructions.

Exact for OpenAI models, whose BPE tables ship inside the `bpe-openai` package (no download at run
time): the model's own encoding (`o200k_base` for gpt-4o…, `cl100k_base` for gpt-4…). For any other
model the count is an estimate — one token per four characters, rounded up — and says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache

from compiler.domain import TokenCount

ESTIMATE = "estimate: characters / 4"


def token_counter(model: str) -> Callable[[str], TokenCount]:
    """Counts for `model`; its BPE table (a second of CPU to load) is read at the first count, so
    the compiler is ready without it."""

    def count(text: str) -> TokenCount:
        return _counter(model)(text)

    return count


@cache
def _counter(model: str) -> Callable[[str], TokenCount]:
    import bpe_openai

    try:
        name = bpe_openai.encoding_name_for_model(model)
        encoding = bpe_openai.get_encoding(name)
    except Exception:  # not an OpenAI model: no exact tokenizer available offline
        return lambda text: TokenCount(math.ceil(len(text) / 4), ESTIMATE)
    # Ordinary encoding: text that happens to spell a special token is counted as plain text.
    return lambda text: TokenCount(len(encoding.encode_ordinary(text)), name)
