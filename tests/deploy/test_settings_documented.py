"""`.env.example` lists every setting the services read, and nothing they do not."""

from __future__ import annotations

import re

import pytest

from tests.support.deploy import ROOT, SETTINGS, unknown_settings

ENV_EXAMPLE = (ROOT / ".env.example").read_text()
DOCUMENTED = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", ENV_EXAMPLE, re.MULTILINE))
# Read by something other than a service's settings class: the devserver, the tests, the OTel SDK.
NOT_SERVICE_SETTINGS = {"STUDIO_DATA_DIR", "TEST_DATABASE_URL", "TEST_NATS_URL", "TEST_REDIS_URL"}


@pytest.mark.parametrize("service", SETTINGS)
def test_every_setting_a_service_reads_is_in_env_example(service: str) -> None:
    prefix = service.upper().replace("-", "_") + "_"
    missing = [
        field.upper()
        for field in SETTINGS[service].model_fields
        if field.upper() not in DOCUMENTED and prefix + field.upper() not in DOCUMENTED
    ]
    assert missing == []


def test_env_example_lists_nothing_no_service_reads() -> None:
    stale = {
        name
        for name in DOCUMENTED - NOT_SERVICE_SETTINGS
        if all(unknown_settings(service, {name: ""}) for service in SETTINGS)
    }
    assert stale == set()
