"""Gateway settings: the common ones, overridable with `GATEWAY_…`."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from runtime.settings import CommonSettings

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

    @property
    def cookies_secure(self) -> bool:
        """Session cookies are `Secure` everywhere but on a developer's machine (plain HTTP)."""
        return self.studio_env != "development"
