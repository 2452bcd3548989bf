"""The test-runner's entrypoint. It consumes nothing yet: it starts, connects, provisions the topology
and reports healthy; its consumers arrive with its features."""

from __future__ import annotations

import sys
from pathlib import Path

from runtime.cli import migrate_command
from runtime.service import serve
from testrunner.models import SCHEMA, metadata
from testrunner.settings import TestRunnerSettings

SERVICE = "test-runner"
MIGRATIONS = Path(__file__).parent / "migrations"


def main() -> None:
    if sys.argv[1:2] == ["migrate"]:
        migrate_command(SERVICE, TestRunnerSettings, MIGRATIONS, SCHEMA)
        return
    serve(SERVICE, TestRunnerSettings, metadata, bindings=())
