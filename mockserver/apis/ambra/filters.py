"""``filter.FIELD.CONDITION=value``, ``sort_by`` and ``page.*`` translated into SQL.

Conditions (the document's Filter clauses, as the SDK lists them): ``equals``,
``equals_or_null``, ``not_equals``, ``not_equals_or_null``, ``like`` (``%`` and ``_``
wildcards; ``*`` is read as ``%``), ``gt``/``ge``/``lt``/``le`` (numbers compare as
numbers, dates and times as their text, which sorts chronologically), ``in`` and
``in_or_null`` (a JSON list). A field the object does not have is ``INVALID_FIELD``, an
unknown condition ``INVALID_CONDITION`` (error_subtype: the filter expression); a bad
``in`` list ``INVALID_JSON``. ``sort_by=f1-asc,f2-desc``: ``INVALID_SORT_FIELD`` /
``INVALID_SORT_ORDER`` with the field as error_subtype. ``page.rows`` (default 100, at
most 5000) and ``page.number`` (from 1) give LIMIT/OFFSET; one more row than asked is
fetched to tell whether there are ``more``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

CONDITIONS = ("equals", "equals_or_null", "not_equals", "not_equals_or_null", "like", "gt", "ge", "lt", "le", "in", "in_or_null")
DEFAULT_ROWS = 100
MAX_ROWS = 5000
MAX_PAGE_NUMBER = 2**31 - 1
_FIELD = re.compile(r"^[A-Za-z0-9_.\-]+$")


@dataclass(frozen=True)
class Column:
    sql: str  # an SQL expression
    numeric: bool = False
    dicom_date: bool = False  # DICOM DA values (YYYYMMDD): "2024-06-07" is read as 20240607


# What a field name resolves to; None means the object has no such field.
FieldResolver = Callable[[str], Column | None]
ErrorFactory = Callable[..., Exception]


def filters(values: dict[str, Any]) -> list[tuple[str, str, str, Any]]:
    """``(key, field, condition, value)`` of every ``filter.*`` parameter except ``filter.tz``."""
    found = []
    for key, value in values.items():
        if not key.startswith("filter.") or key == "filter.tz":
            continue
        field, _, condition = key[len("filter.") :].rpartition(".")
        found.append((key, field, condition, value))
    return sorted(found)


def where(
    values: dict[str, Any], resolve: FieldResolver, error: ErrorFactory, extra: Callable[..., Any] | None = None
) -> tuple[list[str], list[Any]]:
    """SQL conditions and parameters for the filters of a call."""
    clauses: list[str] = []
    params: list[Any] = []
    for key, field, condition, value in filters(values):
        if condition not in CONDITIONS:
            raise error("INVALID_CONDITION", "INVALID_FIELD", subtype=key)
        special = extra(field, condition, value, key) if extra else None
        if special is not None:
            clauses.append(special[0])
            params += special[1]
            continue
        column = resolve(field) if field and _FIELD.match(field) else None
        if column is None:
            raise error("INVALID_FIELD", "INVALID_CONDITION", subtype=key)
        clause, args = condition_sql(column, condition, value, key, error)
        clauses.append(clause)
        params += args
    return clauses, params


def condition_sql(column: Column, condition: str, raw: Any, key: str, error: ErrorFactory) -> tuple[str, list[Any]]:
    expr = column.sql
    if condition in ("in", "in_or_null"):
        items = parse_list(raw, key, error)
        values = [typed(column, item, key, error) for item in items]
        inside = f"{expr} IN ({','.join('?' * len(values))})" if values else "0"
        return (f"({inside} OR {expr} IS NULL)" if condition == "in_or_null" else inside), values
    if condition == "like":
        return f"{expr} LIKE ?", [str(raw).replace("*", "%")]
    value = typed(column, raw, key, error)
    if condition == "equals":
        return f"{expr} = ?", [value]
    if condition == "equals_or_null":
        return f"({expr} = ? OR {expr} IS NULL)", [value]
    if condition == "not_equals":
        return f"{expr} != ?", [value]
    if condition == "not_equals_or_null":
        return f"({expr} != ? OR {expr} IS NULL)", [value]
    operator = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}[condition]
    return f"{expr} {operator} ?", [value]


def parse_list(raw: Any, key: str, error: ErrorFactory) -> list[Any]:
    if isinstance(raw, list):
        return raw
    text = str(raw).strip()
    if text.startswith("=>"):  # the document's example writes filter.tags.in=>["green","blue"]
        text = text[2:]
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise error("INVALID_JSON", "INVALID_CONDITION", subtype=key) from exc
    if not isinstance(parsed, list):
        raise error("INVALID_JSON", "INVALID_CONDITION", subtype=key)
    return parsed


def typed(column: Column, value: Any, key: str, error: ErrorFactory) -> Any:
    if column.numeric:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        try:
            text = str(value).strip()
            return int(text) if re.fullmatch(r"-?\d+", text) else float(text)
        except ValueError as exc:
            raise error("INVALID_CONDITION", "INVALID_FIELD", subtype=key) from exc
    text = value if isinstance(value, str) else orjson.dumps(value).decode() if isinstance(value, (dict, list)) else str(value)
    if column.dicom_date and re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return text.replace("-", "")
    return text.replace("+", " ") if re.fullmatch(r"\d{4}-\d{2}-\d{2}\+.*", text) else text


def order_by(values: dict[str, Any], resolve: FieldResolver, error: ErrorFactory, default: str) -> str:
    raw = values.get("sort_by")
    if raw is None or raw == "":
        return default
    parts = []
    for item in str(raw).split(","):
        field, dash, direction = item.strip().rpartition("-")
        if not dash or not field:
            raise error("INVALID_SORT_ORDER", subtype=item.strip())
        if direction not in ("asc", "desc"):
            raise error("INVALID_SORT_ORDER", subtype=field)
        column = resolve(field) if _FIELD.match(field) else None
        if column is None:
            raise error("INVALID_SORT_FIELD", subtype=field)
        parts.append(f"{column.sql} {direction.upper()}")
    return ", ".join(parts) + f", {default}"


@dataclass(frozen=True)
class Page:
    rows: int
    number: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.rows

    def hash(self, fetched: int, wrong_more: bool = False) -> dict[str, int]:
        """The page hash for ``fetched`` rows (one more than ``rows`` means there are more)."""
        more = 1 if fetched > self.rows else 0
        return {"rows": self.rows, "number": self.number, "more": 0 if wrong_more else more, "count": min(fetched, self.rows)}


def page(values: dict[str, Any], error: ErrorFactory) -> Page:
    rows = _int(values.get("page.rows"), DEFAULT_ROWS, "page.rows", error)
    number = _int(values.get("page.number"), 1, "page.number", error)
    if not 1 <= rows <= MAX_ROWS:
        raise error("INVALID_INTEGER", subtype="page.rows")
    if not 1 <= number <= MAX_PAGE_NUMBER:  # beyond it the OFFSET overflows SQLite's 64-bit integers
        raise error("INVALID_INTEGER", subtype="page.number")
    return Page(rows, number)


def _int(value: Any, default: int, name: str, error: ErrorFactory) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, int):
        return value
    try:
        return int(str(value), 10)
    except ValueError as exc:
        raise error("INVALID_INTEGER", subtype=name) from exc
