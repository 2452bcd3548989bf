"""The test-runner's assertion engine: promptfoo's verdicts on the same outputs, with no I/O.

`validate_assertion` checks an assertion before a run; `evaluate` gives a test case's verdict on one
output. Model-graded types go through the injected `Grader`.

Error or failure (an error sets `error`, is never a pass, and makes the whole case an error with
score 0 and no named scores, as promptfoo marks a row ERROR when an assertion throws):
- errors: a value promptfoo's handler rejects with `invariant` (missing or wrong-typed value), a
  latency assertion without latency (cached response) or without threshold and metric, a grader
  that raises or answers malformed embeddings, an unknown or unsupported type, a template, regex
  or schema that is valid for promptfoo but outside what this engine can run;
- failures, as in promptfoo: an invalid regex at run time ("Invalid regex pattern: …"), an invalid
  JSON schema at run time ("Invalid JSON schema: …"), and every ordinary mismatch.

Where this engine differs from promptfoo (it reports an error rather than guess, except the last):
`equals` and `llm-rubric` need a value (no `rubricPrompt`); a grader that raises is an error
(promptfoo turns provider errors into failures marked `graderError`); values cannot be `file://`
or `package:` references, and templating is the `{{ path }}` subset (`templating`); a schema
string must be JSON, not YAML, and only the keywords in `json_schema` are checked; some JS regex
constructs are refused (`jsregex`). contains-json uses promptfoo's scanning extractor (commit
76525ca): newer promptfoo also accepts malformed, YAML-like objects, which are not found here.
"""

from contracts.assertions.engine import SUPPORTED_TYPES, evaluate
from contracts.assertions.model import (
    Assertion,
    AssertionLike,
    AssertionProblem,
    AssertionVerdict,
    CaseVerdict,
    Grader,
    InvalidAssertion,
    RubricGrade,
    UnsupportedAssertion,
)
from contracts.assertions.validation import validate_assertion

__all__ = [
    "SUPPORTED_TYPES",
    "Assertion",
    "AssertionLike",
    "AssertionProblem",
    "AssertionVerdict",
    "CaseVerdict",
    "Grader",
    "InvalidAssertion",
    "RubricGrade",
    "UnsupportedAssertion",
    "evaluate",
    "validate_assertion",
]
