"""Values shaped by the spec's schemas: plausible samples for documented return fields,
and stored data conformed to the schema of its resource (so strict mode never sees a
stored value of the wrong type).

Everything here works on the raw OpenAPI document (``$ref`` chains followed through
``Resolver``); nothing imports Flask.
"""

from __future__ import annotations

import re
import uuid as uuid_module
from datetime import UTC, datetime
from typing import Any

import orjson

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_CONDITIONAL = re.compile(r"\(optional|only returned|returned if|if the .* flag|if requested|if a template", re.IGNORECASE)


def now_stamp() -> str:
    """Now as the service stamps ``created``/``updated``: ``2022-08-10 10:11:12.123456+00`` (UTC)."""
    return datetime.now(UTC).replace(tzinfo=None).isoformat(" ", "microseconds") + "+00"


def stamp_seconds(stamp: Any) -> float:
    """A stamp of ``now_stamp``'s form (``created``, ``updated``) as epoch seconds, to the second; ValueError when it is not
    one."""
    return datetime.strptime(str(stamp)[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()


def new_uuid() -> str:
    return str(uuid_module.uuid4())


def is_uuid(value: Any) -> bool:
    return isinstance(value, str) and _UUID.match(value) is not None


class Resolver:
    """Follows ``$ref`` chains of the document; sibling keys of a ``$ref`` override the target's."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def pointer(self, ref: str) -> Any:
        node: Any = self.document
        for part in ref.lstrip("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def deref(self, schema: Any) -> dict[str, Any]:
        seen = 0
        merged: dict[str, Any] = {}
        while isinstance(schema, dict) and "$ref" in schema and seen < 20:
            merged = {**{k: v for k, v in schema.items() if k != "$ref"}, **merged}
            schema = self.pointer(schema["$ref"])
            seen += 1
        if not isinstance(schema, dict):
            return merged
        return {**schema, **merged} if merged else schema

    def types(self, schema: Any) -> set[str]:
        resolved = self.deref(schema)
        declared = resolved.get("type")
        if isinstance(declared, str):
            return {declared}
        if isinstance(declared, list):
            return set(declared)
        return set()

    def flatten(self, schema: Any) -> tuple[dict[str, Any], list[str], bool]:
        """An object schema's properties and required names, through ``allOf``; and whether it allows more."""
        resolved = self.deref(schema)
        properties: dict[str, Any] = dict(resolved.get("properties") or {})
        required = list(resolved.get("required") or [])
        open_ = resolved.get("additionalProperties", True) is not False
        for part in resolved.get("allOf") or ():
            props, req, more = self.flatten(part)
            properties.update(props)
            required += [name for name in req if name not in required]
            open_ = open_ and more
        return properties, required, open_


def is_flag(schema: dict[str, Any]) -> bool:
    enum = schema.get("enum")
    return enum is not None and {v for v in enum if v is not None} == {0, 1}


def sample(resolver: Resolver, schema: Any, name: str = "", *, depth: int = 0, everything: bool = True) -> Any:
    """A plausible value of ``schema`` for a field called ``name`` (required fields always, documented ones unless conditional)."""
    resolved = resolver.deref(schema)
    if "const" in resolved:
        return resolved["const"]
    if resolved.get("allOf") or resolved.get("properties") or "object" in resolver.types(resolved):
        if depth > 3:
            return {}
        properties, required, _ = resolver.flatten(resolved)
        out = {}
        for prop, sub in properties.items():
            sub_resolved = resolver.deref(sub)
            wanted = prop in required or (everything and depth == 0 and not _CONDITIONAL.search(str(sub_resolved.get("description", ""))))
            if wanted and not sub_resolved.get("x-ambra-returned-if"):
                out[prop] = sample(resolver, sub, prop, depth=depth + 1, everything=everything)
        return out
    enum = resolved.get("enum")
    if enum:
        if is_flag(resolved):
            return 1 if name in ("status_ok", "enabled", "exists") else 0
        return next((v for v in enum if v is not None), None)
    types = resolver.types(resolved)
    if "array" in types:
        return []
    if "integer" in types or "number" in types:
        return max(0, resolved.get("minimum", 0))
    if "boolean" in types:
        return False
    if not types and name not in _NAMED and not name.endswith(("_id", "_url", "uuid")):
        return None if "null" in types else ""
    return named_string(name, resolved)


_NAMED = {"uuid", "sid", "url", "created", "updated", "created_at", "when", "access_token", "token_type", "name", "logout_url", "secret"}


def named_string(name: str, schema: dict[str, Any]) -> str:
    if name == "uuid" or name.endswith("_id") or name.endswith("_uuid") or schema.get("format") == "uuid":
        return new_uuid()
    if name in ("sid", "access_token", "secret"):
        return uuid_module.uuid4().hex
    if name == "token_type":
        return "bearer"
    if name.endswith("url") or schema.get("format") == "uri":
        return "https://access.example.org/"
    if name in ("created", "updated", "created_at", "when") or name.endswith(("_date", "_time")):
        return now_stamp()
    if name.endswith("md5"):
        return "d41d8cd98f00b204e9800998ecf8427e"
    return ""


def conform_value(resolver: Resolver, schema: Any, value: Any) -> tuple[bool, Any]:
    """``(keep, value)``: the value coerced to what the schema declares, or ``keep=False`` to drop it."""
    resolved = resolver.deref(schema)
    types = resolver.types(resolved)
    nullable = "null" in types or None in (resolved.get("enum") or ())
    if value is None:
        return nullable or not types, None
    if "enum" in resolved:
        candidate = _to_int(value) if is_flag(resolved) else value
        return (True, candidate) if candidate in resolved["enum"] else (nullable, None)
    if not types:
        return True, value
    if isinstance(value, str) and types & {"object", "array"} and "string" not in types:
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return nullable, None
    if isinstance(value, bool) and "boolean" not in types:
        value = int(value)
    kind = _json_type(value)
    if kind in types or (kind == "integer" and "number" in types):
        if resolved.get("format") == "uuid" and isinstance(value, str) and not is_uuid(value):
            return nullable, None
        return True, value
    if "integer" in types and (number := _to_int(value)) is not None:
        return True, number
    if "string" in types and kind in ("integer", "number"):
        return True, str(value)
    if "string" in types and kind in ("object", "array"):
        return True, orjson.dumps(value).decode()
    return nullable, None


def _to_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,18}", value.strip()):
        return int(value)
    return None


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"
