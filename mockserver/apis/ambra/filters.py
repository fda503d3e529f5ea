"""``filter.FIELD.CONDITION=value``, ``filter_id``, ``filter.tz``, ``sort_by`` and ``page.*``
translated into SQL, as the Filter clauses, Sorting and Pagination sections say
(specs/sources/ambra-v3-services-api-preamble.txt).

Conditions: ``equals``, ``equals_or_null``, ``not_equals``, ``not_equals_or_null``, ``like``
(``%`` and ``_`` wildcards; ``*`` is read as ``%``), ``gt``/``ge``/``lt``/``le``, ``in`` and
``in_or_null`` (a JSON list). FIELD is a field of the object, ``TABLE.FIELD`` (a field of a
secondary table the object points at), ``field->'key'`` (a key of an hstore field) or
``customfield-UUID`` (the value of a custom field, typed by the custom field's type) — the
caller's ``FieldResolver`` says what each names. A field the object does not have is
``INVALID_FIELD``, an unknown condition ``INVALID_CONDITION`` (error_subtype: the filter
expression); a bad ``in`` list ``INVALID_JSON``.

Values compare by the column's kind: numbers as numbers; timestamps (``2024-06-07
12:13:14.123456+00``, UTC) from a date in any documented form — ``YYYY-MM-DD``, ``YYYYMMDD``,
``YYYY-MM-DD hh:mm:ss[.uuuuuu][(+|-)ZZ[:ZZ]]`` (the offset ignored) — read in the time zone
that applies (the user's ``time_zone``, else ``filter.tz`` as a numeric offset or an Olson
name, else UTC) and compared to the second when the value has no microseconds; DICOM dates
(``YYYYMMDD``) and custom-field dates (``YYYY-MM-DD``) as calendar dates; the rest as text.

``filter_id`` applies a saved filter (``/filter/add``): a configuration hash of filter
expressions is AND'ed, a list of filter uuids OR'ed; an unknown uuid is ``FILTER_NOT_FOUND``.
``sort_by=f1-asc,f2-desc``: ``INVALID_SORT_FIELD`` / ``INVALID_SORT_ORDER`` with the field as
error_subtype. ``page.rows`` (the list's default, at most 5000) and ``page.number`` (from 1)
give LIMIT/OFFSET; one more row than asked is fetched to tell whether there are ``more``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

CONDITIONS = ("equals", "equals_or_null", "not_equals", "not_equals_or_null", "like", "gt", "ge", "lt", "le", "in", "in_or_null")
DEFAULT_ROWS = 100
MAX_ROWS = 5000
MAX_PAGE_NUMBER = 2**31 - 1
MAX_SAVED_DEPTH = 4  # saved filters naming saved filters
_FIELD = re.compile(r"^[A-Za-z0-9_.\-]+$")
_HSTORE = re.compile(r"^([A-Za-z0-9_]+)->'([A-Za-z0-9_ .\-]+)'$")
_CUSTOMFIELD = re.compile(r"^customfield-([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})$")
_DATETIME = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})(?:[ T+](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?:[+-]\d{2}(?::?\d{2})?|Z)?)?$")
_OFFSET = re.compile(r"^([+-]?)(\d{1,2})(?::?(\d{2}))?$")


@dataclass(frozen=True)
class Column:
    sql: str  # an SQL expression (no parameters: names and uuids in it are validated first)
    numeric: bool = False
    dicom_date: bool = False  # DICOM DA values (YYYYMMDD): "2024-06-07" is read as 20240607
    timestamp: bool = False  # a Timestamp: date values are converted to UTC and compared to the second or microsecond
    date: bool = False  # YYYY-MM-DD text (custom fields of type date)
    within: str | None = None  # a secondary table: an SQL template whose "{}" takes the condition on ``sql``


# What a field name resolves to; None means the object has no such field.
FieldResolver = Callable[[str], Column | None]
ErrorFactory = Callable[..., Exception]
SavedLookup = Callable[[str], Any]


def filters(values: dict[str, Any]) -> list[tuple[str, str, str, Any]]:
    """``(key, field, condition, value)`` of every ``filter.*`` parameter except ``filter.tz``."""
    found = []
    for key, value in values.items():
        if not key.startswith("filter.") or key == "filter.tz":
            continue
        name, _, condition = key[len("filter.") :].rpartition(".")
        found.append((key, name, condition, value))
    return sorted(found)


# -- time zones and dates ---------------------------------------------------------------------------
def time_zone(name: Any) -> tzinfo | None:
    """A numeric offset (``-4:00``, ``+0300``, ``+3``) or an Olson name; None for nothing given.

    "Deprecated timezones will apply as UTC": a name the time zone database does not know is UTC."""
    if name is None or str(name).strip() == "":
        return None
    text = str(name).strip()
    offset = _OFFSET.match(text)
    if offset:
        hours, minutes = int(offset.group(2)), int(offset.group(3) or 0)
        if hours > 23 or minutes > 59:
            return UTC
        delta = timedelta(hours=hours, minutes=minutes)
        return timezone(-delta if offset.group(1) == "-" else delta)
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return UTC


def parse_moment(value: Any) -> tuple[datetime, bool, bool] | None:
    """``(naive datetime, has time, has microseconds)`` of a date in a documented form, or None."""
    text = str(value).strip()
    match = _DATETIME.match(text)
    if not match:
        return None
    year, month, day, hour, minute, second, micro = match.groups()
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), int((micro or "0").ljust(6, "0"))
        )
    except ValueError:
        return None
    return moment, hour is not None, micro is not None


def utc_text(value: Any, zone: tzinfo | None) -> tuple[str, bool] | None:
    """A filter date as the UTC text a Timestamp column compares with: ``(text, to the microsecond)``."""
    parsed = parse_moment(value)
    if parsed is None:
        return None
    moment, _, micro = parsed
    moment = moment.replace(tzinfo=zone or UTC).astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(" ", "microseconds" if micro else "seconds"), micro


def calendar_date(value: Any) -> date | None:
    parsed = parse_moment(value)
    return parsed[0].date() if parsed else None


# -- conditions -------------------------------------------------------------------------------------
@dataclass
class Where:
    """How a call's filters become SQL: the columns, the errors, the time zone, the saved filters."""

    resolve: FieldResolver
    error: ErrorFactory
    special: Callable[..., Any] | None = None  # special fields (study tags): (field, condition, value, key) -> (sql, params)
    zone: tzinfo | None = None
    saved: SavedLookup | None = None
    _seen: set[str] = field(default_factory=set)

    def clauses(self, values: dict[str, Any], depth: int = 0) -> tuple[list[str], list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for key, name, condition, value in filters(values):
            clause, args = self.clause(key, name, condition, value)
            clauses.append(clause)
            params += args
        saved_id = values.get("filter_id")
        if saved_id not in (None, "") and self.saved is not None:
            clause, args = self.saved_clause(str(saved_id), depth)
            clauses.append(clause)
            params += args
        return clauses, params

    def clause(self, key: str, name: str, condition: str, value: Any) -> tuple[str, list[Any]]:
        if condition not in CONDITIONS:
            raise self.error("INVALID_CONDITION", "INVALID_FIELD", subtype=key)
        found = self.special(name, condition, value, key) if self.special else None
        if found is not None:
            return found[0], list(found[1])
        column = self.resolve(name) if name and (_FIELD.match(name) or _HSTORE.match(name)) else None
        if column is None:
            raise self.error("INVALID_FIELD", "INVALID_CONDITION", subtype=key)
        clause, args = condition_sql(column, condition, value, key, self.error, self.zone)
        return (column.within.format(clause) if column.within else clause), args

    def saved_clause(self, uuid: str, depth: int) -> tuple[str, list[Any]]:
        """A saved filter: its configuration hash AND'ed, or its list of saved filters OR'ed."""
        found = self.saved(uuid) if self.saved is not None and depth <= MAX_SAVED_DEPTH and uuid not in self._seen else None
        if found is None:
            raise self.error("FILTER_NOT_FOUND", subtype=uuid)
        config = found.get("configuration")
        if isinstance(config, str):
            try:
                config = orjson.loads(config)
            except orjson.JSONDecodeError:
                config = None
        self._seen.add(uuid)
        try:
            if isinstance(config, list):
                parts = [self.saved_clause(str(item), depth + 1) for item in config]
                if not parts:
                    return "1", []
                return "(" + " OR ".join(f"({c})" for c, _ in parts) + ")", [a for _, args in parts for a in args]
            if isinstance(config, dict):
                expressions = {(k if k.startswith("filter.") else f"filter.{k}"): v for k, v in config.items()}
                clauses, args = self.clauses(expressions, depth + 1)
                return ("(" + " AND ".join(clauses) + ")") if clauses else "1", args
        finally:
            self._seen.discard(uuid)
        raise self.error("FILTER_NOT_FOUND", subtype=uuid)


def where(
    values: dict[str, Any],
    resolve: FieldResolver,
    error: ErrorFactory,
    extra: Callable[..., Any] | None = None,
    *,
    zone: tzinfo | None = None,
    saved: SavedLookup | None = None,
) -> tuple[list[str], list[Any]]:
    """SQL conditions and parameters for the filters of a call."""
    return Where(resolve, error, extra, zone, saved).clauses(values)


def condition_sql(
    column: Column, condition: str, raw: Any, key: str, error: ErrorFactory, zone: tzinfo | None = None
) -> tuple[str, list[Any]]:
    if condition in ("in", "in_or_null"):
        items = parse_list(raw, key, error)
        parts = [compare(column, "=", item, key, error, zone) for item in items]
        inside = "(" + " OR ".join(p[0] for p in parts) + ")" if parts else "0"
        params = [a for p in parts for a in p[1]]
        return (f"({inside} OR {column.sql} IS NULL)" if condition == "in_or_null" else inside), params
    if condition == "like":
        return f"{column.sql} LIKE ?", [str(raw).replace("*", "%")]
    operator = {
        "equals": "=",
        "equals_or_null": "=",
        "not_equals": "!=",
        "not_equals_or_null": "!=",
        "gt": ">",
        "ge": ">=",
        "lt": "<",
        "le": "<=",
    }
    clause, params = compare(column, operator[condition], raw, key, error, zone)
    if condition.endswith("_or_null"):
        clause = f"({clause} OR {column.sql} IS NULL)"
    return clause, params


def compare(column: Column, operator: str, raw: Any, key: str, error: ErrorFactory, zone: tzinfo | None) -> tuple[str, list[Any]]:
    """``column OPERATOR value`` with the value read as the column's kind says."""
    if column.timestamp:
        found = utc_text(raw, zone)
        if found is None:
            raise error("INVALID_CONDITION", "INVALID_FIELD", subtype=key)
        text, micro = found
        # "Server-side timestamps are truncated to seconds before comparison when a filter lacks microseconds part."
        return f"substr({column.sql}, 1, {26 if micro else 19}) {operator} ?", [text]
    return f"{column.sql} {operator} ?", [typed(column, raw, key, error)]


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
    if column.dicom_date or column.date:
        day = calendar_date(text)
        if day is not None:
            return f"{day:%Y%m%d}" if column.dicom_date else day.isoformat()
    return text.replace("+", " ") if re.fullmatch(r"\d{4}-\d{2}-\d{2}\+.*", text) else text


# -- what a field name can name beyond a plain field -----------------------------------------------
def hstore(name: str, is_hash: Callable[[str], bool], data: str = "data") -> Column | None:
    """``settings->'ui_theme'``: a key of a hash (hstore) field of the object."""
    match = _HSTORE.match(name)
    if match is None or not is_hash(match.group(1)):
        return None
    return Column(f'json_extract({data}, \'$."{match.group(1)}"."{match.group(2)}"\')')


def customfield(name: str, type_of: Callable[[str], str | None], data: str = "data") -> Column | None:
    """``customfield-UUID``: the value the object holds for a custom field, typed by the custom field's
    type ("type=number as integer, type=date as date, other types as strings"); None for an unknown one."""
    match = _CUSTOMFIELD.match(name)
    if match is None:
        return None
    uuid = match.group(1).lower()
    kind = type_of(uuid)
    if kind is None:
        return None
    value = (
        f"(SELECT json_extract(cf.value, '$.value') FROM json_each({data}, '$.customfields') AS cf"
        f" WHERE lower(json_extract(cf.value, '$.uuid')) = '{uuid}')"
    )
    if kind == "number":
        return Column(f"CAST({value} AS REAL)", numeric=True)
    return Column(value, date=kind == "date")


def secondary(fk_sql: str, kind: str, inner: Column) -> Column:
    """``filter.TABLE.FIELD``: the objects whose ``fk_sql`` names a ``kind`` object matching the condition."""
    if not re.fullmatch(r"[a-z_]+", kind):
        raise ValueError(kind)
    return Column(
        inner.sql,
        numeric=inner.numeric,
        timestamp=inner.timestamp,
        date=inner.date,
        within=f"{fk_sql} IN (SELECT uuid FROM ambra_objects WHERE kind = '{kind}' AND {{}})",
    )


# -- sorting and pages ------------------------------------------------------------------------------
def order_by(values: dict[str, Any], resolve: FieldResolver, error: ErrorFactory, default: str) -> str:
    raw = values.get("sort_by")
    if raw is None or raw == "":
        return default
    parts = []
    for item in str(raw).split(","):
        name, dash, direction = item.strip().rpartition("-")
        if not dash or not name:
            raise error("INVALID_SORT_ORDER", subtype=item.strip())
        if direction not in ("asc", "desc"):
            raise error("INVALID_SORT_ORDER", subtype=name)
        column = resolve(name) if (_FIELD.match(name) or _HSTORE.match(name)) else None
        if column is None or column.within is not None:
            raise error("INVALID_SORT_FIELD", subtype=name)
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


def page(values: dict[str, Any], error: ErrorFactory, default_rows: int = DEFAULT_ROWS) -> Page:
    rows = _int(values.get("page.rows"), default_rows, "page.rows", error)
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
