"""Normalisation rules of a diff: which values are identities, which are volatile, which lists keep their order.

A rule file is YAML (``medimock/diff/rules/<api>.yaml`` by default, ``--rules FILE`` to override)::

    identity_fields: [patient, clinic, station]   # besides the default: id, *_id, uuid, *_uuid, sid, token...
    volatile_fields: [timestamp, created, "*_at"] # compared by kind (string/number/null), never by value
    data_fields: [count]                          # values of each side's own data: compared by kind, and by value
                                                  # only when both sides hold the same data (--data same)
    ordered_lists:                                # lists whose order the document fixes, by "METHOD path?query-name"
      - {operation: "GET /tscharts/v1/image/", when_query: sort, source: "tscharts-image-api.txt: sort by image timestamp"}
    ignore_headers: [X-Request-Id]                # headers never compared (only Allow, Location,
                                                  # WWW-Authenticate, Retry-After are compared at all)
    cleanup:                                      # the documented delete of what a create made: at the end of
      - {create: "POST /tscharts/v1/image/", field: id, delete: "DELETE /tscharts/v1/image/{id}/"}   # the diff,
      - {create: "POST /api/v3/study/add", field: uuid, delete: "POST /api/v3/study/delete", form: {uuid: "{id}"}}
                                                  # what a side created and the scenario did not delete is deleted

Names are matched with ``fnmatch`` against a JSON field's key (case-insensitive). A user file replaces
the API's default file wholly, so copy the default and change it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml

DEFAULT_IDENTITY = ("id", "*_id", "ids", "*_ids", "uuid", "*_uuid", "pk", "sid", "token", "*_token", "key", "*_key", "request_uuid")
DEFAULT_VOLATILE = ("date", "*_date", "time", "*_time", "timestamp", "*_at", "created", "updated", "modified", "expires", "expires_in")
UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
URL = re.compile(r"^https?://[^/\s]+(/\S*)?$")
COMPARED_HEADERS = ("allow", "location", "www-authenticate", "retry-after")


class RulesError(ValueError):
    """A rule file that cannot be read."""


@dataclass(frozen=True)
class OrderedList:
    operation: str  # "GET /tscharts/v1/image/" (the path template of the spec)
    when_query: str | None = None  # only when this query parameter is present (e.g. sort)
    source: str = ""


@dataclass(frozen=True)
class Cleanup:
    """How an object a create operation made is deleted (the document's delete, nothing else)."""

    create: str  # "POST /tscharts/v1/image/" (the spec's path template)
    field: str  # the created object's identity in the create reply ("id", "uuid", "prefix")
    delete: str  # "DELETE /tscharts/v1/image/{id}/" or "POST /api/v3/study/delete"
    form: tuple[tuple[str, str], ...] = ()  # a form body of the delete ("{id}" is the identity)
    source: str = ""


@dataclass
class Rules:
    identity_fields: tuple[str, ...] = DEFAULT_IDENTITY
    volatile_fields: tuple[str, ...] = DEFAULT_VOLATILE
    data_fields: tuple[str, ...] = ()
    ordered_lists: tuple[OrderedList, ...] = ()
    ignore_headers: frozenset[str] = frozenset()
    cleanup: tuple[Cleanup, ...] = ()
    origin: str = "built-in defaults"
    extra: dict[str, Any] = field(default_factory=dict)

    def is_identity(self, key: str | None) -> bool:
        return key is not None and any(fnmatchcase(key.lower(), pattern) for pattern in self.identity_fields)

    def is_volatile(self, key: str | None) -> bool:
        return key is not None and any(fnmatchcase(key.lower(), pattern) for pattern in self.volatile_fields)

    def is_data(self, key: str | None) -> bool:
        return key is not None and any(fnmatchcase(key.lower(), pattern) for pattern in self.data_fields)

    def cleanup_of(self, method: str, template: str) -> Cleanup | None:
        return next((rule for rule in self.cleanup if rule.create == f"{method.upper()} {template}"), None)

    def deletes(self, method: str, template: str) -> bool:
        return any(rule.delete.split("?", 1)[0] == f"{method.upper()} {template}" for rule in self.cleanup)

    def ordered(self, method: str, template: str, query: dict[str, str]) -> OrderedList | None:
        for rule in self.ordered_lists:
            if rule.operation == f"{method.upper()} {template}" and (rule.when_query is None or query.get(rule.when_query) == "true"):
                return rule
        return None


def rules_dir() -> Path:
    return Path(__file__).resolve().parent / "rules"


def load_rules(api: str, path: str | Path | None = None) -> Rules:
    """The rules of ``api``: ``path`` when given, else the API's default file (else the built-in defaults)."""
    file = Path(path) if path else rules_dir() / f"{api}.yaml"
    if not file.exists():
        if path:
            raise RulesError(f"no rule file {file}")
        return Rules()
    try:
        data = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as exc:
        raise RulesError(f"{file}: not YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise RulesError(f"{file}: a mapping of rules expected")
    unknown = set(data) - {"identity_fields", "volatile_fields", "data_fields", "ordered_lists", "ignore_headers", "cleanup", "description"}
    if unknown:
        raise RulesError(f"{file}: unknown rule {sorted(unknown)[0]!r}")
    try:
        ordered = tuple(OrderedList(**{str(k): v for k, v in item.items()}) for item in data.get("ordered_lists") or [])
    except TypeError as exc:
        raise RulesError(f"{file}: ordered_lists: {exc}") from exc
    try:
        cleanup = tuple(
            Cleanup(
                **{str(k): v for k, v in item.items() if k != "form"},
                form=tuple((str(k), str(v)) for k, v in (item.get("form") or {}).items()),
            )
            for item in data.get("cleanup") or []
        )
    except (TypeError, AttributeError) as exc:
        raise RulesError(f"{file}: cleanup: {exc}") from exc
    return Rules(
        identity_fields=DEFAULT_IDENTITY + tuple(str(x).lower() for x in data.get("identity_fields") or []),
        volatile_fields=DEFAULT_VOLATILE + tuple(str(x).lower() for x in data.get("volatile_fields") or []),
        data_fields=tuple(str(x).lower() for x in data.get("data_fields") or []),
        ordered_lists=ordered,
        ignore_headers=frozenset(str(x).lower() for x in data.get("ignore_headers") or []),
        cleanup=cleanup,
        origin=str(file),
    )


def kind(value: Any) -> str:
    """The kind of a JSON value, as a difference of shape names it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def string_kind(value: Any) -> str:
    """A finer kind for volatile strings: uuid, timestamp, url, or plain string."""
    if not isinstance(value, str):
        return kind(value)
    if UUID.match(value):
        return "uuid"
    if TIMESTAMP.match(value):
        return "timestamp"
    if URL.match(value):
        return "url"
    return "string"
