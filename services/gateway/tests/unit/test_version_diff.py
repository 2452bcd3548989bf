"""What a version diff shows: the instructions as a unified diff, the spec block by block."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from gateway.publishing import schemas
from gateway.publishing.versions import diff_versions


def version(
    number: int, instructions: str, spec: dict[str, Any], temperature: float | None = None
) -> schemas.VersionPublic:
    return schemas.VersionPublic(
        number=number,
        compilation_id=uuid.uuid4(),
        test_run_id=None,
        spec_revision=number,
        notes="",
        forced=False,
        force_reason=None,
        overridden=None,
        published_by=uuid.uuid4(),
        published_at=datetime(2026, 11, 25, tzinfo=UTC),
        spec=spec,
        instructions=instructions,
        variables=[],
        settings=schemas.ModelSettingsPublic(model=None, temperature=temperature),
    )


def test_the_diff_shows_changed_lines_and_changed_blocks_only() -> None:
    a = version(
        1,
        "## System Backbone\nRole: agent\n",
        {"persona": {"role": "agent"}, "mission": {"problem": "x"}},
    )
    b = version(
        2,
        "## System Backbone\nRole: billing agent\n",
        {
            "persona": {"role": "billing agent"},
            "mission": {"problem": "x"},
            "workflow": {"steps": ["a"]},
        },
        temperature=0.2,
    )
    diff = diff_versions(a, b)
    assert diff.instructions == (
        "--- v1\n+++ v2\n@@ -1,2 +1,2 @@\n ## System Backbone\n-Role: agent\n+Role: billing agent\n"
    )
    assert [(c.block, c.change) for c in diff.spec] == [
        ("persona", "changed"),
        ("workflow", "added"),
    ]
    assert diff.spec[0].before == {"role": "agent"}
    assert diff.spec[0].after == {"role": "billing agent"}
    assert diff.settings is not None
    assert (diff.settings.before.temperature, diff.settings.after.temperature) == (None, 0.2)


def test_identical_versions_have_an_empty_diff() -> None:
    a = version(1, "same\n", {"persona": {"role": "r"}})
    diff = diff_versions(a, version(2, "same\n", {"persona": {"role": "r"}}))
    assert (diff.instructions, diff.spec, diff.settings) == ("", [], None)
