"""JSON-Schema snapshots of every registered envelope: within a version a schema may only grow.

Policy: an identical schema passes; new optional properties (or changed titles and descriptions) fail
until the snapshots are regenerated with STUDIO_UPDATE_SNAPSHOTS=1; anything else (a removed field,
a newly required field, a changed type or constraint) fails for good: publish a V2 instead.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import pytest

from contracts import registry
from contracts import subjects as s
from contracts.compiler import CompileAgentV1

Schema = dict[str, Any]

SNAPSHOTS = Path(__file__).parent / "schemas"
UPDATE_ENV = "STUDIO_UPDATE_SNAPSHOTS"
REGENERATE = f"{UPDATE_ENV}=1 uv run pytest libs/contracts/tests/test_schemas.py"
ANNOTATIONS = frozenset({"title", "description", "examples"})  # change no message's validity
SUBSCHEMAS = {"items": "[]", "additionalProperties": "{}"}
COMBINATORS = frozenset({"anyOf", "oneOf", "allOf", "prefixItems"})
STRUCTURE = frozenset({"properties", "required", "$defs", "$ref"})


@dataclass(frozen=True)
class SchemaDiff:
    compatible: tuple[str, ...]
    incompatible: tuple[str, ...]


def diff_schemas(old: Schema, new: Schema) -> SchemaDiff:
    """What changed from `old` to `new`. `$ref`s into `$defs` are followed, so renaming a nested
    model changes only a title; any change other than a new optional property or an annotation is
    incompatible, because either an old consumer or an old message would stop validating."""
    compatible: list[str] = []
    incompatible: list[str] = []
    seen: set[tuple[str | None, str | None]] = set()

    def resolve(node: Schema, root: Schema) -> Schema:
        ref = node.get("$ref")
        if not isinstance(ref, str):
            return node
        target: Schema = root["$defs"][ref.removeprefix("#/$defs/")]
        return {**target, **{k: v for k, v in node.items() if k != "$ref"}}

    def walk(o: Schema, n: Schema, path: str) -> None:
        refs = (o.get("$ref"), n.get("$ref"))
        if refs != (None, None):
            if refs in seen:  # a recursive model, already being compared
                return
            seen.add(refs)
        o, n = resolve(o, old), resolve(n, new)
        where = path or "<root>"

        def at(name: str) -> str:
            return f"{path}.{name}" if path else name

        o_props: Schema = o.get("properties", {})
        n_props: Schema = n.get("properties", {})
        o_required, n_required = set(o.get("required", [])), set(n.get("required", []))
        for name in sorted(o_props.keys() - n_props.keys()):
            incompatible.append(f"removed property {at(name)}")
        for name in sorted(n_props.keys() - o_props.keys()):
            if name in n_required:
                incompatible.append(f"new required property {at(name)}")
            else:
                compatible.append(f"new optional property {at(name)}")
        for name in sorted(o_props.keys() & n_props.keys()):
            if name in o_required and name not in n_required:
                incompatible.append(f"property {at(name)} is no longer required")
            if name in n_required and name not in o_required:
                incompatible.append(f"property {at(name)} became required")
            walk(o_props[name], n_props[name], at(name))

        for key in sorted((o.keys() | n.keys()) - STRUCTURE):
            o_value, n_value = o.get(key), n.get(key)
            if o_value == n_value:
                continue
            if key in ANNOTATIONS:
                compatible.append(f"{where}: {key} changed")
            elif key in SUBSCHEMAS and isinstance(o_value, dict) and isinstance(n_value, dict):
                walk(o_value, n_value, f"{path}{SUBSCHEMAS[key]}")
            elif (
                key in COMBINATORS
                and isinstance(o_value, list)
                and isinstance(n_value, list)
                and len(o_value) == len(n_value)
            ):
                for i, (o_item, n_item) in enumerate(zip(o_value, n_value, strict=True)):
                    walk(o_item, n_item, f"{where}.{key}[{i}]")
            else:
                incompatible.append(f"{where}: {key} changed from {o_value!r} to {n_value!r}")

    walk(old, new, "")
    return SchemaDiff(tuple(compatible), tuple(incompatible))


class Verdict(Enum):
    IDENTICAL = "identical"
    COMPATIBLE = "compatible"
    INCOMPATIBLE = "incompatible"


def judge(relative: str, committed: Schema, current: Schema) -> tuple[Verdict, str]:
    """The verdict on `current` against the `committed` snapshot, with the message to fail with."""
    if committed == current:
        return Verdict.IDENTICAL, ""
    diff = diff_schemas(committed, current)
    if diff.incompatible:
        what = "; ".join(diff.incompatible)
        return Verdict.INCOMPATIBLE, (
            f"incompatible change to {relative}: {what}; publish a V2 instead"
        )
    what = "; ".join(diff.compatible) or "properties or required fields reordered"
    return Verdict.COMPATIBLE, (
        f"schema changed compatibly; regenerate snapshots with {UPDATE_ENV}=1 "
        f"({relative}: {what}; run `{REGENERATE}`)"
    )


class SnapshotMismatchError(AssertionError):
    pass


def render(schema: Schema) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def check_snapshot(relative: str, current: Schema, path: Path, *, update: bool) -> None:
    """Compare `current` with the snapshot at `path`; with `update`, rewrite a missing or
    compatibly changed snapshot (never an incompatible one)."""
    current = json.loads(render(current))  # compare what would be committed, not Python objects
    if not path.exists():
        if not update:
            raise SnapshotMismatchError(
                f"no schema snapshot for {relative} at {path}; create it with `{REGENERATE}`"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(current))
        warnings.warn(f"wrote new schema snapshot {path.name}", stacklevel=2)
        return
    verdict, message = judge(relative, json.loads(path.read_text()), current)
    if verdict is Verdict.IDENTICAL:
        return
    if verdict is Verdict.INCOMPATIBLE or not update:
        raise SnapshotMismatchError(message)
    path.write_text(render(current))
    warnings.warn(f"rewrote schema snapshot {path.name}: {message}", stacklevel=2)


# The committed snapshots -----------------------------------------------------------------------


@pytest.mark.parametrize("subject", s.ALL_SUBJECTS, ids=lambda subject: subject.relative)
def test_envelope_schema_matches_its_snapshot(subject: s.Subject) -> None:
    schema = registry.envelope_type(registry.MODELS[subject]).model_json_schema()

    check_snapshot(
        subject.relative,
        schema,
        SNAPSHOTS / f"{subject.relative}.json",
        update=os.environ.get(UPDATE_ENV) == "1",
    )


def test_every_snapshot_belongs_to_a_registered_subject() -> None:
    registered = {subject.relative for subject in s.ALL_SUBJECTS}
    orphans = sorted(p.name for p in SNAPSHOTS.glob("*.json") if p.stem not in registered)

    assert orphans == [], f"delete the snapshots of unregistered subjects: {orphans}"


# The compatibility checker ---------------------------------------------------------------------

THING: Schema = {
    "title": "Thing",
    "type": "object",
    "properties": {
        "id": {"title": "Id", "type": "string", "format": "uuid"},
        "count": {"title": "Count", "type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["id", "count"],
}


def changed(**properties: Schema | None) -> Schema:
    """THING with some properties replaced (a schema) or removed (None)."""
    props = {**THING["properties"], **properties}
    return {**THING, "properties": {k: v for k, v in props.items() if v is not None}}


class TestDiffSchemas:
    """The checker on small hand-written schemas, then on what pydantic generates."""

    def test_identical_schemas_have_no_changes(self) -> None:
        assert diff_schemas(THING, json.loads(json.dumps(THING))) == SchemaDiff((), ())

    def test_removed_property_is_incompatible(self) -> None:
        new = {**changed(count=None), "required": ["id"]}

        assert diff_schemas(THING, new) == SchemaDiff((), ("removed property count",))

    def test_new_required_property_is_incompatible(self) -> None:
        new = {**changed(name={"type": "string"}), "required": ["id", "count", "name"]}

        assert diff_schemas(THING, new) == SchemaDiff((), ("new required property name",))

    def test_type_change_is_incompatible(self) -> None:
        new = changed(count={"title": "Count", "type": "string"})

        assert diff_schemas(THING, new) == SchemaDiff(
            (), ("count: type changed from 'integer' to 'string'",)
        )

    def test_type_change_of_array_items_is_incompatible(self) -> None:
        new = changed(tags={"type": "array", "items": {"type": "integer"}})

        assert diff_schemas(THING, new).incompatible == (
            "tags[]: type changed from 'string' to 'integer'",
        )

    def test_new_optional_property_is_compatible(self) -> None:
        new = changed(note={"type": "string", "default": ""})

        assert diff_schemas(THING, new) == SchemaDiff(("new optional property note",), ())

    def test_new_description_is_compatible(self) -> None:
        new = {**THING, "description": "A thing."}

        assert diff_schemas(THING, new) == SchemaDiff(("<root>: description changed",), ())

    def test_required_property_becoming_optional_is_incompatible(self) -> None:
        new = {**THING, "required": ["id"]}

        assert diff_schemas(THING, new).incompatible == ("property count is no longer required",)

    def test_new_constraint_is_incompatible(self) -> None:
        new = changed(count={"title": "Count", "type": "integer", "minimum": 0})

        assert diff_schemas(THING, new).incompatible == ("count: minimum changed from None to 0",)

    def test_changes_inside_referenced_definitions_are_found(self) -> None:
        def envelope(data: Schema, name: str = "Data") -> Schema:
            return {
                "$defs": {name: data},
                "type": "object",
                "properties": {"data": {"$ref": f"#/$defs/{name}"}},
                "required": ["data"],
            }

        renamed = envelope({**THING, "title": "Renamed"}, name="Renamed")
        shrunk = envelope({**changed(count=None), "required": ["id"]})

        assert diff_schemas(envelope(THING), renamed) == SchemaDiff(("data: title changed",), ())
        assert diff_schemas(envelope(THING), shrunk).incompatible == (
            "removed property data.count",
        )

    def test_recursive_definitions_terminate(self) -> None:
        node: Schema = {
            "$defs": {
                "Node": {
                    "type": "object",
                    "properties": {
                        "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}
                    },
                }
            },
            "$ref": "#/$defs/Node",
        }

        assert diff_schemas(node, node) == SchemaDiff((), ())

    def test_pydantic_subclass_with_an_optional_field_is_compatible(self) -> None:
        class CompileAgentWithNote(CompileAgentV1):
            note: str | None = None

        old = registry.envelope_type(CompileAgentV1).model_json_schema()
        new = registry.envelope_type(CompileAgentWithNote).model_json_schema()

        assert diff_schemas(old, new) == SchemaDiff(
            (
                "new optional property data.note",
                "data: description changed",
                "data: title changed",
                "<root>: title changed",
            ),
            (),
        )


class TestSnapshotPolicy:
    """`judge` and `check_snapshot`: what passes, what fails, and what gets rewritten."""

    def test_identical_schema_passes(self) -> None:
        assert judge("x.cmd.do_it.v1", THING, THING) == (Verdict.IDENTICAL, "")

    def test_incompatible_change_names_subject_and_change(self) -> None:
        verdict, message = judge("x.cmd.do_it.v1", THING, changed(tags=None))

        assert verdict is Verdict.INCOMPATIBLE
        assert message == (
            "incompatible change to x.cmd.do_it.v1: removed property tags; publish a V2 instead"
        )

    def test_compatible_change_asks_for_regeneration(self) -> None:
        verdict, message = judge("x.cmd.do_it.v1", THING, changed(note={"type": "string"}))

        assert verdict is Verdict.COMPATIBLE
        assert message.startswith(
            "schema changed compatibly; regenerate snapshots with STUDIO_UPDATE_SNAPSHOTS=1 "
            "(x.cmd.do_it.v1: new optional property note;"
        )

    def test_missing_snapshot_fails_with_how_to_create_it(self, tmp_path: Path) -> None:
        path = tmp_path / "x.cmd.do_it.v1.json"

        with pytest.raises(SnapshotMismatchError) as raised:
            check_snapshot("x.cmd.do_it.v1", THING, path, update=False)

        assert str(raised.value) == (
            f"no schema snapshot for x.cmd.do_it.v1 at {path}; create it with "
            "`STUDIO_UPDATE_SNAPSHOTS=1 uv run pytest libs/contracts/tests/test_schemas.py`"
        )
        assert path.exists() is False

    def test_missing_snapshot_is_written_on_update(self, tmp_path: Path) -> None:
        path = tmp_path / "x.cmd.do_it.v1.json"

        with pytest.warns(UserWarning, match="wrote new schema snapshot x.cmd.do_it.v1.json"):
            check_snapshot("x.cmd.do_it.v1", THING, path, update=True)

        assert json.loads(path.read_text()) == THING

    def test_compatible_change_fails_without_update_and_keeps_snapshot(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "x.cmd.do_it.v1.json"
        path.write_text(render(THING))

        with pytest.raises(SnapshotMismatchError) as raised:
            check_snapshot("x.cmd.do_it.v1", changed(note={"type": "string"}), path, update=False)

        assert str(raised.value).startswith("schema changed compatibly; regenerate snapshots")
        assert path.read_text() == render(THING)

    def test_compatible_change_is_rewritten_on_update(self, tmp_path: Path) -> None:
        path = tmp_path / "x.cmd.do_it.v1.json"
        path.write_text(render(THING))
        new = changed(note={"type": "string"})

        with pytest.warns(UserWarning, match="rewrote schema snapshot x.cmd.do_it.v1.json"):
            check_snapshot("x.cmd.do_it.v1", new, path, update=True)

        assert path.read_text() == render(new)

    def test_incompatible_change_is_never_rewritten(self, tmp_path: Path) -> None:
        path = tmp_path / "x.cmd.do_it.v1.json"
        path.write_text(render(THING))

        with pytest.raises(SnapshotMismatchError) as raised:
            check_snapshot("x.cmd.do_it.v1", changed(count=None), path, update=True)

        assert str(raised.value) == (
            "incompatible change to x.cmd.do_it.v1: removed property count; publish a V2 instead"
        )
        assert path.read_text() == render(THING)
