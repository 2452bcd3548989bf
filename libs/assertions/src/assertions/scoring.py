"""A test case's verdict from its assertion verdicts, as promptfoo's `AssertionsResult` computes it.

- Score: `Σ(score·weight) / Σweight`, 0 when the weights sum to 0.
- Pass: no assertion failed (`weight: 0` ones are forced to pass before this); the reason is the
  last failing one. A numeric case threshold (0 included, NaN ignored) replaces that rule with
  `score >= threshold`, reason "Aggregate score X.XX ≥/< T threshold".
- Named scores: the weighted mean of the assertions carrying that (rendered, non-empty) metric;
  a metric whose weights sum to 0 scores 0 — so `weight: 0` assertions record 0, as in promptfoo.
- Errors: any assertion error makes the case an error (pass false, score 0, no named scores),
  as promptfoo's evaluator does when an assertion throws.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from assertions.jsvalues import js_number, js_to_fixed
from assertions.model import AssertionLike
from contracts.verdicts import AssertionVerdict, CaseVerdict


def no_assertions() -> CaseVerdict:
    return CaseVerdict(
        pass_=True, score=1.0, reason="No assertions", named_scores={}, assertions=[]
    )


def aggregate(
    assertions: Sequence[AssertionLike], verdicts: list[AssertionVerdict], threshold: float | None
) -> CaseVerdict:
    errored = next((v for v in verdicts if v.error is not None), None)
    if errored is not None:
        return CaseVerdict(
            pass_=False,
            score=0.0,
            reason=errored.reason,
            error=errored.error,
            named_scores={},
            assertions=verdicts,
        )
    total = total_weight = 0.0
    named: dict[str, float] = {}
    named_weight: dict[str, float] = {}
    failed_reason: str | None = None
    for assertion, verdict in zip(assertions, verdicts, strict=True):
        weight = assertion.weight
        total += verdict.score * weight
        total_weight += weight
        if verdict.metric:
            named[verdict.metric] = named.get(verdict.metric, 0.0) + verdict.score * weight
            named_weight[verdict.metric] = named_weight.get(verdict.metric, 0.0) + weight
        if not verdict.pass_:
            failed_reason = verdict.reason
    score = total / total_weight if total_weight > 0 else 0.0
    pass_ = failed_reason is None
    reason = failed_reason or "All assertions passed"
    if threshold is not None and not math.isnan(threshold):
        pass_ = score >= threshold
        reason = f"Aggregate score {js_to_fixed(score, 2)} {'≥' if pass_ else '<'} {js_number(threshold)} threshold"
    named_scores = {m: (named[m] / named_weight[m] if named_weight[m] > 0 else 0.0) for m in named}
    return CaseVerdict(
        pass_=pass_, score=score, reason=reason, named_scores=named_scores, assertions=verdicts
    )
