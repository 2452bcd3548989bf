"""A run's results as JUnit XML, for CI systems."""

from __future__ import annotations

import re
from xml.sax.saxutils import escape, quoteattr

from contracts.runs import CaseResult, RunSummary
from gateway.testing.repository import TestRunView

JUNIT_OUTPUT_MAX = 4000
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _attr(text: str) -> str:
    return quoteattr(_NOT_XML.sub("\ufffd", text))


def _text(text: str) -> str:
    return escape(_NOT_XML.sub("\ufffd", text))


def junit_xml(
    agent_name: str, summary: RunSummary | None, view: TestRunView, results: list[CaseResult]
) -> str:
    """JUnit XML for CI systems: one <testcase> per execution; a failed verdict is a <failure>,
    a case that could not be judged an <error>; a running run's missing executions are <skipped>."""
    failures = sum(1 for r in results if r.error is None and not r.pass_)
    errors = sum(1 for r in results if r.error is not None)
    executions = view.total * view.repeat
    skipped = max(0, executions - len(results))
    seconds = sum((r.latency_ms or 0.0) for r in results) / 1000
    name = f"{agent_name} — test run {view.id}"
    status = summary.status if summary is not None else view.status
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<testsuites name={_attr("Agent Studio")} tests="{executions}" '
        f'failures="{failures}" errors="{errors}" skipped="{skipped}" time="{seconds:.3f}">',
        f'  <testsuite name={_attr(name)} tests="{executions}" failures="{failures}" '
        f'errors="{errors}" skipped="{skipped}" time="{seconds:.3f}" '
        f"timestamp={_attr(view.created_at.isoformat())}>",
        "    <properties>",
        f'      <property name="status" value={_attr(status)}/>',
        f'      <property name="compilation_id" value="{view.compilation_id}"/>',
        "    </properties>",
    ]
    for r in results:
        label = r.description or f"case {r.case_index + 1}"
        if view.repeat > 1:
            label += f" (repeat {r.repeat_index + 1})"
        open_tag = (
            f"    <testcase classname={_attr(f'agent.{view.agent_id}')} name={_attr(label)} "
            f'time="{(r.latency_ms or 0.0) / 1000:.3f}"'
        )
        if r.error is not None:
            lines.append(f"{open_tag}>")
            lines.append(f"      <error message={_attr(r.error[:1000])}/>")
            lines.append("    </testcase>")
        elif not r.pass_:
            output = (r.output or "")[:JUNIT_OUTPUT_MAX]
            lines.append(f"{open_tag}>")
            lines.append(
                f"      <failure message={_attr(r.reason[:1000])}>{_text(output)}</failure>"
            )
            lines.append("    </testcase>")
        else:
            lines.append(f"{open_tag}/>")
    lines += ["  </testsuite>", "</testsuites>", ""]
    return "\n".join(lines)
