"""Pure compilation rules: a specification → named sections → system instructions. No I/O.

Sections, in this fixed order (a block left empty leaves no heading behind):

1. **System Backbone** — identity (persona role and voice, audience), mission, success criteria;
2. **Capabilities** — summary and tools; 3. **Knowledge** — facts;
4. **Operating Rules** — constraints (must, must not); 5. **Workflow** — numbered steps;
6. **Output Contract** — format, length, JSON Schema; 7. **Examples**; 8. **Escalation**.

The same spec always compiles to byte-identical instructions. `{{variables}}` stay as placeholders:
they are filled when the instructions are used (`render`), and a spec that uses a variable it does
not declare does not compile.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, ValidationError

from contracts import compiler as events
from contracts.compiler import CompileAgentV1
from contracts.instructions import RenderError
from contracts.instructions import render as instructions_render
from contracts.spec import SpecBlocks, Variable, used_variables

COMPILER_VERSION = "1.0.0"
BACKBONE = "System Backbone"


class CompileError(ValueError):
    """The specification cannot be compiled; the message says what to fix."""


@dataclass(frozen=True)
class Section:
    title: str
    body: str


@dataclass(frozen=True)
class Compiled:
    sections: tuple[Section, ...]
    instructions: str
    spec_hash: str
    variables: tuple[Variable, ...]


@dataclass(frozen=True)
class TokenCount:
    count: int
    method: str  # the tokenizer's encoding name when exact, "estimate: …" otherwise


class Outcome(BaseModel):
    """A compilation as stored and announced: succeeded (with instructions) or failed (with why)."""

    model_config = ConfigDict(frozen=True)

    compilation_id: UUID
    agent_id: UUID
    spec_revision: int
    spec_hash: str
    status: Literal["succeeded", "failed"]
    compiler_version: str = COMPILER_VERSION
    instructions: str | None = None
    sections: tuple[Section, ...] = ()
    variables: tuple[Variable, ...] = ()
    token_count: int | None = None
    token_count_method: str | None = None
    error: str | None = None
    reused_from: UUID | None = None

    def reused_for(self, cmd: CompileAgentV1) -> Outcome:
        """The same compiled result, recorded under a new compilation of an identical spec."""
        return self.model_copy(
            update={
                "compilation_id": cmd.compilation_id,
                "agent_id": cmd.agent_id,
                "spec_revision": cmd.spec_revision,
                "reused_from": self.compilation_id,
            }
        )

    def event(self) -> BaseModel:
        if self.status == "failed":
            return events.CompilationFailedV1(
                compilation_id=self.compilation_id,
                agent_id=self.agent_id,
                spec_revision=self.spec_revision,
                error=self.error or "",
            )
        return events.AgentCompiledV1(
            compilation_id=self.compilation_id,
            agent_id=self.agent_id,
            spec_revision=self.spec_revision,
            instructions=self.instructions or "",
            sections=[events.Section(title=s.title, body=s.body) for s in self.sections],
            spec_hash=self.spec_hash,
            compiler_version=self.compiler_version,
            variables=[events.VariableDecl(**v.model_dump()) for v in self.variables],
            token_count=self.token_count,
            token_count_method=self.token_count_method,
            reused_from=self.reused_from,
        )


def compile_command(cmd: CompileAgentV1, count_tokens: Callable[[str], TokenCount]) -> Outcome:
    """The outcome of compiling the command's spec (never raises for a bad spec: it fails)."""
    blocks_hash = spec_hash(cmd.blocks)
    base = Outcome(
        compilation_id=cmd.compilation_id,
        agent_id=cmd.agent_id,
        spec_revision=cmd.spec_revision,
        spec_hash=blocks_hash,
        status="failed",
    )
    try:
        compiled = compile_spec(parse(cmd.blocks), blocks_hash)
    except CompileError as exc:
        return base.model_copy(update={"error": str(exc)})
    tokens = count_tokens(compiled.instructions)
    return base.model_copy(
        update={
            "status": "succeeded",
            "instructions": compiled.instructions,
            "sections": compiled.sections,
            "variables": compiled.variables,
            "token_count": tokens.count,
            "token_count_method": tokens.method,
        }
    )


def spec_hash(blocks: Mapping[str, Any]) -> str:
    """A stable hash of the specification: key order and whitespace do not change it."""
    canonical = json.dumps(blocks, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def parse(blocks: Mapping[str, Any]) -> SpecBlocks:
    """Validate raw blocks; a message naming every invalid field when they are not a valid spec."""
    try:
        return SpecBlocks.model_validate(blocks)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise CompileError(f"invalid specification: {problems}") from None


def compile_spec(spec: SpecBlocks, blocks_hash: str) -> Compiled:
    undeclared = sorted(used_variables(spec) - {v.name for v in spec.variables or ()})
    if undeclared:
        raise CompileError(f"variables used but not declared: {', '.join(undeclared)}")
    sections = tuple(
        Section(title, body)
        for title, body in (
            (BACKBONE, _backbone(spec)),
            ("Capabilities", _capabilities(spec)),
            ("Knowledge", _bullets(spec.knowledge.facts if spec.knowledge else None)),
            ("Operating Rules", _rules(spec)),
            ("Workflow", _numbered(spec.workflow.steps if spec.workflow else None)),
            ("Output Contract", _output(spec)),
            ("Examples", _examples(spec)),
            ("Escalation", _escalation(spec)),
        )
        if body
    )
    instructions = "\n\n".join(f"## {s.title}\n{s.body}" for s in sections)
    return Compiled(sections, instructions, blocks_hash, tuple(spec.variables or ()))


def render(instructions: str, variables: tuple[Variable, ...], values: Mapping[str, str]) -> str:
    """`contracts.instructions.render`, failing with a `CompileError`."""
    try:
        return instructions_render(instructions, variables, values)
    except RenderError as exc:
        raise CompileError(str(exc)) from None


def _backbone(spec: SpecBlocks) -> str:
    identity: list[str] = []
    if spec.persona and spec.persona.role:
        identity.append(f"Role: {spec.persona.role}")
    if spec.persona and spec.persona.voice:
        identity.append(f"Voice: {spec.persona.voice}")
    if spec.audience and spec.audience.description:
        identity.append(f"Audience: {spec.audience.description}")
    mission: list[str] = []
    if spec.mission and spec.mission.problem:
        mission.append(f"Mission: {spec.mission.problem}")
    if spec.mission and spec.mission.success_criteria:
        mission.append("Success criteria:\n" + _numbered(spec.mission.success_criteria))
    parts = ["\n".join(identity), "\n".join(mission)]
    return "\n\n".join(p for p in parts if p) or "You are a helpful assistant."


def _capabilities(spec: SpecBlocks) -> str:
    if not spec.capabilities:
        return ""
    parts: list[str] = []
    if spec.capabilities.summary:
        parts.append(spec.capabilities.summary)
    if spec.capabilities.tools:
        lines = []
        for tool in spec.capabilities.tools:
            params = _parameter_list(tool.parameters)
            lines.append(f"- {tool.name}({params}): {tool.description}".rstrip(": "))
        parts.append("Tools:\n" + "\n".join(lines))
    return "\n\n".join(parts)


def _parameter_list(schema: Mapping[str, Any] | None) -> str:
    properties = (schema or {}).get("properties") or {}
    required = set((schema or {}).get("required") or ())
    return ", ".join(name if name in required else f"{name}?" for name in properties)


def _rules(spec: SpecBlocks) -> str:
    if not spec.constraints:
        return ""
    parts = []
    if spec.constraints.must:
        parts.append("Always:\n" + _bullets(spec.constraints.must))
    if spec.constraints.must_not:
        parts.append("Never:\n" + _bullets(spec.constraints.must_not))
    return "\n\n".join(parts)


def _output(spec: SpecBlocks) -> str:
    if not spec.output:
        return ""
    lines = []
    if spec.output.format:
        lines.append(f"Format: {spec.output.format}")
    if spec.output.length:
        lines.append(f"Length: {spec.output.length}")
    if spec.output.json_schema:
        schema = json.dumps(spec.output.json_schema, sort_keys=True, indent=2, ensure_ascii=False)
        lines.append(
            f"The answer must be JSON that follows this JSON Schema:\n```json\n{schema}\n```"
        )
    return "\n".join(lines)


def _examples(spec: SpecBlocks) -> str:
    return "\n\n".join(
        f"Example {i}\nInput: {example.input}\nOutput: {example.output}"
        for i, example in enumerate(spec.examples or (), start=1)
    )


def _escalation(spec: SpecBlocks) -> str:
    if not spec.escalation or not (spec.escalation.when or spec.escalation.action):
        return ""
    when = spec.escalation.when or "you cannot complete the mission"
    action = spec.escalation.action or "say so and stop"
    return f"When {when}: {action}"


def _bullets(items: list[str] | tuple[str, ...] | None) -> str:
    return "\n".join(f"- {item}" for item in items or ())


def _numbered(items: list[str] | tuple[str, ...] | None) -> str:
    return "\n".join(f"{i}. {item}" for i, item in enumerate(items or (), start=1))
