"""Settings of the test-runner: the common ones, overridable with `TEST_RUNNER_…`."""

from pydantic import Field

from runtime.settings import CommonSettings


class TestRunnerSettings(CommonSettings):
    __test__ = False  # a settings class, not a test class (test modules import it)

    http_port: int = Field(default=8102, ge=0, le=65535)
    concurrency: int = Field(
        default=16,
        ge=1,
        le=1024,
        description="Executions (calls to the AI provider) in flight at once per replica.",
    )
    fan_out_chunk: int = Field(
        default=500,
        ge=1,
        le=10_000,
        description="Executions a run emits per transaction (its memory bound while it starts).",
    )
    grader_model: str | None = Field(
        default=None, description="Model that grades llm-rubric assertions (None: AI_MODEL)."
    )
    pause_limit_seconds: float = Field(
        default=240.0,
        gt=0,
        description="Longest an execution waits for the provider to recover before it is an error.",
    )
    provider_attempts: int = Field(
        default=3,
        ge=1,
        le=20,
        description="Calls per execution (each with the adapter's own retries) before an error.",
    )
    response_cache_retention_days: float = Field(
        default=30.0,
        gt=0,
        le=3650,
        description="Days a cached AI response is kept for runs with cache on.",
    )
