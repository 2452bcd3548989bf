"""Settings shared by every service, read from the environment.

A common name (`DATABASE_URL`) applies to every service; `<SERVICE>_DATABASE_URL` overrides it for one.
A wrong setting ends the process with one line naming the setting and the reason, never a traceback.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from typing import Literal, NoReturn, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from contracts.subjects import DEFAULT_ROOT, ROOT_PATTERN
from runtime.pricing import DEFAULT_PRICES, ModelPrice

DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/agent_studio"


class SettingsError(Exception):
    """A setting is missing or invalid; the message names it."""


class CommonSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    nats_url: str = "nats://127.0.0.1:4222"
    nats_subject_root: str = Field(
        default=DEFAULT_ROOT, description="First subject token; lets installations share a server."
    )
    nats_stream_replicas: int = Field(
        default=1,
        ge=1,
        le=5,
        description="Copies of each stream in a JetStream cluster (3 on 3 nodes).",
    )
    database_url: str = DEFAULT_DATABASE_URL
    database_pool_size: int = Field(default=10, ge=1, le=200)
    redis_url: str | None = Field(
        default=None,
        description="Shared store of the gateway's rate limits; unset: each process counts alone.",
    )
    studio_env: Literal["development", "test", "staging", "production"] = "development"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    ai_provider: Literal["openai", "offline"] | None = None
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    ai_model: str = "gpt-4o-mini"
    ai_embedding_model: str = "text-embedding-3-small"
    ai_timeout_seconds: float = Field(
        default=30.0, gt=0, le=600, description="Longest one AI provider request may take."
    )
    ai_max_attempts: int = Field(
        default=4, ge=1, le=20, description="AI provider attempts per call, the first included."
    )
    ai_retry_deadline_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="No AI retry starts after this long since the call.",
    )
    ai_retry_max_wait_seconds: float = Field(
        default=20.0,
        ge=0,
        le=600,
        description="Longest wait between AI attempts; caps backoff and the provider's Retry-After.",
    )
    ai_breaker_fail_max: int = Field(
        default=5, ge=1, le=1000, description="Consecutive failed AI calls that open the breaker."
    )
    ai_breaker_reset_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="How long the AI breaker stays open before a probe.",
    )
    ai_prices: dict[str, ModelPrice] = Field(
        default_factory=lambda: dict(DEFAULT_PRICES),
        description="USD per million prompt and completion tokens by model (JSON), for cost metrics.",
    )
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)
    http_max_header_bytes: int = Field(
        default=32 * 1024,
        ge=1024,
        le=1024 * 1024,
        description="Largest request line and headers, together; 431 above.",
    )
    forwarded_allow_ips: str = Field(
        default="",
        description="Comma-separated proxy addresses or networks whose X-Forwarded-For is trusted.",
    )
    ack_wait_seconds: float = Field(
        default=30.0, gt=0, description="How long a fetched message is held before redelivery."
    )
    max_deliver: int = Field(
        default=5, ge=1, le=100, description="Deliveries before dead-lettering."
    )
    handler_timeout_seconds: float = Field(
        default=300.0, gt=0, description="Longest a handler may take before it counts as failed."
    )
    outage_patience_seconds: float = Field(
        default=600.0,
        ge=0,
        description="How long a message is held and retried while PostgreSQL or NATS is "
        "unreachable, before it is redelivered later (never counted against MAX_DELIVER).",
    )
    concurrency: int = Field(
        default=8, ge=1, le=1024, description="Messages handled at once per consumer."
    )
    shutdown_grace_seconds: float = Field(default=25.0, gt=0)
    inbox_retention_days: float = Field(
        default=30.0,
        ge=8,
        le=3650,
        description="Days an applied message's id is kept (past stream and dead-letter replays).",
    )

    @field_validator("nats_url")
    @classmethod
    def _nats_scheme(cls, value: str) -> str:
        if not value.startswith(("nats://", "tls://", "ws://", "wss://")):
            raise ValueError("must start with nats://, tls://, ws:// or wss://")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_scheme(cls, value: str) -> str:
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            return "postgresql+psycopg://" + value.split("://", 1)[1]
        if not value.startswith("postgresql+psycopg://"):
            raise ValueError("must be a postgresql:// URL")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("ai_prices", mode="before")
    @classmethod
    def _prices_from_json(cls, value: object) -> object:
        return json.loads(value) if isinstance(value, str) else value

    @field_validator("nats_subject_root")
    @classmethod
    def _root_token(cls, value: str) -> str:
        if not ROOT_PATTERN.match(value):
            raise ValueError(
                "must be lowercase letters, digits or _ (at most 32), starting with a letter"
            )
        return value

    @property
    def effective_ai_provider(self) -> Literal["openai", "offline"]:
        """`openai` when asked for or when a key is set; otherwise the offline stand-in."""
        if self.ai_provider is not None:
            return self.ai_provider
        return "openai" if self.openai_api_key else "offline"

    def unsafe_secrets(self) -> list[tuple[str, str]]:
        """(field, reason) for each secret that is missing or a placeholder. Refused outside
        development and test; a service with secrets of its own extends this list."""
        problems: list[tuple[str, str]] = []
        key = self.openai_api_key.get_secret_value() if self.openai_api_key else None
        if key is not None and is_placeholder(key):
            problems.append(("openai_api_key", "is a placeholder, not a real key"))
        elif key is None and self.ai_provider == "openai":
            problems.append(("openai_api_key", "is required when AI_PROVIDER is openai"))
        password = urlsplit(self.database_url).password
        if not password:
            problems.append(("database_url", "has no password"))
        elif is_placeholder(password):
            problems.append(("database_url", "has a placeholder password"))
        redis_password = urlsplit(self.redis_url).password if self.redis_url else None
        if redis_password is not None and is_placeholder(redis_password):
            problems.append(("redis_url", "has a placeholder password"))
        return problems


_PLACEHOLDER_WORDS = (
    "changeme",
    "change-me",
    "change_me",
    "placeholder",
    "replace",
    "your-",
    "your_",
    "example",
    "dummy",
    "...",
    "<",
    "xxxx",
    "todo",
)
_PLACEHOLDER_VALUES = {
    "",
    "secret",
    "password",
    "pass",
    "test",
    "postgres",
    "admin",
    "default",
    "sk-",
    "none",
    "null",
}


def without_credentials(url: str) -> str:
    """`url` fit for a log line: a user name or password in it becomes `***`."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]).geturl()


def is_placeholder(secret: str) -> bool:
    """A value that stands in for a secret (`changeme`, `sk-...placeholder`, `<your key>`)."""
    lowered = secret.strip().lower()
    return lowered in _PLACEHOLDER_VALUES or any(word in lowered for word in _PLACEHOLDER_WORDS)


SettingsT = TypeVar("SettingsT", bound=CommonSettings)


def load_settings(
    cls: type[SettingsT], service: str, environ: Mapping[str, str] | None = None
) -> SettingsT:
    """Build `cls` for `service` from the environment: `<SERVICE>_<FIELD>` wins over `<FIELD>`."""
    env = os.environ if environ is None else environ
    prefix = service.upper().replace("-", "_") + "_"
    values: dict[str, str] = {}
    source: dict[str, str] = {}
    for field in cls.model_fields:
        for key in (prefix + field.upper(), field.upper()):
            if key in env and env[key] != "":
                values[field] = env[key]
                source[field] = key
                break
    try:
        settings = cls.model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "?"
        name = source.get(field, f"{prefix}{field.upper()} / {field.upper()}")
        raise SettingsError(f"setting {name} is invalid: {err['msg']}") from None
    problems = settings.unsafe_secrets() if settings.studio_env in ("staging", "production") else []
    if problems:
        field, reason = problems[0]
        # Names the setting, never its value.
        raise SettingsError(
            f"setting {source.get(field, field.upper())} is invalid: {reason} "
            f"(STUDIO_ENV={settings.studio_env} needs real secrets)"
        )
    return settings


def exit_on_settings_error(exc: SettingsError) -> NoReturn:
    """Print the one-line reason and exit with status 2 (a configuration error)."""
    print(f"agent-studio: {exc}", file=sys.stderr)  # noqa: T201 - before logging exists
    raise SystemExit(2)
