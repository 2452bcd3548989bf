"""The metric names a PromQL expression reads, and the exposed names a /metrics page offers."""

from __future__ import annotations

import re

from prometheus_client.parser import text_string_to_metric_families

KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "bool", "offset", "inf", "nan",
}  # fmt: skip
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_NAME = re.compile(r"(?<![\w:.])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(?!\s*\()")
_TEMPLATE = re.compile(r"\{\{.*?\}\}")


def metric_names(expr: str) -> set[str]:
    """Every series name `expr` selects: functions, keywords, labels and literals left out."""
    text = _TEMPLATE.sub(" ", expr)
    text = _STRINGS.sub(" ", text)
    text = _MATCHERS.sub(" ", text)
    text = _RANGES.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    return {name for name in _NAME.findall(text) if name not in KEYWORDS}


def exposed_names(page: str) -> set[str]:
    """The series names a /metrics page can produce, from its metadata: a labelled metric that has
    not been observed yet has no sample, but it is declared, so dashboards may read it."""
    names: set[str] = set()
    for family in text_string_to_metric_families(page):
        suffixes = {
            "counter": ("_total", "_created"),
            "histogram": ("_bucket", "_sum", "_count", "_created"),
            "summary": ("_sum", "_count", "_created", ""),
        }.get(family.type, ("",))
        names.update(family.name + suffix for suffix in suffixes)
        names.update(sample.name for sample in family.samples)
    return names
