"""llm-rubric and similar: promptfoo's threshold, `not-` and error rules around a fake grader."""

from __future__ import annotations

from typing import Any

import pytest

from assertions import Assertion, AssertionVerdict, RubricGrade, evaluate


class FakeGrader:
    """Answers rubrics with a scripted grade (or raises), and embeds texts from a fixed table."""

    def __init__(
        self,
        grade: RubricGrade | None = None,
        vectors: dict[str, list[float]] | None = None,
        error: Exception | None = None,
    ) -> None:
        self.grade = grade
        self.vectors = vectors or {}
        self.error = error
        self.rubric_calls: list[tuple[str, str, dict[str, Any]]] = []
        self.embed_calls: list[list[str]] = []

    async def rubric(self, output: str, rubric: str, vars: dict[str, Any]) -> RubricGrade:
        self.rubric_calls.append((output, rubric, vars))
        if self.error is not None:
            raise self.error
        assert self.grade is not None
        return self.grade

    async def embed(self, texts: list[str]) -> list[list[float]]:
        self.embed_calls.append(texts)
        if self.error is not None:
            raise self.error
        return [self.vectors[t] for t in texts]


async def check(
    grader: FakeGrader | None,
    type: str,
    value: Any,
    *,
    vars: dict[str, Any] | None = None,
    **fields: Any,
) -> AssertionVerdict:
    verdict = await evaluate(
        "the output",
        [Assertion(type=type, value=value, **fields)],
        latency_ms=None,
        threshold=None,
        vars=vars or {},
        grader=grader,
    )
    return verdict.assertions[0]


def grade(pass_: bool, score: float, reason: str = "because") -> FakeGrader:
    return FakeGrader(grade=RubricGrade(pass_=pass_, score=score, reason=reason))


# -- llm-rubric --------------------------------------------------------------------------------


async def test_llm_rubric_without_threshold_takes_the_graders_pass_and_score() -> None:
    verdict = await check(grade(True, 0.4), "llm-rubric", "is polite")
    assert (verdict.pass_, verdict.score, verdict.reason) == (True, 0.4, "because")


async def test_llm_rubric_threshold_also_requires_the_score() -> None:
    verdict = await check(grade(True, 0.4), "llm-rubric", "is polite", threshold=0.5)
    assert (verdict.pass_, verdict.score, verdict.reason) == (False, 0.4, "because")
    unexplained = await check(grade(True, 0.4, reason=""), "llm-rubric", "is polite", threshold=0.5)
    assert unexplained.reason == "Score 0.4 below threshold 0.5"
    assert (await check(grade(True, 0.5), "llm-rubric", "x", threshold=0.5)).pass_ is True
    assert (await check(grade(False, 0.9), "llm-rubric", "x", threshold=0.5)).pass_ is False


async def test_not_llm_rubric_inverts_the_pass_and_the_score() -> None:
    verdict = await check(grade(True, 0.4), "not-llm-rubric", "is rude")
    assert (verdict.pass_, verdict.score) == (False, 1 - 0.4)
    clamped = await check(grade(False, 1.7), "not-llm-rubric", "is rude")
    assert (clamped.pass_, clamped.score) == (True, 0.0)


async def test_llm_rubric_gets_the_rendered_rubric_the_output_and_the_vars() -> None:
    grader = grade(True, 1.0)
    await check(grader, "llm-rubric", "Answers about {{ topic }}", vars={"topic": "billing"})
    assert grader.rubric_calls == [("the output", "Answers about billing", {"topic": "billing"})]


async def test_llm_rubric_object_value_is_sent_as_json() -> None:
    grader = grade(True, 1.0)
    await check(grader, "llm-rubric", {"criteria": ["polite", 1.0]})
    assert grader.rubric_calls[0][1] == '{"criteria":["polite",1]}'


async def test_a_grader_that_raises_makes_an_error_not_a_failure() -> None:
    verdict = await check(FakeGrader(error=TimeoutError("slow")), "llm-rubric", "x")
    assert (verdict.pass_, verdict.error) == (False, "llm-rubric grader failed: slow")
    inverse = await check(FakeGrader(error=TimeoutError("slow")), "not-llm-rubric", "x")
    assert inverse.error == "llm-rubric grader failed: slow"


async def test_model_graded_types_without_a_grader_are_errors() -> None:
    assert (
        await check(None, "llm-rubric", "x")
    ).error == '"llm-rubric" needs a grader and none is configured'
    assert (
        await check(None, "similar", "x")
    ).error == '"similar" needs a grader and none is configured'


async def test_llm_rubric_without_a_rubric_is_an_error() -> None:
    verdict = await check(grade(True, 1.0), "llm-rubric", None)
    assert verdict.error == '"llm-rubric" assertion type must have a string or object value'


# -- similar -----------------------------------------------------------------------------------

VECTORS = {
    "the output": [3.0, 4.0],
    "close": [4.0, 3.0],
    "fair": [5.0, 0.0],
    "far": [4.0, -3.0],
    "zero": [0.0, 0.0],
}


async def test_similar_uses_cosine_with_a_default_threshold_of_three_quarters() -> None:
    grader = FakeGrader(vectors=VECTORS)
    close = await check(grader, "similar", "close")
    assert (close.pass_, close.score, close.reason) == (
        True,
        0.96,
        "Similarity 0.96 is greater than or equal to threshold 0.75",
    )
    fair = await check(grader, "similar", "fair")
    assert (fair.pass_, fair.score, fair.reason) == (
        False,
        0.6,
        "Similarity 0.60 is less than threshold 0.75",
    )
    assert grader.embed_calls[0] == ["the output", "close"]


async def test_similar_honours_an_explicit_threshold_including_zero() -> None:
    grader = FakeGrader(vectors=VECTORS)
    assert (await check(grader, "similar", "fair", threshold=0.6)).pass_ is True
    assert (await check(grader, "similar", "far", threshold=0)).pass_ is True
    assert (await check(grader, "similar", "zero", threshold=0.01)).score == 0.0


async def test_not_similar_passes_below_the_threshold_and_scores_one_minus_similarity() -> None:
    grader = FakeGrader(vectors=VECTORS)
    far = await check(grader, "not-similar", "far")
    assert (far.pass_, far.score, far.reason) == (
        True,
        1.0,
        "Similarity 0.00 is less than threshold 0.75",
    )
    close = await check(grader, "not-similar", "close")
    assert (close.pass_, close.score) == (False, 1 - 0.96)


async def test_similar_to_a_list_passes_when_any_value_is_close_enough() -> None:
    grader = FakeGrader(vectors=VECTORS)
    assert (await check(grader, "similar", ["far", "close"])).score == 0.96
    none = await check(grader, "similar", ["far", "fair"])
    assert (none.pass_, none.score, none.reason) == (
        False,
        0.6,
        "None of the provided values met the similarity threshold",
    )


async def test_not_similar_to_a_list_fails_when_any_value_is_too_close() -> None:
    grader = FakeGrader(vectors=VECTORS)
    assert (await check(grader, "not-similar", ["far", "close"])).pass_ is False
    clear = await check(grader, "not-similar", ["far", "fair"])
    assert (clear.pass_, clear.score) == (True, 1 - 0.6)


async def test_similar_euclidean_and_dot_metrics() -> None:
    grader = FakeGrader(vectors=VECTORS)
    euclid = await check(grader, "similar:euclidean", "fair", threshold=5)
    assert (euclid.pass_, euclid.score) == (True, 1 / (1 + 20**0.5))
    assert (await check(grader, "similar:dot", "close", threshold=24)).pass_ is True


@pytest.mark.parametrize(
    ("vectors", "error"),
    [
        ({"the output": [1.0, 0.0], "x": [1.0]}, "Vectors must be of equal length"),
    ],
)
async def test_malformed_embeddings_are_errors(vectors: dict[str, list[float]], error: str) -> None:
    assert (await check(FakeGrader(vectors=vectors), "similar", "x")).error == error


async def test_an_embedding_grader_that_raises_is_an_error() -> None:
    verdict = await check(FakeGrader(error=ConnectionError("down")), "similar", "x")
    assert verdict.error == "embedding grader failed: down"


async def test_similar_needs_a_string_or_a_non_empty_list() -> None:
    grader = FakeGrader(vectors=VECTORS)
    assert (await check(grader, "similar", [])).error == (
        "Similarity assertion must have at least one value to compare against"
    )
    assert (await check(grader, "similar", 3)).error == (
        "Similarity assertion type must have a string or array of strings value"
    )
