"""Settings of the test-runner: the common ones, overridable with `TEST_RUNNER_…`."""

from pydantic import Field

from runtime.settings import CommonSettings


class TestRunnerSettings(CommonSettings):
    http_port: int = Field(default=8102, ge=0, le=65535)
