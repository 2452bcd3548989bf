"""The topology in `contracts.subjects` and the subject ↔ model map in `contracts.registry`."""

from __future__ import annotations

import gc
import itertools
import re
import typing
import weakref

import pytest
from pydantic import BaseModel

from contracts import registry
from contracts import subjects as s
from contracts.envelope import Envelope

RELATIVE_SUBJECT = re.compile(
    r"^(?P<owner>[a-z][a-z0-9_]*)\.(?P<kind>cmd|evt)"
    r"\.(?P<name>[a-z][a-z0-9]*(?:_[a-z0-9]+)*)\.v(?P<version>[1-9][0-9]*)$"
)
# Queries are answered at once and never stored: their subjects stand outside the owners' streams.
QUERY_SUBJECT = re.compile(
    r"^(?P<kind>qry)\.(?P<owner>[a-z][a-z0-9_]*)"
    r"\.(?P<name>[a-z][a-z0-9]*(?:_[a-z0-9]+)*)\.v(?P<version>[1-9][0-9]*)$"
)
DURABLE_NAME = re.compile(r"^[a-z][a-z0-9_]*--[a-z][a-z0-9_]*$")
CUSTOM_ROOT = "t0a1b2c3d4e"  # the shape the test session's `subject_root` fixture uses
ROOTS = [s.DEFAULT_ROOT, CUSTOM_ROOT]


def _patterns_overlap(a: str, b: str) -> bool:
    """Whether one subject can match both NATS patterns (`*` is one token, `>` one or more)."""
    tokens_a, tokens_b = a.split("."), b.split(".")
    for x, y in zip(tokens_a, tokens_b, strict=False):
        if ">" in (x, y):
            return True
        if x != y and "*" not in (x, y):
            return False
    return len(tokens_a) == len(tokens_b)


def _nested_models(model: type[BaseModel]) -> set[type[BaseModel]]:
    """`model` and every model reachable through its field annotations."""
    found: set[type[BaseModel]] = set()
    pending: list[object] = [model]
    while pending:
        item = pending.pop()
        if isinstance(item, type) and issubclass(item, BaseModel):
            if item in found:
                continue
            found.add(item)
            pending.extend(field.annotation for field in item.model_fields.values())
        else:
            pending.extend(typing.get_args(item))
    return found


class TestSubjectsAndModels:
    """Every subject has one model, a valid name and a model named after it."""

    def test_every_subject_has_exactly_one_model_and_every_model_one_subject(self) -> None:
        assert set(registry.MODELS) == set(s.ALL_SUBJECTS)
        assert len(set(registry.MODELS.values())) == len(registry.MODELS)

    def test_subject_names_are_unique(self) -> None:
        relatives = [subject.relative for subject in s.ALL_SUBJECTS]
        assert sorted(relatives) == sorted(set(relatives))

    @pytest.mark.parametrize("subject", s.ALL_SUBJECTS, ids=lambda subject: subject.relative)
    def test_subject_follows_the_grammar(self, subject: s.Subject) -> None:
        grammar = QUERY_SUBJECT if subject.kind is s.Kind.QUERY else RELATIVE_SUBJECT
        match = grammar.fullmatch(subject.relative)

        assert match is not None, f"{subject.relative!r} is not <owner>.<cmd|evt>.<snake_name>.v<N>"
        assert match.groupdict() == {
            "owner": subject.owner,
            "kind": str(subject.kind),
            "name": subject.name,
            "version": str(subject.version),
        }
        assert subject.type == f"studio.{subject.relative}"

    @pytest.mark.parametrize("subject", s.ALL_SUBJECTS, ids=lambda subject: subject.relative)
    def test_model_class_is_named_after_its_subject_and_version(self, subject: s.Subject) -> None:
        camel = "".join(part.capitalize() for part in subject.name.split("_"))

        assert registry.MODELS[subject].__name__ == f"{camel}V{subject.version}"

    @pytest.mark.parametrize("subject", s.ALL_SUBJECTS, ids=lambda subject: subject.relative)
    def test_model_has_a_docstring_for_contracts_md(self, subject: s.Subject) -> None:
        doc = registry.MODELS[subject].__doc__

        assert doc is not None
        assert doc.strip() != ""

    @pytest.mark.parametrize("subject", s.ALL_SUBJECTS, ids=lambda subject: subject.relative)
    def test_models_are_frozen_tolerant_readers(self, subject: s.Subject) -> None:
        for model in _nested_models(registry.MODELS[subject]) | {Envelope}:
            assert model.model_config.get("frozen") is True, model.__name__
            assert model.model_config.get("extra", "ignore") == "ignore", model.__name__

    def test_registry_finds_a_subject_by_envelope_type(self) -> None:
        assert (
            registry.subject_for_type("studio.compiler.evt.agent_compiled.v1") is s.AGENT_COMPILED
        )


class TestStreams:
    """One stream per owner; no two streams capture the same subject."""

    @pytest.mark.parametrize("subject", s.ALL_SUBJECTS, ids=lambda subject: subject.relative)
    def test_every_stored_subject_is_captured_by_exactly_its_owners_stream(
        self, subject: s.Subject
    ) -> None:
        capturing = [
            stream.owner
            for stream in s.ALL_STREAMS
            if any(_patterns_overlap(p, subject.full()) for p in stream.subjects())
        ]

        assert capturing == ([] if subject.kind is s.Kind.QUERY else [subject.owner])

    def test_stream_names_and_owners_are_unique(self) -> None:
        assert len({stream.name for stream in s.ALL_STREAMS}) == len(s.ALL_STREAMS)
        assert len({stream.owner for stream in s.ALL_STREAMS}) == len(s.ALL_STREAMS)

    @pytest.mark.parametrize("root", ROOTS)
    def test_subjects_of_different_streams_never_overlap(self, root: str) -> None:
        patterns = [(stream.name, p) for stream in s.ALL_STREAMS for p in stream.subjects(root)]
        patterns += [(s.DEAD_LETTER.name, p) for p in s.DEAD_LETTER.subjects(root)]

        overlapping = [
            (a, b)
            for (name_a, a), (name_b, b) in itertools.combinations(patterns, 2)
            if name_a != name_b and _patterns_overlap(a, b)
        ]

        assert overlapping == []

    @pytest.mark.parametrize(
        ("a", "b", "expected"),
        [
            ("studio.compiler.>", "studio.compiler.evt.>", True),
            ("studio.compiler.>", "studio.*.cmd.compile_agent.v1", True),
            ("studio.compiler.>", "studio.compiler", False),
            ("studio.compiler.>", "studio.publisher.>", False),
            ("studio.compiler.>", "other.compiler.>", False),
        ],
    )
    def test_pattern_overlap_helper(self, a: str, b: str, expected: bool) -> None:
        assert _patterns_overlap(a, b) is expected
        assert _patterns_overlap(b, a) is expected

    def test_stream_names_carry_the_root(self) -> None:
        assert s.COMPILER_STREAM.full_name() == "STUDIO_COMPILER"
        assert s.COMPILER_STREAM.full_name(CUSTOM_ROOT) == "T0A1B2C3D4E_COMPILER"
        assert s.COMPILER_STREAM.subjects(CUSTOM_ROOT) == ["t0a1b2c3d4e.compiler.>"]


class TestDurables:
    """Durable names, filters, and which subjects each durable receives."""

    @pytest.mark.parametrize("durable", s.ALL_DURABLES, ids=lambda durable: durable.name)
    def test_durable_name_is_service_double_dash_label(self, durable: s.Durable) -> None:
        assert DURABLE_NAME.fullmatch(durable.name) is not None
        assert durable.name == f"{durable.service}--{durable.label}"

    def test_durable_names_are_unique(self) -> None:
        names = [durable.name for durable in s.ALL_DURABLES]
        assert sorted(names) == sorted(set(names))

    @pytest.mark.parametrize("durable", s.ALL_DURABLES, ids=lambda durable: durable.name)
    def test_durable_filter_is_a_registered_subject_an_owner_event_wildcard_or_the_dead_letters(
        self, durable: s.Durable
    ) -> None:
        registered = {subject.relative for subject in s.ALL_SUBJECTS}
        wildcards = {s.events_of(stream.owner) for stream in s.ALL_STREAMS}
        dead_letters = {f"{s.DEAD_LETTER.token}.>"} | {
            f"{s.DEAD_LETTER.token}.{subject}" for subject in registered
        }

        assert durable.filter in registered | wildcards | dead_letters

    @pytest.mark.parametrize("durable", s.ALL_DURABLES, ids=lambda durable: durable.name)
    def test_durable_filter_lies_inside_its_stream(self, durable: s.Durable) -> None:
        for root in ROOTS:
            (stream_pattern,) = durable.stream.subjects(root)
            assert durable.filter_subject(root).startswith(stream_pattern.removesuffix(">"))

    @pytest.mark.parametrize(
        "command",
        [subject for subject in s.ALL_SUBJECTS if subject.kind is s.Kind.COMMAND],
        ids=lambda subject: subject.relative,
    )
    def test_every_command_has_exactly_one_consumer_its_owner(self, command: s.Subject) -> None:
        consumers = [d.service for d in s.ALL_DURABLES if d.accepts(command.relative)]

        assert consumers == [command.owner]

    @pytest.mark.parametrize(
        ("relative", "expected"),
        [
            ("compiler.cmd.compile_agent.v1", True),
            ("compiler.cmd.compile_agent.v2", False),
            ("compiler.evt.agent_compiled.v1", False),
            ("compiler.cmd.compile_agent.v1.extra", False),
        ],
    )
    def test_durable_with_exact_filter_accepts_only_that_subject(
        self, relative: str, expected: bool
    ) -> None:
        durable = s.Durable(
            "compiler", s.COMPILER_STREAM, "compile_agent", s.COMPILE_AGENT.relative
        )

        assert durable.accepts(relative) is expected

    @pytest.mark.parametrize(
        ("relative", "expected"),
        [
            ("compiler.evt.agent_compiled.v1", True),
            ("compiler.evt.compilation_failed.v1", True),
            ("compiler.evt.anything_new.v7", True),
            ("compiler.cmd.compile_agent.v1", False),
            ("compiler.evt", False),
            ("compilerx.evt.agent_compiled.v1", False),
            ("publisher.evt.agent_published.v1", False),
        ],
    )
    def test_durable_with_wildcard_filter_accepts_every_event_of_the_owner(
        self, relative: str, expected: bool
    ) -> None:
        durable = s.Durable(
            "gateway", s.COMPILER_STREAM, "compiler_events", s.events_of("compiler")
        )

        assert durable.accepts(relative) is expected

    def test_durable_filter_subject_carries_the_root(self) -> None:
        assert s.GATEWAY_COMPILER_EVENTS.filter_subject() == "studio.compiler.evt.>"
        assert s.GATEWAY_COMPILER_EVENTS.filter_subject(CUSTOM_ROOT) == "t0a1b2c3d4e.compiler.evt.>"


class TestRootsAndDeadLetters:
    """Subjects under the default root and under a session's own root."""

    def test_custom_root_used_in_these_tests_is_a_valid_root(self) -> None:
        assert s.ROOT_PATTERN.fullmatch(CUSTOM_ROOT) is not None
        assert s.ROOT_PATTERN.fullmatch("studio.eu") is None

    @pytest.mark.parametrize(
        ("full", "root", "expected"),
        [
            (
                "studio.compiler.cmd.compile_agent.v1",
                s.DEFAULT_ROOT,
                "compiler.cmd.compile_agent.v1",
            ),
            (
                "t0a1b2c3d4e.compiler.evt.agent_compiled.v1",
                CUSTOM_ROOT,
                "compiler.evt.agent_compiled.v1",
            ),
            # Under another root the subject is returned unchanged, so decoding it fails loudly.
            (
                "studio.compiler.evt.agent_compiled.v1",
                CUSTOM_ROOT,
                "studio.compiler.evt.agent_compiled.v1",
            ),
            (
                "studiox.compiler.cmd.compile_agent.v1",
                s.DEFAULT_ROOT,
                "studiox.compiler.cmd.compile_agent.v1",
            ),
        ],
    )
    def test_relative_subject_strips_only_the_given_root(
        self, full: str, root: str, expected: str
    ) -> None:
        assert s.relative_subject(full, root) == expected

    @pytest.mark.parametrize("root", ROOTS)
    @pytest.mark.parametrize("subject", s.ALL_SUBJECTS, ids=lambda subject: subject.relative)
    def test_relative_subject_inverts_full(self, subject: s.Subject, root: str) -> None:
        assert s.relative_subject(subject.full(root), root) == subject.relative

    @pytest.mark.parametrize(
        ("original", "root", "expected"),
        [
            (
                "studio.compiler.cmd.compile_agent.v1",
                s.DEFAULT_ROOT,
                "studio.dlq.compiler.cmd.compile_agent.v1",
            ),
            (
                "t0a1b2c3d4e.compiler.evt.agent_compiled.v1",
                CUSTOM_ROOT,
                "t0a1b2c3d4e.dlq.compiler.evt.agent_compiled.v1",
            ),
        ],
    )
    def test_dead_letter_subject_keeps_the_root_and_the_relative_subject(
        self, original: str, root: str, expected: str
    ) -> None:
        dead = s.DEAD_LETTER.subject_for(original, root)

        assert dead == expected
        (pattern,) = s.DEAD_LETTER.subjects(root)
        assert _patterns_overlap(pattern, dead) is True

    def test_dead_letter_stream_name_carries_the_root(self) -> None:
        assert s.DEAD_LETTER.full_name() == "STUDIO_DEAD_LETTER"
        assert s.DEAD_LETTER.full_name(CUSTOM_ROOT) == "T0A1B2C3D4E_DEAD_LETTER"


def test_an_envelope_type_outlives_a_garbage_collection() -> None:
    """Rebuilding `Envelope[model]` costs milliseconds; pydantic alone keeps it only weakly."""
    model = next(iter(registry.MODELS.values()))
    built = weakref.ref(registry.envelope_type(model))

    gc.collect()

    assert built() is not None
    assert registry.envelope_type(model) is built()
