"""Gateway settings: the common ones, overridable with `GATEWAY_…`."""

from pathlib import Path

from pydantic import Field

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
    web_dist_dir: Path | None = Field(
        default=None,
        description="The built web UI served at / (default: the repository's web/dist).",
    )
