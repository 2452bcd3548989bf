"""The gateway keeps the promises of its own OpenAPI document, probed by schemathesis over HTTP
against its `/openapi.json`: for generated requests, valid and invalid, with every service up, no
5xx, no status code the document does not declare, no response that breaks its declared schema
or content type.

Examples are bounded per operation so that the whole walk takes about a minute. Paths name the
caller's own agent, so requests reach past the ownership check (a throwaway one for the delete);
erasing the caller (`DELETE /api/v1/me`) is probed as another user.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.support.fixtures import Stack

pytestmark = pytest.mark.e2e

EXAMPLES_PER_OPERATION = 5
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def new_agent(client: httpx.Client, name: str) -> str:
    created = client.post("/api/v1/agents", json={"name": name})
    assert created.status_code == 201, created.text
    agent_id: str = created.json()["id"]
    return agent_id


def config(token: str, agent_id: str, doomed_agent_id: str, doomed_token: str) -> str:
    return f"""
headers = {{ Authorization = {json.dumps(f"Bearer {token}")} }}

[parameters]
"path.agent_id" = {json.dumps(agent_id)}

[[operations]]
include-name = "DELETE /api/v1/agents/{{agent_id}}"
parameters = {{ "path.agent_id" = {json.dumps(doomed_agent_id)} }}

[[operations]]
include-name = "DELETE /api/v1/me"
headers = {{ Authorization = {json.dumps(f"Bearer {doomed_token}")} }}
"""


def test_the_gateway_keeps_its_openapi_document(
    isolated_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = isolated_stack()  # every service, so reads the others answer are probed too
    for service in ("compiler", "test-runner", "publisher", "gateway"):
        stack.start(service)
    token, erased = stack.new_token(), stack.new_token()  # the second user is erased
    with stack.client(token) as client:
        agent_id, doomed = new_agent(client, "Probed"), new_agent(client, "Deleted")
    config_file = tmp_path / "schemathesis.toml"
    config_file.write_text(config(token, agent_id, doomed, erased))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(config_file),
            "run",
            f"{stack.gateway_url}/openapi.json",
            "--checks",
            CHECKS,
            "--phases",
            "coverage,fuzzing",
            "--max-examples",
            str(EXAMPLES_PER_OPERATION),
            "--seed",
            "11",
            "--workers",
            "1",  # Python 3.11's ast.parse, which hypothesis calls, is not safe across threads
            "--request-timeout",
            "30",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=tmp_path,
    )

    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
    with stack.client(token) as client:  # the walk probed the caller's agent, not erased them
        assert client.get(f"/api/v1/agents/{agent_id}").status_code == 200
