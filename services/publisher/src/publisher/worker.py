"""The publisher's entrypoint. It consumes nothing yet: it starts, connects, provisions the topology
and reports healthy; its consumers arrive with its features."""

from __future__ import annotations

import sys
from pathlib import Path

from publisher.models import SCHEMA, metadata
from publisher.settings import PublisherSettings
from runtime.cli import migrate_command
from runtime.service import serve

SERVICE = "publisher"
MIGRATIONS = Path(__file__).parent / "migrations"


def main() -> None:
    if sys.argv[1:2] == ["migrate"]:
        migrate_command(SERVICE, PublisherSettings, MIGRATIONS, SCHEMA)
        return
    serve(SERVICE, PublisherSettings, metadata, bindings=())
