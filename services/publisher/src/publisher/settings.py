"""Settings of the publisher: the common ones, overridable with `PUBLISHER_…`."""

from pydantic import Field

from runtime.settings import CommonSettings


class PublisherSettings(CommonSettings):
    http_port: int = Field(default=8103, ge=0, le=65535)
