"""Compiler settings: the common ones, overridable with `COMPILER_…`."""

from pydantic import Field

from runtime.settings import CommonSettings


class CompilerSettings(CommonSettings):
    http_port: int = Field(default=8101, ge=0, le=65535)
