"""Compare one response pair after normalisation, and classify every difference.

Kinds: ``status``, ``content-type``, ``body-presence``, ``shape`` (a field on one side only, a type
change), ``value`` (a value the scenario wrote and read back, or an identity that does not map),
``order`` (the same items in another order where the rules say the document fixes the order) and
``header`` (Allow, Location, WWW-Authenticate, Retry-After).

When the statuses differ only the status is reported (the bodies of two different answers differ
by nature); when one body is empty only its presence is; list items are compared as one merged
shape (a field missing from every item is one difference, not one per item).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from .rules import COMPARED_HEADERS, Rules, kind, string_kind

KINDS = ("status", "content-type", "body-presence", "shape", "value", "order", "header")


@dataclass
class Reply:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    def json(self) -> Any:
        if not self.body.strip():
            return _NO_JSON
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError:
            return _NO_JSON

    def preview(self, limit: int = 600) -> str:
        text = self.body.decode("utf-8", "replace")
        return text if len(text) <= limit else text[:limit] + f"...<{len(text) - limit} more characters>"


_NO_JSON = object()


@dataclass
class Difference:
    kind: str
    where: str  # JSON path, header name, or "" for the status line
    detail: str
    a: str = ""
    b: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    tier: str = ""  # who decides it (set by the lockstep from the spec's tags)
    source: str = ""


def compare(
    a: Reply,
    b: Reply,
    *,
    rules: Rules,
    to_b: Callable[[Any], Any],
    written: set[str],
    ordered: str | None = None,
) -> list[Difference]:
    """The differences of B's reply from A's. ``to_b`` maps one of A's identities to B's (the identity mapping);
    ``written`` holds the scalar values the scenario sent so far (compared by value when read back);
    ``ordered`` names the rule when the document fixes the order of this reply's lists."""
    if a.status != b.status:
        return [Difference("status", "", f"{a.status} against {b.status}", str(a.status), str(b.status))]
    found = _headers(a, b, rules, to_b)
    if bool(a.body.strip()) != bool(b.body.strip()):
        found.append(
            Difference(
                "body-presence",
                "",
                "A answered a body, B an empty one" if a.body.strip() else "A answered an empty body, B one",
                _short(a),
                _short(b),
            )
        )
        return found
    if not a.body.strip():
        return found
    if a.content_type != b.content_type:
        found.append(Difference("content-type", "Content-Type", f"{a.content_type or '(none)'} against {b.content_type or '(none)'}"))
    ja, jb = a.json(), b.json()
    if ja is _NO_JSON or jb is _NO_JSON:
        if (ja is _NO_JSON) != (jb is _NO_JSON) and a.content_type == b.content_type:
            found.append(Difference("shape", "$", "one body is JSON, the other is not", _short(a), _short(b)))
        return found
    _walk(ja, jb, "$", None, rules, to_b, written, ordered, found)
    return found


def _short(reply: Reply) -> str:
    return reply.preview(120) or "(empty)"


def _headers(a: Reply, b: Reply, rules: Rules, to_b: Callable[[Any], Any]) -> list[Difference]:
    found = []
    for name in COMPARED_HEADERS:
        if name in rules.ignore_headers:
            continue
        va, vb = a.headers.get(name), b.headers.get(name)
        if va is None and vb is None:
            continue
        if (va is None) != (vb is None):
            found.append(Difference("header", name, f"{name} only on {'A' if vb is None else 'B'}", va or "", vb or ""))
        elif name == "allow":
            if _tokens(va) != _tokens(vb):
                found.append(Difference("header", name, "another set of methods", va or "", vb or ""))
        elif name == "www-authenticate":
            if (va or "").split(" ", 1)[0].lower() != (vb or "").split(" ", 1)[0].lower():
                found.append(Difference("header", name, "another scheme", va or "", vb or ""))
        elif name == "location":
            pa, pb = _location_path(va or ""), _location_path(vb or "")
            mapped = "/".join(str(to_b(part)) for part in pa.split("/"))
            if mapped != pb and len(pa.split("/")) != len(pb.split("/")):
                found.append(Difference("header", name, "another location", va or "", vb or ""))
        # Retry-After: its presence is compared; the value is volatile (seconds or a date)
    return found


def _tokens(value: str | None) -> set[str]:
    return {part.strip().upper() for part in (value or "").split(",") if part.strip()}


def _location_path(value: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(value).path


def _walk(
    a: Any,
    b: Any,
    path: str,
    key: str | None,
    rules: Rules,
    to_b: Callable[[Any], Any],
    written: set[str],
    ordered: str | None,
    found: list[Difference],
) -> None:
    ka, kb = kind(a), kind(b)
    if ka != kb:
        if not (rules.is_volatile(key) and "null" in (ka, kb)):
            found.append(Difference("shape", path, f"{ka} against {kb}", _show(a), _show(b)))
        return
    if isinstance(a, Mapping):
        only_a = sorted(set(a) - set(b))
        only_b = sorted(set(b) - set(a))
        for name in only_a:
            found.append(Difference("shape", f"{path}.{name}", "field only on A", _show(a[name]), ""))
        for name in only_b:
            found.append(Difference("shape", f"{path}.{name}", "field only on B", "", _show(b[name])))
        for name in a:
            if name in b:
                _walk(a[name], b[name], f"{path}.{name}", str(name), rules, to_b, written, ordered, found)
        return
    if isinstance(a, list):
        _list(a, b, path, key, rules, to_b, written, ordered, found)
        return
    _scalar(a, b, path, key, rules, to_b, written, found)


def _list(
    a: list[Any],
    b: list[Any],
    path: str,
    key: str | None,
    rules: Rules,
    to_b: Callable[[Any], Any],
    written: set[str],
    ordered: str | None,
    found: list[Difference],
) -> None:
    items = f"{path}[]"
    if a and b and all(isinstance(x, Mapping) for x in a + b):
        merged_a: dict[str, Any] = {}
        merged_b: dict[str, Any] = {}
        for item in a:
            for name, value in item.items():
                merged_a.setdefault(name, value)
        for item in b:
            for name, value in item.items():
                merged_b.setdefault(name, value)
        before = len(found)
        _walk(merged_a, merged_b, items, key, rules, _identity, set(), None, found)
        # only the shape of merged items (values of different items are not comparable)
        found[before:] = [d for d in found[before:] if d.kind == "shape"]
        return
    scalars = all(not isinstance(x, (Mapping, list)) for x in a + b)
    if scalars and a and b and (rules.is_identity(key) or key is None):
        mapped = [to_b(x) for x in a]
        if ordered and sorted(map(str, mapped)) == sorted(map(str, b)) and [str(x) for x in mapped] != [str(x) for x in b]:
            found.append(Difference("order", items, f"the same items in another order ({ordered})", _show(a), _show(b)))
        kinds_a, kinds_b = {kind(x) for x in a}, {kind(x) for x in b}
        if kinds_a != kinds_b:
            found.append(
                Difference("shape", items, f"items {'/'.join(sorted(kinds_a))} against {'/'.join(sorted(kinds_b))}", _show(a), _show(b))
            )
        return
    if a and b:
        _walk(a[0], b[0], items, key, rules, to_b, written, ordered, found)


def _identity(value: Any) -> Any:
    return value


def _scalar(
    a: Any, b: Any, path: str, key: str | None, rules: Rules, to_b: Callable[[Any], Any], written: set[str], found: list[Difference]
) -> None:
    if a == b:
        return
    if rules.is_volatile(key):
        if string_kind(a) != string_kind(b):
            found.append(Difference("shape", path, f"a {string_kind(a)} against a {string_kind(b)}", _show(a), _show(b)))
        return
    if rules.is_identity(key) or string_kind(a) in ("uuid", "timestamp", "url"):
        mapped = to_b(a)
        if mapped == b or str(mapped) == str(b):
            return
        if string_kind(a) != string_kind(b):
            found.append(Difference("shape", path, f"a {string_kind(a)} against a {string_kind(b)}", _show(a), _show(b)))
        elif str(a) in written and str(mapped) != str(b):  # the scenario named this object: B names another
            found.append(Difference("value", path, "another object than the one the mapping names", _show(a), _show(b)))
        return
    if not isinstance(a, bool) and str(a) in written:  # the scenario wrote it: it must read back the same
        found.append(Difference("value", path, "the value written is read back differently", _show(a), _show(b)))


def _show(value: Any) -> str:
    text = orjson.dumps(value).decode() if not isinstance(value, str) else value
    return text if len(text) <= 120 else text[:120] + "..."
