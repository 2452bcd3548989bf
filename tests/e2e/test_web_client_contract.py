"""The web UI's typed API client is generated from `web/openapi.json`; this keeps that snapshot
equal to what the gateway serves, so the UI cannot drift from the API.

Regenerate it with `STUDIO_UPDATE_SNAPSHOTS=1 uv run pytest tests/e2e/test_web_client_contract.py`
(then `make install` rebuilds the UI against it).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest

from tests.support.fixtures import Stack

pytestmark = pytest.mark.e2e

SNAPSHOT = Path(__file__).resolve().parents[2] / "web" / "openapi.json"


def test_the_ui_client_is_generated_from_the_api_the_gateway_serves(stack: Stack) -> None:
    live = httpx.get(f"{stack.gateway_url}/openapi.json", timeout=10).json()
    if os.environ.get("STUDIO_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(json.dumps(live, indent=2, sort_keys=True) + "\n")

    assert json.loads(SNAPSHOT.read_text()) == live, (
        "web/openapi.json differs from the gateway's /openapi.json: regenerate it with "
        "STUDIO_UPDATE_SNAPSHOTS=1 uv run pytest tests/e2e/test_web_client_contract.py"
    )
