"""The model-graded types, llm-rubric and similar: promptfoo's pass/score logic around the injected
`Grader`. A grader that raises, or answers malformed embeddings, makes the assertion an error.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from assertions.check import Check, CheckError, Outcome
from assertions.jsvalues import js_number, js_stringify, js_to_fixed
from assertions.model import Grader

EPSILON = sys.float_info.epsilon  # JS Number.EPSILON
DEFAULT_SIMILARITY_THRESHOLD = 0.75
SIMILARITY_METRICS = {
    "similar": "cosine",
    "similar:cosine": "cosine",
    "similar:dot": "dot",
    "similar:euclidean": "euclidean",
}


def _need(grader: Grader | None, type_: str) -> Grader:
    if grader is None:
        raise CheckError(f'"{type_}" needs a grader and none is configured')
    return grader


async def handle_llm_rubric(check: Check, grader: Grader | None) -> Outcome:
    value = check.value
    if isinstance(value, dict):
        rubric = js_stringify(value)
    elif isinstance(value, str) and value:
        rubric = value
    else:
        raise CheckError('"llm-rubric" assertion type must have a string or object value')
    try:
        grade = await _need(grader, "llm-rubric").rubric(check.output, rubric, check.vars)
    except CheckError:
        raise
    except Exception as exc:
        raise CheckError(f"llm-rubric grader failed: {exc}") from exc
    pass_, score, threshold = grade.pass_, grade.score, check.threshold
    if threshold is not None and math.isfinite(threshold):
        pass_ = pass_ and score >= threshold
    shown = "undefined" if threshold is None else js_number(threshold)
    reason = grade.reason or (
        "Grading passed" if pass_ else f"Score {js_number(score)} below threshold {shown}"
    )
    if check.inverse:
        score = min(1.0, max(0.0, 1 - (score if math.isfinite(score) else 0.0)))
        pass_ = not pass_
    return Outcome(pass_, score, reason)


def cosine_similarity(a: list[float], b: list[float]) -> float:
    dot = norm_a = norm_b = 0.0
    for x, y in zip(a, b, strict=True):
        dot += x * y
        norm_a += x * x
        norm_b += y * y
    if norm_a == 0 or norm_b == 0:
        return 0.0
    return dot / (math.sqrt(norm_a) * math.sqrt(norm_b))


def _measure(metric: str, a: list[float], b: list[float]) -> float:
    if len(a) != len(b):
        raise CheckError("Vectors must be of equal length")
    if metric == "cosine":
        return cosine_similarity(a, b)
    if metric == "dot":
        return sum_in_order(x * y for x, y in zip(a, b, strict=True))
    return math.sqrt(sum_in_order((x - y) ** 2 for x, y in zip(a, b, strict=True)))


def sum_in_order(values: Any) -> float:
    total = 0.0
    for v in values:  # left to right, as JS reduce does (Python 3.12's sum() compensates)
        total += v
    return total


def similarity_outcome(measure: float, threshold: float, inverse: bool, metric: str) -> Outcome:
    if metric == "euclidean":
        pass_ = measure >= threshold - EPSILON if inverse else measure <= threshold + EPSILON
        normalized = 1 / (1 + measure)
        below = f"Distance {js_to_fixed(measure, 2)} is less than or equal to threshold {js_number(threshold)}"
        above = (
            f"Distance {js_to_fixed(measure, 2)} is greater than threshold {js_number(threshold)}"
        )
        reason = (above if inverse else below) if pass_ else (below if inverse else above)
        return Outcome(pass_, 1 - normalized if inverse else normalized, reason)
    pass_ = measure <= threshold + EPSILON if inverse else measure >= threshold - EPSILON
    at_least = f"Similarity {js_to_fixed(measure, 2)} is greater than or equal to threshold {js_number(threshold)}"
    less = f"Similarity {js_to_fixed(measure, 2)} is less than threshold {js_number(threshold)}"
    reason = (less if inverse else at_least) if pass_ else (at_least if inverse else less)
    return Outcome(pass_, 1 - measure if inverse else measure, reason)


def _expected(value: Any) -> list[str]:
    if isinstance(value, list):
        if not value:
            raise CheckError("Similarity assertion must have at least one value to compare against")
        if all(isinstance(v, str) for v in value):
            return value
    elif isinstance(value, str):
        return [value]
    raise CheckError("Similarity assertion type must have a string or array of strings value")


async def _embeddings(grader: Grader, texts: list[str]) -> list[list[float]]:
    try:
        vectors = await grader.embed(texts)
    except Exception as exc:
        raise CheckError(f"embedding grader failed: {exc}") from exc
    if len(vectors) != len(texts):
        raise CheckError(f"embedding grader returned {len(vectors)} vectors for {len(texts)} texts")
    return vectors


async def handle_similar(check: Check, grader: Grader | None) -> Outcome:
    expected = _expected(check.value)
    metric = SIMILARITY_METRICS[check.base_type]
    threshold = DEFAULT_SIMILARITY_THRESHOLD if check.threshold is None else check.threshold
    vectors = await _embeddings(_need(grader, check.base_type), [check.output, *expected])
    results = [
        similarity_outcome(_measure(metric, v, vectors[0]), threshold, check.inverse, metric)
        for v in vectors[1:]
    ]
    if not isinstance(check.value, list):
        return results[0]
    if check.inverse:
        # not-similar passes only when the output is dissimilar to every value.
        failing = [r for r in results if not r.pass_]
        return failing[0] if failing else min(results, key=lambda r: r.score)
    passing = [r for r in results if r.pass_]
    if passing:
        return passing[0]
    return Outcome(
        False,
        max(r.score for r in results),
        "None of the provided values met the similarity threshold",
    )


GRADED_HANDLERS: dict[str, Callable[[Check, Grader | None], Awaitable[Outcome]]] = {
    "llm-rubric": handle_llm_rubric,
    **dict.fromkeys(SIMILARITY_METRICS, handle_similar),
}
