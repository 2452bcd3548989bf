"""The test-runner's tables, in its own `test_runner` schema (the delivery tables for now)."""

from runtime.db import service_metadata

SCHEMA = "test_runner"
metadata = service_metadata(SCHEMA)
