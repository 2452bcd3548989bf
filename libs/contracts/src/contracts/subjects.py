"""The whole messaging topology in one place: subjects, streams and durable consumers.

Subjects follow `<root>.<owner>.<cmd|evt>.<name>.v<N>`, where `<owner>` is the service that handles a
command or emits an event. `<root>` is `studio` unless a deployment shares one NATS server between
several installations (tests do), in which case each installation picks its own root.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

DEFAULT_ROOT = "studio"
ROOT_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class Kind(StrEnum):
    COMMAND = "cmd"
    EVENT = "evt"
    QUERY = "qry"


@dataclass(frozen=True)
class Subject:
    owner: str
    kind: Kind
    name: str
    version: int

    @property
    def relative(self) -> str:
        """The subject without its root, e.g. `compiler.cmd.compile_agent.v1`.

        Queries (request/reply, answered at once, never stored) read `qry.<owner>.<name>.v<N>`:
        outside `<root>.<owner>.>`, so no stream captures them (a stream would answer the request
        with its own acknowledgement).
        """
        if self.kind is Kind.QUERY:
            return f"{self.kind}.{self.owner}.{self.name}.v{self.version}"
        return f"{self.owner}.{self.kind}.{self.name}.v{self.version}"

    @property
    def type(self) -> str:
        """The envelope `type`: the subject under the canonical root, whatever the deployment's root."""
        return f"{DEFAULT_ROOT}.{self.relative}"

    def full(self, root: str = DEFAULT_ROOT) -> str:
        return f"{root}.{self.relative}"


@dataclass(frozen=True)
class Stream:
    """One stream per owner captures all of that owner's subjects (limits retention)."""

    name: str
    owner: str

    def full_name(self, root: str = DEFAULT_ROOT) -> str:
        return f"{root.upper()}_{self.name}"

    def subjects(self, root: str = DEFAULT_ROOT) -> list[str]:
        return [f"{root}.{self.owner}.>"]


@dataclass(frozen=True)
class Durable:
    """A durable pull consumer, shared by every replica of `service`.

    `filter` is one subject, or a wildcard over all of an owner's events (`compiler.evt.>`): one
    filter per consumer keeps the topology valid on every JetStream server from 2.9 on.
    """

    service: str
    stream: Stream
    label: str
    filter: str

    @property
    def name(self) -> str:
        return f"{self.service}--{self.label}"

    def filter_subject(self, root: str = DEFAULT_ROOT) -> str:
        return f"{root}.{self.filter}"

    def exhausted_advisory(self, root: str = DEFAULT_ROOT) -> str:
        """The subject on which JetStream announces a message this consumer stopped redelivering."""
        return (
            f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{self.stream.full_name(root)}.{self.name}"
        )

    def accepts(self, relative: str) -> bool:
        """Whether a subject (without its root) is one this consumer is meant to receive."""
        if self.filter.endswith(".>"):
            return relative.startswith(self.filter[:-1])
        return relative == self.filter


def events_of(owner: str) -> str:
    return f"{owner}.{Kind.EVENT}.>"


# Commands and events -------------------------------------------------------------------------

COMPILE_AGENT = Subject("compiler", Kind.COMMAND, "compile_agent", 1)
AGENT_COMPILED = Subject("compiler", Kind.EVENT, "agent_compiled", 1)
COMPILATION_FAILED = Subject("compiler", Kind.EVENT, "compilation_failed", 1)
COACH_BLOCK = Subject("compiler", Kind.QUERY, "coach_block", 1)
LIST_COMPILATIONS = Subject("compiler", Kind.QUERY, "list_compilations", 1)

START_TEST_RUN = Subject("test_runner", Kind.COMMAND, "start_test_run", 1)
ADD_RUN_CASES = Subject("test_runner", Kind.COMMAND, "add_run_cases", 1)
EXECUTE_CASE = Subject("test_runner", Kind.COMMAND, "execute_case", 1)
FAN_OUT_RUN = Subject("test_runner", Kind.COMMAND, "fan_out_run", 1)
CANCEL_TEST_RUN = Subject("test_runner", Kind.COMMAND, "cancel_test_run", 1)
TEST_RUN_STARTED = Subject("test_runner", Kind.EVENT, "test_run_started", 1)
TEST_RUN_COMPLETED = Subject("test_runner", Kind.EVENT, "test_run_completed", 1)
TEST_RUN_CANCELLED = Subject("test_runner", Kind.EVENT, "test_run_cancelled", 1)
TEST_RUN_PAUSED = Subject("test_runner", Kind.EVENT, "test_run_paused", 1)
TEST_RUN_RESUMED = Subject("test_runner", Kind.EVENT, "test_run_resumed", 1)
GET_TEST_RUN = Subject("test_runner", Kind.QUERY, "get_test_run", 1)
PUBLISH_VERSION = Subject("publisher", Kind.COMMAND, "publish_version", 1)
MOVE_CHANNEL = Subject("publisher", Kind.COMMAND, "move_channel", 1)
IMPORT_AGENT_VERSIONS = Subject("publisher", Kind.COMMAND, "import_agent_versions", 1)
VERSION_PUBLISHED = Subject("publisher", Kind.EVENT, "version_published", 1)
PUBLISH_REFUSED = Subject("publisher", Kind.EVENT, "publish_refused", 1)
CHANNEL_MOVED = Subject("publisher", Kind.EVENT, "channel_moved", 1)
CHANNEL_MOVE_REFUSED = Subject("publisher", Kind.EVENT, "channel_move_refused", 1)
LIST_VERSIONS = Subject("publisher", Kind.QUERY, "list_versions", 1)
GET_VERSION = Subject("publisher", Kind.QUERY, "get_version", 1)
GET_CHANNEL_HISTORY = Subject("publisher", Kind.QUERY, "get_channel_history", 1)
AGENT_DELETED = Subject("gateway", Kind.EVENT, "agent_deleted", 1)
ERASE_COMPILATIONS = Subject("compiler", Kind.COMMAND, "erase_compilations", 1)
COMPILATIONS_ERASED = Subject("compiler", Kind.EVENT, "compilations_erased", 1)
ERASE_TEST_RUNS = Subject("test_runner", Kind.COMMAND, "erase_test_runs", 1)
TEST_RUNS_ERASED = Subject("test_runner", Kind.EVENT, "test_runs_erased", 1)
ERASE_VERSIONS = Subject("publisher", Kind.COMMAND, "erase_versions", 1)
VERSIONS_ERASED = Subject("publisher", Kind.EVENT, "versions_erased", 1)

ALL_SUBJECTS: tuple[Subject, ...] = (
    COMPILE_AGENT,
    AGENT_COMPILED,
    COMPILATION_FAILED,
    COACH_BLOCK,
    LIST_COMPILATIONS,
    START_TEST_RUN,
    ADD_RUN_CASES,
    EXECUTE_CASE,
    FAN_OUT_RUN,
    CANCEL_TEST_RUN,
    TEST_RUN_STARTED,
    TEST_RUN_COMPLETED,
    TEST_RUN_CANCELLED,
    TEST_RUN_PAUSED,
    TEST_RUN_RESUMED,
    GET_TEST_RUN,
    PUBLISH_VERSION,
    MOVE_CHANNEL,
    IMPORT_AGENT_VERSIONS,
    VERSION_PUBLISHED,
    PUBLISH_REFUSED,
    CHANNEL_MOVED,
    CHANNEL_MOVE_REFUSED,
    LIST_VERSIONS,
    GET_VERSION,
    GET_CHANNEL_HISTORY,
    AGENT_DELETED,
    ERASE_COMPILATIONS,
    COMPILATIONS_ERASED,
    ERASE_TEST_RUNS,
    TEST_RUNS_ERASED,
    ERASE_VERSIONS,
    VERSIONS_ERASED,
)

# Streams ---------------------------------------------------------------------------------------

COMPILER_STREAM = Stream("COMPILER", "compiler")
TEST_RUNNER_STREAM = Stream("TEST_RUNNER", "test_runner")
PUBLISHER_STREAM = Stream("PUBLISHER", "publisher")
GATEWAY_STREAM = Stream("GATEWAY", "gateway")

ALL_STREAMS: tuple[Stream, ...] = (
    COMPILER_STREAM,
    TEST_RUNNER_STREAM,
    PUBLISHER_STREAM,
    GATEWAY_STREAM,
)


@dataclass(frozen=True)
class DeadLetterStream:
    """Poison messages and messages out of deliveries land here, under `<root>.dlq.<relative>`."""

    name: str = "DEAD_LETTER"
    token: str = "dlq"

    def full_name(self, root: str = DEFAULT_ROOT) -> str:
        return f"{root.upper()}_{self.name}"

    def subjects(self, root: str = DEFAULT_ROOT) -> list[str]:
        return [f"{root}.{self.token}.>"]

    def subject_for(self, original: str, root: str = DEFAULT_ROOT) -> str:
        relative = original.removeprefix(f"{root}.")
        return f"{root}.{self.token}.{relative}"


DEAD_LETTER = DeadLetterStream()
DEAD_LETTER_STREAM = Stream(DEAD_LETTER.name, DEAD_LETTER.token)
"""The dead-letter stream seen as a stream a durable can read (its subjects are the same)."""


@dataclass(frozen=True)
class ExhaustedStream:
    """Captures JetStream's max-deliveries advisories of every durable, which core NATS would
    otherwise deliver at most once (and to nobody while the consuming service is down)."""

    name: str = "EXHAUSTED"

    def full_name(self, root: str = DEFAULT_ROOT) -> str:
        return f"{root.upper()}_{self.name}"


EXHAUSTED = ExhaustedStream()

# Durable consumers ---------------------------------------------------------------------------

COMPILER_COMPILE_AGENT = Durable(
    "compiler", COMPILER_STREAM, "compile_agent", COMPILE_AGENT.relative
)
COMPILER_ERASE_COMPILATIONS = Durable(
    "compiler", COMPILER_STREAM, "erase_compilations", ERASE_COMPILATIONS.relative
)
GATEWAY_COMPILER_EVENTS = Durable(
    "gateway", COMPILER_STREAM, "compiler_events", events_of("compiler")
)

TEST_RUNNER_START_TEST_RUN = Durable(
    "test_runner", TEST_RUNNER_STREAM, "start_test_run", START_TEST_RUN.relative
)
TEST_RUNNER_ADD_RUN_CASES = Durable(
    "test_runner", TEST_RUNNER_STREAM, "add_run_cases", ADD_RUN_CASES.relative
)
TEST_RUNNER_EXECUTE_CASE = Durable(
    "test_runner", TEST_RUNNER_STREAM, "execute_case", EXECUTE_CASE.relative
)
TEST_RUNNER_FAN_OUT_RUN = Durable(
    "test_runner", TEST_RUNNER_STREAM, "fan_out_run", FAN_OUT_RUN.relative
)
TEST_RUNNER_CANCEL_TEST_RUN = Durable(
    "test_runner", TEST_RUNNER_STREAM, "cancel_test_run", CANCEL_TEST_RUN.relative
)
TEST_RUNNER_ERASE_TEST_RUNS = Durable(
    "test_runner", TEST_RUNNER_STREAM, "erase_test_runs", ERASE_TEST_RUNS.relative
)
GATEWAY_TEST_RUNNER_EVENTS = Durable(
    "gateway", TEST_RUNNER_STREAM, "test_runner_events", events_of("test_runner")
)

PUBLISHER_PUBLISH_VERSION = Durable(
    "publisher", PUBLISHER_STREAM, "publish_version", PUBLISH_VERSION.relative
)
PUBLISHER_MOVE_CHANNEL = Durable(
    "publisher", PUBLISHER_STREAM, "move_channel", MOVE_CHANNEL.relative
)
PUBLISHER_IMPORT_AGENT_VERSIONS = Durable(
    "publisher", PUBLISHER_STREAM, "import_agent_versions", IMPORT_AGENT_VERSIONS.relative
)
PUBLISHER_ERASE_VERSIONS = Durable(
    "publisher", PUBLISHER_STREAM, "erase_versions", ERASE_VERSIONS.relative
)
PUBLISHER_TEST_RUNNER_EVENTS = Durable(
    "publisher", TEST_RUNNER_STREAM, "test_runner_events", events_of("test_runner")
)
PUBLISHER_GATEWAY_EVENTS = Durable(
    "publisher", GATEWAY_STREAM, "gateway_events", events_of("gateway")
)
PUBLISHER_READ_MODEL = Durable("publisher", PUBLISHER_STREAM, "read_model", events_of("publisher"))
GATEWAY_PUBLISHER_EVENTS = Durable(
    "gateway", PUBLISHER_STREAM, "publisher_events", events_of("publisher")
)

GATEWAY_DEAD_LETTERS = Durable(
    "gateway", DEAD_LETTER_STREAM, "dead_letters", f"{DEAD_LETTER.token}.>"
)
"""Every dead letter: the gateway fails the request a dead-lettered command was sent for."""
TEST_RUNNER_DEAD_EXECUTIONS = Durable(
    "test_runner",
    DEAD_LETTER_STREAM,
    "dead_executions",
    f"{DEAD_LETTER.token}.{EXECUTE_CASE.relative}",
)
"""Dead-lettered executions: the test-runner records each as an `error` result, so its run
still completes with one result per case."""

ALL_DURABLES: tuple[Durable, ...] = (
    COMPILER_COMPILE_AGENT,
    COMPILER_ERASE_COMPILATIONS,
    GATEWAY_COMPILER_EVENTS,
    TEST_RUNNER_START_TEST_RUN,
    TEST_RUNNER_ADD_RUN_CASES,
    TEST_RUNNER_EXECUTE_CASE,
    TEST_RUNNER_FAN_OUT_RUN,
    TEST_RUNNER_CANCEL_TEST_RUN,
    TEST_RUNNER_ERASE_TEST_RUNS,
    GATEWAY_TEST_RUNNER_EVENTS,
    PUBLISHER_PUBLISH_VERSION,
    PUBLISHER_MOVE_CHANNEL,
    PUBLISHER_IMPORT_AGENT_VERSIONS,
    PUBLISHER_ERASE_VERSIONS,
    PUBLISHER_TEST_RUNNER_EVENTS,
    PUBLISHER_READ_MODEL,
    PUBLISHER_GATEWAY_EVENTS,
    GATEWAY_PUBLISHER_EVENTS,
    GATEWAY_DEAD_LETTERS,
    TEST_RUNNER_DEAD_EXECUTIONS,
)


def relative_subject(full: str, root: str = DEFAULT_ROOT) -> str:
    """`studio.compiler.cmd.compile_agent.v1` → `compiler.cmd.compile_agent.v1`."""
    prefix = f"{root}."
    return full[len(prefix) :] if full.startswith(prefix) else full
