"""The publisher's tables, in its own `publisher` schema (the delivery tables for now)."""

from runtime.db import service_metadata

SCHEMA = "publisher"
metadata = service_metadata(SCHEMA)
