"""The OData subset the Referrals list accepts: ``$filter`` comparisons joined by ``and`` / ``or`` (with
parentheses), and ``$orderby`` on the two documented date fields.

https://learn.microsoft.com/en-us/partner-center/developer/get-a-list-of-referrals lists ``$filter``
(e.g. ``status eq 'New' and qualification eq 'SalesQualified'``, ``customerProfile/address/country eq 'US'``)
and ``$orderby`` on ``createdDateTime`` / ``updatedDateTime``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

__all__ = ["ODataError", "Predicate", "parse_filter", "parse_orderby"]

Predicate = Callable[[dict[str, Any]], bool]


class ODataError(ValueError):
    """A query option the emulator (and the service) cannot parse; the message names the problem."""


_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<lp>\()|(?P<rp>\))"
    r"|(?P<dt>\d{4}-\d{2}-\d{2}T[0-9:.]+(?:Z|[+-]\d{2}:\d{2})?)"
    r"|(?P<num>-?\d+(?:\.\d+)?)|(?P<word>[A-Za-z_][A-Za-z0-9_/]*))"
)
_OPS = {"eq", "ne", "gt", "ge", "lt", "le"}


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ODataError(f"Syntax error in $filter at position {pos}: {text[pos : pos + 20]!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def _as_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _compare(left: Any, op: str, right: Any) -> bool:
    if op == "eq":
        return bool(left == right)
    if op == "ne":
        return bool(left != right)
    if left is None or right is None:
        return False
    ld, rd = _as_datetime(left), _as_datetime(right)
    if ld is not None and rd is not None:
        left, right = ld, rd
    try:
        if op == "gt":
            return bool(left > right)
        if op == "ge":
            return bool(left >= right)
        if op == "lt":
            return bool(left < right)
        return bool(left <= right)
    except TypeError:
        return False


def _lookup(item: dict[str, Any], path: str) -> Any:
    node: Any = item
    for key in path.split("/"):
        node = node.get(key) if isinstance(node, dict) else None
    return node


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], fields: set[str]) -> None:
        self.tokens = tokens
        self.i = 0
        self.fields = fields

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise ODataError("Unexpected end of $filter expression.")
        self.i += 1
        return tok

    def parse_or(self) -> Predicate:
        left = self.parse_and()
        while (tok := self.peek()) is not None and tok == ("word", "or"):
            self.take()
            right = self.parse_and()
            left = (lambda a, b: lambda r: a(r) or b(r))(left, right)
        return left

    def parse_and(self) -> Predicate:
        left = self.parse_term()
        while (tok := self.peek()) is not None and tok == ("word", "and"):
            self.take()
            right = self.parse_term()
            left = (lambda a, b: lambda r: a(r) and b(r))(left, right)
        return left

    def parse_term(self) -> Predicate:
        kind, text = self.take()
        if kind == "lp":
            inner = self.parse_or()
            if self.take()[0] != "rp":
                raise ODataError("Missing ')' in $filter expression.")
            return inner
        if kind == "word" and text == "not":
            inner = self.parse_term()
            return lambda r: not inner(r)
        if kind != "word":
            raise ODataError(f"Expected a property name in $filter, got {text!r}.")
        if text.split("/")[0] not in self.fields:
            raise ODataError(f"Could not find a property named '{text}' on type 'Referral'.")
        field = text
        op_kind, op = self.take()
        if op_kind != "word" or op not in _OPS:
            raise ODataError(f"Unsupported operator {op!r} in $filter; use one of {sorted(_OPS)}.")
        value = self.literal()
        return lambda r: _compare(_lookup(r, field), op, value)

    def literal(self) -> Any:
        kind, text = self.take()
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if kind == "dt":
            return text
        if kind == "num":
            return float(text) if "." in text else int(text)
        if kind == "word" and text in ("true", "false"):
            return text == "true"
        if kind == "word" and text == "null":
            return None
        raise ODataError(f"Expected a literal value in $filter, got {text!r}.")


def parse_filter(text: str, fields: set[str]) -> Predicate:
    """Compile ``$filter``; ``fields`` are the top-level property names that may be referenced."""
    tokens = _tokens(text)
    if not tokens:
        return lambda r: True
    parser = _Parser(tokens, fields)
    predicate = parser.parse_or()
    if parser.peek() is not None:
        raise ODataError(f"Unexpected {parser.peek()[1]!r} in $filter expression.")  # type: ignore[index]
    return predicate


ORDERABLE = ("createdDateTime", "updatedDateTime")


def parse_orderby(text: str | None) -> tuple[str, bool]:
    """``(field, descending)``; the default order is oldest-created first (stable for paging)."""
    if not text or not text.strip():
        return "createdDateTime", False
    parts = text.split()
    if len(parts) > 2 or parts[0] not in ORDERABLE or (len(parts) == 2 and parts[1] not in ("asc", "desc")):
        raise ODataError(
            f"Unsupported $orderby {text!r}; use createdDateTime or updatedDateTime, asc or desc."
        )
    return parts[0], len(parts) == 2 and parts[1] == "desc"
