"""The test-runner's assertion engine: promptfoo's verdicts on the same outputs, with no I/O.

`validate_assertion` checks an assertion before a run; `evaluate` gives a test case's verdict on one
output. Model-graded types go through the injected `Grader`.

Error or failure (an error sets `error`, is never a pass, and makes the whole case an error with
score 0 and no named scores, as promptfoo marks a row ERROR when an assertion throws):
- errors: a value promptfoo's handler rejects with `invariant` (missing or wrong-typed value), a
  latency assertion without latency (cached response) or without threshold and metric, a grader
  that raises or answers malformed embeddings, an unknown or unsupported type, a JSON schema Ajv
  cannot compile (promptfoo 0.123's `compile` throws: strict-mode unknown keyword or format, a
  `$schema` other than draft-07…), a template, regex or schema that is valid for promptfoo but
  outside what this engine can run, a regex (assertion or schema `pattern`) that runs longer than
  `REGEX_TIMEOUT_SECONDS` (promptfoo would hang on it);
- failures, as in promptfoo: an invalid regex at run time ("Invalid regex pattern: …", including
  `(?i)` and `(?i:…)`, which Node 22 rejects), and every ordinary mismatch.

Before rendering, vars are prepared as promptfoo's `renderPrompt` leaves them (`prepare_vars`): one
trailing newline stripped from string vars, `{{ var }}` inside vars resolved.

Where this engine differs from promptfoo (it reports an error rather than guess, except the last):
`llm-rubric` needs a value (no `rubricPrompt`); a grader that raises is an error
(promptfoo turns provider errors into failures marked `graderError`); values cannot be `file://`
or `package:` references, and templating is the Nunjucks subset in `nunjucks` (output
expressions with lookups, literals, `+`, `~`, `not`/`and`/`or` and common filters; comments;
raw and `if` blocks; no `for`/`set` tags or comparisons); YAML (schema strings, contains-json
candidates) is read as js-yaml reads it by `jsyaml`, which refuses timestamps, non-standard tags
and documents past its size limits; only the keywords and formats in `json_schema` are checked;
some JS regex constructs are refused (`jsregex`).
"""

from assertions.engine import SUPPORTED_TYPES, evaluate
from assertions.model import (
    AssertionLike,
    AssertionProblem,
    Grader,
    InvalidAssertion,
    RubricGrade,
    UnsupportedAssertion,
)
from assertions.validation import validate_assertion
from contracts.verdicts import Assertion, AssertionVerdict, CaseVerdict

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
