"""Gateway settings: the common ones, overridable with `GATEWAY_…`."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from limits import parse
from pydantic import Field, SecretStr, ValidationInfo, field_validator

from contracts.runs import RUN_CASES_MAX
from runtime.settings import CommonSettings, is_placeholder

SERVICE = "gateway"


class GatewaySettings(CommonSettings):
    http_port: int = Field(default=8000, ge=0, le=65535)
    max_spec_bytes: int = Field(
        default=256 * 1024, ge=1024, description="Largest spec a PUT accepts."
    )
    max_request_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Largest request body read at all (413 above)."
    )
    coach_timeout_seconds: float = Field(
        default=20.0,
        gt=0,
        le=120,
        description="Longest the coach may take before it is unavailable.",
    )
    query_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="Longest a read answered by another service (e.g. a test run) may take.",
    )
    public_base_url: str | None = Field(
        default=None,
        description="Where people reach the gateway (sign-in links, the allowed Origin); "
        "unset: http://<HTTP_HOST>:<HTTP_PORT>.",
    )
    # validate_default: an unset SMTP_URL is refused outside development (see `_smtp_url`).
    smtp_url: str | None = Field(
        default=None,
        validate_default=True,
        description="smtp://host:port (STARTTLS when offered) or smtps://host:port (TLS).",
    )
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    mail_from: str = "Agent Studio <no-reply@localhost>"
    sign_in_link_ttl_minutes: int = Field(default=15, ge=1, le=60)
    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    session_lifetime_hours: int = Field(default=12, ge=1, le=24 * 30)

    web_dist_dir: Path | None = Field(
        default=None,
        description="The built web UI served at / (default: the repository's web/dist).",
    )

    @field_validator("public_base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            if info.data.get("studio_env", "development") != "development":
                raise ValueError("must be set outside development (sign-in links go out by mail)")
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("must be smtp://host:port or smtps://host:port")
        if parts.username or parts.password:
            raise ValueError("must not carry credentials; use SMTP_USERNAME and SMTP_PASSWORD")
        return value

    @property
    def base_url(self) -> str:
        """The public address: `public_base_url`, or the gateway's own."""
        return self.public_base_url or f"http://{self.http_host}:{self.http_port}"

    def unsafe_secrets(self) -> list[tuple[str, str]]:
        problems = super().unsafe_secrets()
        password = self.smtp_password.get_secret_value() if self.smtp_password else None
        if password is not None and is_placeholder(password):
            problems.append(("smtp_password", "is a placeholder, not a real password"))
        return problems

    @property
    def cookies_secure(self) -> bool:
        """Session cookies are `Secure` everywhere but on a developer's machine (plain HTTP)."""
        return self.studio_env != "development"

    # Rate limits (gateway/ratelimit.py): "<count>/<period>" in the `limits` notation, moving window.
    rate_limit_enabled: bool = True
    rate_limit_per_ip: str = Field(
        default="600/minute", description="Requests per client address without a known token."
    )
    rate_limit_per_user: str = Field(
        default="3000/minute", description="Requests per user with a valid token."
    )
    rate_limit_bad_credentials: str = Field(
        default="20/minute", description="Failed token checks per client address."
    )
    rate_limit_sign_in: str = Field(
        default="10/minute", description="Sign-in attempts per client address."
    )
    rate_limit_sign_in_email: str = Field(
        default="5/15 minutes", description="Sign-in attempts per email address."
    )

    # Quotas per user (gateway/quotas.py); past one, 409 `quota_exceeded` names it.
    quota_agents_per_user: int = Field(default=1000, ge=1)
    quota_cases_per_agent: int = Field(default=RUN_CASES_MAX, ge=1, le=RUN_CASES_MAX)
    quota_runs_in_flight_per_user: int = Field(default=10, ge=1)
    quota_executions_per_run: int = Field(default=20_000, ge=1)

    # Browser-facing safety (gateway/security.py).
    cors_origins: str = Field(
        default="", description="Comma-separated origins allowed by CORS; empty: none."
    )
    api_docs: bool | None = Field(
        default=None,
        description="/docs, /redoc and /openapi.json; unset: on except in staging and production.",
    )

    @field_validator(
        "rate_limit_per_ip",
        "rate_limit_per_user",
        "rate_limit_bad_credentials",
        "rate_limit_sign_in",
        "rate_limit_sign_in_email",
    )
    @classmethod
    def _rate(cls, value: str) -> str:
        try:
            parse(value)
        except ValueError:
            raise ValueError("must read like 10/minute or 100/5 minutes") from None
        return value

    @property
    def docs_enabled(self) -> bool:
        if self.api_docs is not None:
            return self.api_docs
        return self.studio_env not in ("staging", "production")

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]
