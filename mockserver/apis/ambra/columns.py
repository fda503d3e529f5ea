"""What a ``filter.*`` or ``sort_by`` field names, for the objects of the generic engine and for
studies alike: a plain field (typed by the object's schema), a timestamp (``created``,
``updated``), a key of a hash field (``settings->'ui_theme'``), a custom field
(``customfield-UUID``, typed by the custom field's own type) or a field of a secondary table
(``account.name``: the account the object's ``account_id`` names). Also the time zone a call's
date filters are read in, and the saved filters ``filter_id`` names.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import tzinfo
from typing import Any

from . import filters
from .call import Call
from .catalog import ResourceInfo

TIMESTAMPS = ("created", "updated")
# The customfield ``object`` that applies to a resource's objects (/customfield/add object=...).
CUSTOMFIELD_OBJECTS = {
    "study": "Study", "account_user": "User_account", "group": "Group", "location": "Location", "account": "Account",
    "patient": "Patient", "case": "Case", "order": "Order", "appointment": "Appointment", "dicomdata": "Dicomdata",
    "scanner": "Scanner", "query": "Query",
}  # fmt: skip
# Where an object points at a secondary table: ``TABLE_id`` names a TABLE object.
SECONDARY_TABLES = (
    "account", "user", "group", "location", "namespace", "role", "node", "destination", "route", "webhook", "customfield",
    "patient", "order", "rule_set", "site", "link", "filter", "dictionary", "meeting", "radreport", "query",
)  # fmt: skip


def types_of(schema: dict[str, Any]) -> set[str]:
    declared = schema.get("type")
    if isinstance(declared, list):
        return {t for t in declared if isinstance(t, str)}
    return {declared} if isinstance(declared, str) else set()


def is_timestamp(name: str, schema: dict[str, Any] | None) -> bool:
    return name in TIMESTAMPS or str((schema or {}).get("$ref", "")).endswith("/Timestamp")


def plain(properties: dict[str, Any], name: str, data: str = "data") -> filters.Column | None:
    """A field of the object's schema, read from its JSON ``data``."""
    schema = properties.get(name)
    if schema is None:
        return None
    kinds = types_of(schema)
    if kinds & {"array", "object"}:
        return None
    numeric = bool(kinds & {"integer", "number"}) or "ReturnedFlag" in str(schema.get("$ref"))
    return filters.Column(f"json_extract({data}, '$.\"{name}\"')", numeric=numeric, timestamp=is_timestamp(name, schema))


class Columns:
    """The field resolver of one call over one kind of object."""

    def __init__(
        self,
        call: Call,
        kind: str,
        properties: dict[str, Any],
        direct: Callable[[str], filters.Column | None],
        keys: dict[str, tuple[str, str]] | None = None,
    ) -> None:
        self.call = call
        self.kind = kind
        self.properties = properties
        self.direct = direct
        self.keys = keys or {}  # table -> (the SQL of the reference, the kind it names), beyond TABLE_id
        self._customfield_types: dict[str, str | None] = {}

    def __call__(self, name: str) -> filters.Column | None:
        found = self.direct(name)
        if found is not None:
            return found
        if name.startswith("customfield-"):
            return filters.customfield(name, self.customfield_type)
        if "->" in name:
            return filters.hstore(name, lambda base: "object" in types_of(self.properties.get(base) or {}))
        table, dot, inner = name.partition(".")
        if dot:
            return self.secondary(table, inner)
        return None

    def customfield_type(self, uuid: str) -> str | None:
        """The type of a custom field of this kind of object (None: no such custom field for it)."""
        if uuid not in self._customfield_types:
            found = self.call.db.object(uuid, "customfield")
            wanted = CUSTOMFIELD_OBJECTS.get(self.kind)
            ok = found is not None and (wanted is None or str(found.get("object") or wanted) == wanted)
            self._customfield_types[uuid] = str((found or {}).get("type") or "text") if ok else None
        return self._customfield_types[uuid]

    def foreign_key(self, table: str) -> tuple[str, str] | None:
        """The SQL of the object's reference to a ``table`` object and the kind it names, if it has one."""
        if table in self.keys:
            return self.keys[table]
        if table not in SECONDARY_TABLES or f"{table}_id" not in self.properties:
            return None
        return f"json_extract(data, '$.\"{table}_id\"')", table

    def secondary(self, table: str, inner: str) -> filters.Column | None:
        found = self.foreign_key(table)
        if found is None:
            return None
        related = related_column(self.call, found[1], inner)
        return filters.secondary(found[0], found[1], related) if related is not None else None


def related_column(call: Call, kind: str, name: str) -> filters.Column | None:
    """A field of a secondary table (an ``ambra_objects`` row of ``kind``)."""
    if name in ("uuid",):
        return filters.Column("uuid")
    if name in TIMESTAMPS:
        return filters.Column(name, timestamp=True)
    info = call.catalog.resources.get(kind)
    properties = info.properties if info is not None else {"name": {"type": ["string", "null"]}}
    return plain(properties, name)


def object_columns(call: Call, info: ResourceInfo) -> Columns:
    """The fields of an object of the generic engine."""

    def direct(name: str) -> filters.Column | None:
        if name == "uuid":
            return filters.Column("uuid")
        if name in TIMESTAMPS:
            return filters.Column(name, timestamp=True)
        return plain(info.properties, name)

    return Columns(call, info.name, info.properties, direct, {"account": ("account_id", "account")})


def zone(call: Call) -> tzinfo | None:
    """The time zone of a call's date filters: the user's own ``time_zone`` wins over ``filter.tz`` (the
    /user/set notes), which wins over UTC."""
    own = call.user.get("time_zone") if call.principal is not None else None
    return filters.time_zone(own) or filters.time_zone(call.values.get("filter.tz"))


def where(call: Call, resolve: filters.FieldResolver, extra: Callable[..., Any] | None = None) -> tuple[list[str], list[Any]]:
    """The SQL of a call's ``filter.*`` and ``filter_id``."""
    return filters.where(call.values, resolve, call.error, extra, zone=zone(call), saved=lambda uuid: call.db.object(uuid, "filter"))
