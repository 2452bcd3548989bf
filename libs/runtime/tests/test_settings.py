"""Unit tests of the shared settings loader and of failpoints; the environment is always explicit."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pydantic import Field

from runtime.faults import failpoint
from runtime.settings import CommonSettings, SettingsError, load_settings, without_credentials


class WorkerSettings(CommonSettings):
    http_port: int = Field(default=8101, ge=0, le=65535)


class TestLoadSettings:
    def test_defaults_apply_when_nothing_is_set(self) -> None:
        settings = load_settings(CommonSettings, "compiler", {})

        assert settings.nats_url == "nats://127.0.0.1:4222"
        assert settings.nats_subject_root == "studio"
        assert settings.database_url == "postgresql+psycopg://postgres@127.0.0.1:5432/agent_studio"
        assert settings.database_pool_size == 10
        assert settings.studio_env == "development"
        assert settings.log_level == "INFO"
        assert settings.http_port == 8000
        assert settings.max_deliver == 5
        assert settings.ai_provider is None
        assert settings.openai_api_key is None

    def test_ai_prices_are_read_as_json_and_replace_the_default_table(self) -> None:
        default = load_settings(CommonSettings, "compiler", {})
        priced = load_settings(
            CommonSettings, "compiler", {"AI_PRICES": '{"house-model": [1.5, 6]}'}
        )

        assert default.ai_prices["gpt-4o-mini"] == (0.15, 0.60)
        assert priced.ai_prices == {"house-model": (1.5, 6.0)}

    def test_ai_prices_that_are_not_a_json_table_name_the_setting(self) -> None:
        with pytest.raises(SettingsError, match="setting AI_PRICES is invalid"):
            load_settings(CommonSettings, "compiler", {"AI_PRICES": "gpt-4o-mini=0.15"})
        with pytest.raises(SettingsError, match="setting AI_PRICES is invalid"):
            load_settings(CommonSettings, "compiler", {"AI_PRICES": '{"m": ["free", 1]}'})

    def test_service_class_keeps_its_own_defaults(self) -> None:
        settings = load_settings(WorkerSettings, "compiler", {})

        assert type(settings) is WorkerSettings
        assert settings.http_port == 8101

    def test_common_name_applies(self) -> None:
        settings = load_settings(
            CommonSettings, "compiler", {"DATABASE_URL": "postgresql+psycopg://app@db:5432/studio"}
        )

        assert settings.database_url == "postgresql+psycopg://app@db:5432/studio"

    def test_service_prefixed_name_wins_over_common_name(self) -> None:
        settings = load_settings(
            CommonSettings,
            "compiler",
            {
                "DATABASE_URL": "postgresql+psycopg://app@db:5432/common",
                "COMPILER_DATABASE_URL": "postgresql+psycopg://compiler@db:5432/own",
            },
        )

        assert settings.database_url == "postgresql+psycopg://compiler@db:5432/own"

    def test_hyphenated_service_name_becomes_an_underscored_prefix(self) -> None:
        settings = load_settings(
            WorkerSettings, "test-runner", {"HTTP_PORT": "9000", "TEST_RUNNER_HTTP_PORT": "8102"}
        )

        assert settings.http_port == 8102

    def test_another_services_prefixed_name_is_ignored(self) -> None:
        settings = load_settings(WorkerSettings, "compiler", {"GATEWAY_HTTP_PORT": "9000"})

        assert settings.http_port == 8101

    def test_empty_prefixed_value_falls_back_to_common_name(self) -> None:
        settings = load_settings(
            CommonSettings, "compiler", {"COMPILER_HTTP_PORT": "", "HTTP_PORT": "9001"}
        )

        assert settings.http_port == 9001

    def test_empty_value_keeps_the_default(self) -> None:
        settings = load_settings(
            CommonSettings, "compiler", {"NATS_URL": "", "COMPILER_LOG_LEVEL": ""}
        )

        assert settings.nats_url == "nats://127.0.0.1:4222"
        assert settings.log_level == "INFO"

    @pytest.mark.parametrize(
        "url", ["postgresql://app:pw@db:5432/studio", "postgres://app:pw@db:5432/studio"]
    )
    def test_plain_postgres_url_is_normalised_to_psycopg(self, url: str) -> None:
        settings = load_settings(CommonSettings, "compiler", {"DATABASE_URL": url})

        assert settings.database_url == "postgresql+psycopg://app:pw@db:5432/studio"

    @pytest.mark.parametrize(
        ("environ", "message"),
        [
            (
                {"NATS_URL": "http://127.0.0.1:4222"},
                "setting NATS_URL is invalid: Value error, "
                "must start with nats://, tls://, ws:// or wss://",
            ),
            (
                {"NATS_SUBJECT_ROOT": "Bad-Root"},
                "setting NATS_SUBJECT_ROOT is invalid: Value error, must be lowercase letters, "
                "digits or _ (at most 32), starting with a letter",
            ),
            (
                {"DATABASE_URL": "mysql://app@db/studio"},
                "setting DATABASE_URL is invalid: Value error, must be a postgresql:// URL",
            ),
            (
                {
                    "DATABASE_URL": "postgresql://app@db/studio",
                    "COMPILER_DATABASE_URL": "sqlite:///studio.db",
                },
                "setting COMPILER_DATABASE_URL is invalid: Value error, "
                "must be a postgresql:// URL",
            ),
        ],
    )
    def test_bad_value_is_reported_with_its_variable_and_reason(
        self, environ: dict[str, str], message: str
    ) -> None:
        with pytest.raises(SettingsError) as caught:
            load_settings(CommonSettings, "compiler", environ)

        assert str(caught.value) == message

    @pytest.mark.parametrize(
        ("environ", "variable"),
        [
            ({"COMPILER_HTTP_PORT": "eighty"}, "COMPILER_HTTP_PORT"),
            ({"HTTP_PORT": "70000"}, "HTTP_PORT"),
            ({"TEST_RUNNER_HTTP_PORT": "-1"}, "TEST_RUNNER_HTTP_PORT"),
            ({"STUDIO_ENV": "prod"}, "STUDIO_ENV"),
            ({"COMPILER_MAX_DELIVER": "0"}, "COMPILER_MAX_DELIVER"),
            ({"ACK_WAIT_SECONDS": "0"}, "ACK_WAIT_SECONDS"),
        ],
    )
    def test_bad_value_names_the_variable_that_was_set(
        self, environ: dict[str, str], variable: str
    ) -> None:
        service = "test-runner" if variable.startswith("TEST_RUNNER_") else "compiler"

        with pytest.raises(SettingsError) as caught:
            load_settings(CommonSettings, service, environ)

        assert str(caught.value).startswith(f"setting {variable} is invalid: ")

    def test_effective_ai_provider_is_offline_without_a_key(self) -> None:
        settings = load_settings(CommonSettings, "compiler", {"OPENAI_API_KEY": ""})

        assert settings.effective_ai_provider == "offline"

    def test_effective_ai_provider_is_openai_with_a_key(self) -> None:
        settings = load_settings(CommonSettings, "compiler", {"OPENAI_API_KEY": "sk-test"})

        assert settings.effective_ai_provider == "openai"
        assert settings.openai_api_key is not None
        assert settings.openai_api_key.get_secret_value() == "sk-test"

    def test_ai_provider_offline_overrides_a_key(self) -> None:
        settings = load_settings(
            CommonSettings, "compiler", {"OPENAI_API_KEY": "sk-test", "AI_PROVIDER": "offline"}
        )

        assert settings.effective_ai_provider == "offline"

    def test_ai_provider_openai_applies_without_a_key(self) -> None:
        settings = load_settings(CommonSettings, "compiler", {"AI_PROVIDER": "openai"})

        assert settings.effective_ai_provider == "openai"


@pytest.mark.parametrize("studio_env", ["development", "production", None])
def test_failpoint_does_nothing_outside_the_test_env(
    monkeypatch: pytest.MonkeyPatch, studio_env: str | None
) -> None:
    if studio_env is None:
        monkeypatch.delenv("STUDIO_ENV", raising=False)
    else:
        monkeypatch.setenv("STUDIO_ENV", studio_env)
    monkeypatch.setenv("STUDIO_FAILPOINTS", "gateway.compile_committed")

    # Returning at all is the assertion: an armed failpoint would SIGKILL the test process.
    failpoint("gateway.compile_committed")


@pytest.mark.parametrize("armed", ["", "other", "gateway.compile", "gateway.compile_committed_x"])
def test_failpoint_in_the_test_env_ignores_names_not_listed(
    monkeypatch: pytest.MonkeyPatch, armed: str
) -> None:
    monkeypatch.setenv("STUDIO_ENV", "test")
    monkeypatch.setenv("STUDIO_FAILPOINTS", armed)

    # Returning at all is the assertion: an armed failpoint would SIGKILL the test process.
    failpoint("gateway.compile_committed")


def test_listed_failpoint_in_the_test_env_kills_the_process() -> None:
    env = {**os.environ, "STUDIO_ENV": "test", "STUDIO_FAILPOINTS": "x"}
    code = "from runtime.faults import failpoint; failpoint('x'); print('survived')"

    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )

    assert done.returncode == -9  # killed by SIGKILL
    assert done.stdout == ""


REAL_DATABASE_URL = "postgresql://studio:Kq8vX2mZ7rT4@db:5432/studio"


class TestSecretsOutsideDevelopment:
    @pytest.mark.parametrize(
        ("environ", "variable", "reason"),
        [
            ({"OPENAI_API_KEY": "changeme"}, "OPENAI_API_KEY", "is a placeholder"),
            ({"OPENAI_API_KEY": "sk-...placeholder"}, "OPENAI_API_KEY", "is a placeholder"),
            ({"COMPILER_OPENAI_API_KEY": "<your key>"}, "COMPILER_OPENAI_API_KEY", "placeholder"),
            ({"AI_PROVIDER": "openai"}, "OPENAI_API_KEY", "is required"),
            ({"DATABASE_URL": "postgresql://studio@db/studio"}, "DATABASE_URL", "no password"),
            (
                {"DATABASE_URL": "postgresql://studio:changeme@db/studio"},
                "DATABASE_URL",
                "a placeholder password",
            ),
            (
                {"REDIS_URL": "redis://:password@cache:6379/0"},
                "REDIS_URL",
                "a placeholder password",
            ),
        ],
    )
    @pytest.mark.parametrize("studio_env", ["staging", "production"])
    def test_a_missing_or_placeholder_secret_is_refused_naming_the_setting(
        self, environ: dict[str, str], variable: str, reason: str, studio_env: str
    ) -> None:
        env = {"DATABASE_URL": REAL_DATABASE_URL, "STUDIO_ENV": studio_env, **environ}

        with pytest.raises(SettingsError) as caught:
            load_settings(CommonSettings, "compiler", env)

        message = str(caught.value)
        assert message.startswith(f"setting {variable} is invalid: ")
        assert reason in message
        assert f"STUDIO_ENV={studio_env}" in message
        secrets = [value for name, value in environ.items() if name != "AI_PROVIDER"]
        assert not [s for s in secrets if s in message]  # the value itself is never repeated

    @pytest.mark.parametrize("studio_env", ["development", "test"])
    def test_placeholders_are_fine_in_development_and_tests(self, studio_env: str) -> None:
        env = {"STUDIO_ENV": studio_env, "OPENAI_API_KEY": "changeme"}

        settings = load_settings(CommonSettings, "compiler", env)

        assert settings.database_url.endswith("postgres@127.0.0.1:5432/agent_studio")

    def test_real_secrets_are_accepted_in_production(self) -> None:
        env = {
            "STUDIO_ENV": "production",
            "DATABASE_URL": REAL_DATABASE_URL,
            "OPENAI_API_KEY": "sk-proj-4fJ9qLw2Xv8TzR1mN6bY",
            "REDIS_URL": "rediss://:Zu7pW3kQ9x@cache:6380/0",
        }

        settings = load_settings(CommonSettings, "compiler", env)

        assert settings.openai_api_key is not None
        assert "sk-proj" not in repr(settings)  # a SecretStr prints as stars

    @pytest.mark.parametrize(
        ("url", "shown"),
        [
            ("nats://app:Kq8vX2mZ@nats:4222", "nats://***@nats:4222"),
            ("nats://s3cr3tToken@nats:4222", "nats://***@nats:4222"),
            ("nats://127.0.0.1:4222", "nats://127.0.0.1:4222"),
        ],
    )
    def test_urls_are_logged_without_their_credentials(self, url: str, shown: str) -> None:
        assert without_credentials(url) == shown

    def test_redis_is_unset_by_default_and_must_be_a_redis_url(self) -> None:
        assert load_settings(CommonSettings, "gateway", {}).redis_url is None
        with pytest.raises(SettingsError, match="setting REDIS_URL is invalid"):
            load_settings(CommonSettings, "gateway", {"REDIS_URL": "http://cache:6379"})
