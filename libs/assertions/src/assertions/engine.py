"""`evaluate`: runs a test case's assertions on one output the way promptfoo's `runAssertions` does
(value rendering, `not-`, `weight: 0`, at most three at a time) and aggregates the verdict.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from assertions.check import Check, CheckError, Outcome, split_type
from assertions.deterministic import HANDLERS
from assertions.graded import GRADED_HANDLERS
from assertions.json_checks import handle_contains_json, handle_is_json
from assertions.model import AssertionLike, Grader, UnsupportedAssertion
from assertions.scoring import aggregate, no_assertions
from assertions.templating import (
    TemplateError,
    prepare_vars,
    render_metric,
    render_value,
)
from contracts.verdicts import AssertionVerdict, CaseVerdict

MAX_CONCURRENCY = 3  # PROMPTFOO_ASSERTIONS_MAX_CONCURRENCY's default
SYNC_HANDLERS = {**HANDLERS, "is-json": handle_is_json, "contains-json": handle_contains_json}
# Checks that run a user's pattern or scan a long output run off the event loop: a slow one
# (each match bounded by REGEX_TIMEOUT_SECONDS) delays its own case, never the replica's others.
OFF_LOOP = frozenset({"regex", "is-json", "contains-json"})
SUPPORTED_TYPES = frozenset(SYNC_HANDLERS) | frozenset(GRADED_HANDLERS)

# promptfoo's other assertion types: reported as unsupported rather than unknown.
PROMPTFOO_ONLY_TYPES = frozenset(
    {"agent-rubric", "answer-relevance", "assert-set", "bertscore", "bleu", "character-count",
     "citation-faithfulness", "classifier", "contains-html", "contains-sql", "contains-xml",
     "context-faithfulness", "context-recall", "context-relevance", "conversation-relevance",
     "cost", "counterfactual", "ends-with", "factuality", "finish-reason", "g-eval", "gleu",
     "guardrails", "human", "is-html", "is-refusal", "is-sql", "is-valid-function-call",
     "is-valid-openai-function-call", "is-valid-openai-tools-call", "is-xml", "javascript",
     "max-score", "meteor", "model-graded-closedqa", "model-graded-factuality", "moderation",
     "noise-sensitivity", "perplexity", "perplexity-score", "pi", "python", "research-rubric",
     "rouge-n", "ruby", "search-rubric", "select-best", "skill-used", "tool-call-f1",
     "trace-error-spans", "trace-span-count", "trace-span-duration", "trajectory:goal-success",
     "trajectory:step-count", "trajectory:tool-args-match", "trajectory:tool-sequence",
     "trajectory:tool-used", "webhook", "word-count"}
)  # fmt: skip


def is_promptfoo_only(base_type: str) -> bool:
    return base_type in PROMPTFOO_ONLY_TYPES or base_type.startswith(
        ("promptfoo:redteam:", "select-")
    )


def _refuse_references(value: Any) -> None:
    values = value if isinstance(value, list) else [value]
    if any(isinstance(v, str) and v.startswith(("file://", "package:")) for v in values):
        raise CheckError("file:// and package: values are not supported; give the value inline")


def _value_missing(assertion: AssertionLike) -> bool:
    """No `value` was given at all (JS undefined), as opposed to an explicit `value: null`."""
    fields_set = getattr(assertion, "model_fields_set", None)
    return assertion.value is None and isinstance(fields_set, set) and "value" not in fields_set


async def _outcome(
    assertion: AssertionLike,
    output: str,
    latency_ms: float | None,
    vars: dict[str, Any],
    grader: Grader | None,
) -> Outcome:
    base, inverse = split_type(assertion.type)
    if base not in SUPPORTED_TYPES:
        if is_promptfoo_only(base):
            raise CheckError(str(UnsupportedAssertion(assertion.type)))
        raise CheckError(f"Unknown assertion type: {assertion.type}")
    _refuse_references(assertion.value)
    try:
        value = render_value(assertion.value, vars)
    except TemplateError as exc:
        raise CheckError(f"cannot render the value: {exc}") from exc
    check = Check(
        base,
        inverse,
        output,
        value,
        assertion.threshold,
        assertion.metric,
        latency_ms,
        vars,
        value_missing=_value_missing(assertion),
    )
    if base in GRADED_HANDLERS:
        return await GRADED_HANDLERS[base](check, grader)
    if base in OFF_LOOP:
        return await asyncio.to_thread(SYNC_HANDLERS[base], check)
    return SYNC_HANDLERS[base](check)


async def _verdict(
    assertion: AssertionLike,
    output: str,
    latency_ms: float | None,
    vars: dict[str, Any],
    grader: Grader | None,
) -> AssertionVerdict:
    metric = render_metric(assertion.metric, vars)
    try:
        try:
            outcome = await _outcome(assertion, output, latency_ms, vars, grader)
        except RecursionError:
            raise CheckError("the value or the output nests too deeply to check") from None
    except CheckError as exc:
        return AssertionVerdict(
            type=assertion.type,
            pass_=False,
            score=0.0,
            reason=str(exc),
            error=str(exc),
            metric=metric,
        )
    # promptfoo: `weight: 0` makes an assertion metric-only; it cannot fail.
    pass_ = True if assertion.weight == 0 else outcome.pass_
    return AssertionVerdict(
        type=assertion.type, pass_=pass_, score=outcome.score, reason=outcome.reason, metric=metric
    )


async def evaluate(
    output: str,
    assertions: Sequence[AssertionLike],
    *,
    latency_ms: float | None,
    threshold: float | None,
    vars: dict[str, Any],
    grader: Grader | None,
) -> CaseVerdict:
    """The verdict on one output: pass, score, reason, error, named scores, one verdict per assertion.

    `threshold` is the test case's threshold; `latency_ms` is None for a cached response;
    `grader` may be None when no assertion is model-graded.
    """
    if not assertions:
        return no_assertions()
    vars = prepare_vars(vars)
    gate = asyncio.Semaphore(MAX_CONCURRENCY)

    async def run(assertion: AssertionLike) -> AssertionVerdict:
        async with gate:
            return await _verdict(assertion, output, latency_ms, vars, grader)

    verdicts = list(await asyncio.gather(*(run(a) for a in assertions)))
    return aggregate(assertions, verdicts, threshold)
