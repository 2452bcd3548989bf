"""The Nunjucks subset promptfoo suites use in assertion values and metric names.

Supported: text; `{{ expr }}` output; `{# comment #}` (removed); `{% raw %}…{% endraw %}` and
`{% verbatim %}…{% endverbatim %}` (kept verbatim, nested ones counted); `{% if expr %}…
{% elif expr %}…{% else %}…{% endif %}` (JS truthiness); `-` whitespace control on all of them.
An expression is a string ('…', "…" with \\n \\t \\r escapes) or number literal, `true`/
`false`/`none`/`null`, a variable, `.name` and `[expr]` lookups, `( expr )`, `+` (JS addition or
concatenation), `~` (string concatenation, lower precedence), `not`, `and`, `or` (JS `!`, `&&`,
`||`: they return an operand), and `| filter` / `| filter(args)` with the filters in `FILTERS`,
which bind tighter than the operators, as in Nunjucks' parser.

Values follow Nunjucks in JS: a missing variable or key is `undefined`, and `undefined` and null
both render as ""; other values render as JS `String()` does. No HTML autoescaping (promptfoo
turns it off). Any other tag (`for`, `set`…), operator (`==`, `in`, `is`, `-`…), inline `if`,
function call or unknown filter raises `UnsupportedTemplate` when the text is parsed, as does
text Nunjucks itself rejects (`a.0`, a stray `#}`, an unclosed tag); a filter that throws in
Nunjucks (`upper` of a number, `first` of an undefined value…) raises `TemplateRenderError`
when it is rendered.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from assertions.jsvalues import JS_WHITESPACE, js_string, js_truthy
from assertions.nunjucks_values import (
    FILTERS,
    UNDEFINED,
    TemplateError,
    TemplateRenderError,
    UnsupportedTemplate,
    js_add,
    member,
    to_str,
)

__all__ = [
    "TemplateError",
    "TemplateRenderError",
    "UnsupportedTemplate",
    "evaluate",
    "parse",
    "render",
]


@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class Name:
    name: str


@dataclass(frozen=True)
class Lookup:
    target: Expr
    key: Expr


@dataclass(frozen=True)
class Filter:
    name: str
    target: Expr
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class BinOp:
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Not:
    operand: Expr


Expr = Literal | Name | Lookup | Filter | BinOp | Not


@dataclass(frozen=True)
class If:
    """`{% if %}…{% elif %}…{% else %}…{% endif %}`: (condition, body) pairs; else has None."""

    branches: tuple[tuple[Expr | None, tuple[Node, ...]], ...]


Node = str | Expr | If

_OPEN = re.compile(r"\{\{|\{%|\{#")
_RAW = re.compile(r"\{%(-?)[ \n\t\r\xa0]*(raw|verbatim)[ \n\t\r\xa0]*(-?)%\}")
_CODE_SPACE = " \n\t\r\u00a0"  # the Nunjucks lexer's whitespace inside tags
_DELIMITERS = "()[]{}%*-+~/#,:|.<>=!"
_WORD_END = re.escape(_CODE_SPACE + _DELIMITERS)
_TOKEN = re.compile(
    "|".join(
        (
            f"(?P<ws>[{re.escape(_CODE_SPACE)}]+)",
            r"(?P<end>-?\}\})",
            r"(?P<block_end>-?%\})",
            r"""(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')""",
            rf"(?P<num>[0-9]+(?:\.[0-9]*)?(?![^{_WORD_END}]))",
            rf"""(?P<name>[^{_WORD_END}0-9'"][^{_WORD_END}'"]*)""",
            r"(?P<op>[()\[\],|.+~])",
        )
    ),
    re.DOTALL,
)
_CONSTANTS = {"true": True, "false": False, "none": None, "null": None}
_RESERVED = frozenset({"and", "or", "not", "in", "is", "if", "else"})
_TAG_NAME = re.compile(r"[ \n\t\r\xa0]*([A-Za-z_]+)")
_BRANCH_TAGS = {"elif": "elif", "elseif": "elif", "else": "else", "endif": "endif"}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}


@lru_cache(maxsize=1024)
def parse(text: str) -> tuple[Node, ...]:
    """The template as text pieces, output expressions and if blocks; `UnsupportedTemplate` if
    it is not in the subset (or not valid Nunjucks: an unclosed `{{`, `{#`, raw or if block)."""
    # Each open if block: its finished branches, its current condition and its current body.
    stack: list[tuple[list[tuple[Expr | None, tuple[Node, ...]]], Expr | None, list[Node]]] = []
    nodes: list[Node] = []
    pos, trim_next = 0, False
    while True:
        m = _OPEN.search(text, pos)
        chunk = text[pos : m.start() if m else len(text)]
        if "#}" in chunk:
            raise UnsupportedTemplate("unexpected end of comment")
        if trim_next:
            chunk = chunk.lstrip(JS_WHITESPACE)
        if m is None:
            nodes.append(chunk)
            break
        trim_before = text.startswith("-", m.end())
        nodes.append(chunk.rstrip(JS_WHITESPACE) if trim_before else chunk)
        start = m.end() + trim_before
        if m.group() == "{{":
            tokens, pos, trim_next = _code(text, start, "end")
            nodes.append(_Parser(tokens, text[start:pos]).expression_only())
        elif m.group() == "{#":
            end = text.find("#}", start)
            if end == -1:
                raise UnsupportedTemplate("expected end of comment, got end of file")
            trim_next, pos = end > start and text[end - 1] == "-", end + 2
        elif (opening := _RAW.match(text, m.start())) is not None:
            body, pos, trim_next = _parse_raw(text, opening)
            nodes.append(body)
        else:
            tag_name = _TAG_NAME.match(text, start)
            tag = tag_name.group(1) if tag_name else ""
            if tag != "if" and tag not in _BRANCH_TAGS:
                end = text.find("%}", start)
                source = text[m.start() : len(text) if end == -1 else end + 2]
                raise UnsupportedTemplate(
                    f"Nunjucks tag {source} is not supported (only if and raw blocks)"
                )
            tokens, pos, trim_next = _code(text, start, "block_end")
            parser = _Parser(tokens[1:], text[start:pos])
            if tag == "if":
                stack.append(([], parser.expression_only(), nodes))
                nodes = []
            elif tag in _BRANCH_TAGS and stack and (stack[-1][1] is not None or tag == "endif"):
                if _BRANCH_TAGS[tag] != "elif" and len(tokens) > 1:
                    raise parser.fail("expected block end")
                branches, condition, outer = stack.pop()
                branches.append((condition, _compact(nodes)))
                nodes = []
                if _BRANCH_TAGS[tag] == "endif":
                    outer.append(If(tuple(branches)))
                    nodes = outer
                elif _BRANCH_TAGS[tag] == "elif":
                    stack.append((branches, parser.expression_only(), outer))
                else:
                    stack.append((branches, None, outer))
            else:
                raise UnsupportedTemplate(f"unexpected {text[m.start() : pos]}")
    if stack:
        raise UnsupportedTemplate("unclosed {% if %} block")
    return _compact(nodes)


def _compact(nodes: list[Node]) -> tuple[Node, ...]:
    return tuple(n for n in nodes if n != "")


def _parse_raw(text: str, opening: re.Match[str]) -> tuple[str, int, bool]:
    """A raw block as Nunjucks' `parseRaw` reads it: nested raw blocks counted, the end tag
    without `-`; `raw -%}` trims the text after the block, not its content."""
    name = opening.group(2)
    space = f"[{re.escape(JS_WHITESPACE)}]*"
    tags = re.compile(rf"\{{%{space}(?:({name})|(end{name})){space}%\}}")
    level, pos = 1, opening.end()
    while (tag := tags.search(text, pos)) is not None:
        level += 1 if tag.group(1) else -1
        if level == 0:
            return text[opening.end() : tag.start()], tag.end(), bool(opening.group(3))
        pos = tag.end()
    raise UnsupportedTemplate(f"unclosed {{% {name} %}} block")


def _code(text: str, start: int, end_kind: str) -> tuple[list[tuple[str, str]], int, bool]:
    """The tokens of a `{{ }}` (end_kind "end") or `{% %}` ("block_end") up to its end; the
    position after it and whether it ends with `-`."""
    tokens: list[tuple[str, str]] = []
    pos = start
    while True:
        m = _TOKEN.match(text, pos)
        if m is None:
            if pos >= len(text):
                what = "variable" if end_kind == "end" else "block"
                raise UnsupportedTemplate(f"expected {what} end")
            raise UnsupportedTemplate(f"unsupported character {text[pos]!r} in a tag")
        kind = m.lastgroup or ""
        pos = m.end()
        if kind == end_kind:
            return tokens, pos, m.group().startswith("-")
        if kind in ("end", "block_end"):
            raise UnsupportedTemplate(f"unexpected {m.group()!r}")
        if kind != "ws":
            tokens.append((kind, m.group()))


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], source: str) -> None:
        self.tokens, self.source, self.i = tokens, source, 0

    def fail(self, what: str) -> UnsupportedTemplate:
        return UnsupportedTemplate(f"{what} in {self.source!r}")

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.i] if self.i < len(self.tokens) else ("eof", "")

    def take(self) -> tuple[str, str]:
        token = self.peek()
        self.i += 1
        return token

    def skip(self, op: str) -> bool:
        if self.peek() == ("op", op):
            self.i += 1
            return True
        return False

    def expect(self, op: str) -> None:
        if not self.skip(op):
            raise self.fail(f"expected {op!r}, got {self.peek()[1] or 'end'!r}")

    def expression_only(self) -> Expr:
        expr = self.expression()
        if self.peek()[0] != "eof":
            raise self.fail(f"unsupported {self.peek()[1]!r}")
        return expr

    def expression(self) -> Expr:
        node = self.conjunction()
        while self.skip_name("or"):
            node = BinOp("or", node, self.conjunction())
        return node

    def conjunction(self) -> Expr:
        node = self.negation()
        while self.skip_name("and"):
            node = BinOp("and", node, self.negation())
        return node

    def negation(self) -> Expr:
        if self.skip_name("not"):
            return Not(self.negation())
        return self.concatenation()

    def skip_name(self, name: str) -> bool:
        if self.peek() == ("name", name):
            self.i += 1
            return True
        return False

    def concatenation(self) -> Expr:
        node = self.addition()
        while self.skip("~"):
            node = BinOp("~", node, self.addition())
        return node

    def addition(self) -> Expr:
        node = self.filtered()
        while self.skip("+"):
            node = BinOp("+", node, self.filtered())
        return node

    def filtered(self) -> Expr:
        node = self.postfix(self.primary())
        while self.skip("|"):
            kind, name = self.take()
            if kind != "name" or name not in FILTERS:
                raise self.fail(f"unsupported filter {name!r}")
            args: list[Expr] = []
            if self.skip("("):
                while not self.skip(")"):
                    if args:
                        self.expect(",")
                    args.append(self.expression())
            node = Filter(name, node, tuple(args))
        return node

    def primary(self) -> Expr:
        kind, value = self.take()
        if kind == "str":
            body = re.sub(r"\\(.)", lambda m: _ESCAPES.get(m[1], m[1]), value[1:-1], flags=re.S)
            return Literal(body)
        if kind == "num":
            return Literal(float(value) if "." in value else int(value))
        if kind == "name" and value in _CONSTANTS:
            return Literal(_CONSTANTS[value])
        if kind == "name" and value not in _RESERVED:
            return Name(value)
        if (kind, value) == ("op", "("):
            node = self.expression()
            self.expect(")")
            return node
        raise self.fail(f"unsupported {value or 'end'!r}")

    def postfix(self, node: Expr) -> Expr:
        while True:
            if self.skip("."):
                kind, key = self.take()
                if kind != "name" or key in _CONSTANTS:
                    raise self.fail(f"expected name as lookup value, got {key!r}")
                node = Lookup(node, Literal(key))
            elif self.skip("["):
                node = Lookup(node, self.expression())
                self.expect("]")
            elif self.peek() == ("op", "("):
                raise self.fail("function calls are not supported")
            else:
                return node


# -- evaluation ---------------------------------------------------------------------------------


def render(text: str, vars: Mapping[str, Any]) -> str:
    out: list[str] = []
    _render_nodes(parse(text), vars, out)
    return "".join(out)


def _render_nodes(nodes: tuple[Node, ...], vars: Mapping[str, Any], out: list[str]) -> None:
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, If):
            branch = next(
                (
                    body
                    for cond, body in node.branches
                    if cond is None or js_truthy(evaluate(cond, vars))
                ),
                (),
            )
            _render_nodes(branch, vars, out)
        else:
            value = evaluate(node, vars)
            out.append("" if value is None or value is UNDEFINED else js_string(value))


def evaluate(expr: Expr, vars: Mapping[str, Any]) -> Any:
    if isinstance(expr, Literal):
        return expr.value
    if isinstance(expr, Name):
        return vars.get(expr.name, UNDEFINED)
    if isinstance(expr, Lookup):
        return member(evaluate(expr.target, vars), evaluate(expr.key, vars))
    if isinstance(expr, Filter):
        args = [evaluate(a, vars) for a in expr.args]
        return FILTERS[expr.name](evaluate(expr.target, vars), *args)
    if isinstance(expr, Not):
        return not js_truthy(evaluate(expr.operand, vars))
    left = evaluate(expr.left, vars)
    if expr.op == "and":  # JS `&&` and `||` return an operand
        return evaluate(expr.right, vars) if js_truthy(left) else left
    if expr.op == "or":
        return left if js_truthy(left) else evaluate(expr.right, vars)
    right = evaluate(expr.right, vars)
    if expr.op == "~":
        return to_str(left) + to_str(right)
    return js_add(left, right)
