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

import re
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
# times inside a text (a report "signed on 2026-12-07 09:41"): volatile there too
_TIMES = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?")


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
    same_data: bool = False,
    text_to_b: Callable[[str], str] | None = None,
) -> list[Difference]:
    """The differences of B's reply from A's. ``to_b`` maps one of A's identities to B's (the identity mapping);
    ``written`` holds the scalar values the scenario sent so far (compared by value when read back);
    ``ordered`` names the rule when the document fixes the order of this reply's lists; ``same_data``: both
    sides hold the same data (identically seeded), so every value that is not volatile is compared, lists item
    by item, and a seeded object's identity must be the same on both sides; ``text_to_b`` rewrites A's text as B
    would say it (A's host and mapped identities inside a message or a JSON string), for that comparison."""
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
    if same_data and ja is _NO_JSON and jb is _NO_JSON:  # archives and DICOM files: what they hold, not their bytes
        ja, jb = _file_view(a.body), _file_view(b.body)
    if ja is _NO_JSON or jb is _NO_JSON:
        if (ja is _NO_JSON) != (jb is _NO_JSON) and a.content_type == b.content_type:
            found.append(Difference("shape", "$", "one body is JSON, the other is not", _short(a), _short(b)))
        elif same_data and a.content_type == b.content_type and a.content_type.startswith("text/") and not a.content_type.endswith("html"):
            text_a, text_b = (text_to_b or _identity)(a.body.decode("utf-8", "replace")), b.body.decode("utf-8", "replace")
            if _TIMES.sub("<time>", text_a) != _TIMES.sub("<time>", text_b):
                found.append(Difference("value", "$", "another text", _short(a), _short(b)))
        return found
    _Walk(rules, to_b, written, ordered, same_data, found, text_to_b or _identity).walk(ja, jb, "$", None)
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


@dataclass
class _Walk:
    """One reply pair's walk: what every level of the comparison needs, and the differences found."""

    rules: Rules
    to_b: Callable[[Any], Any]
    written: set[str]
    ordered: str | None
    same_data: bool
    found: list[Difference]
    text_to_b: Callable[[str], str] = field(default=lambda text: text)

    def walk(self, a: Any, b: Any, path: str, key: str | None) -> None:
        ka, kb = kind(a), kind(b)
        if ka != kb:
            if not (self.volatile(key) and "null" in (ka, kb)):
                self.found.append(Difference("shape", path, f"{ka} against {kb}", _show(a), _show(b)))
            return
        if isinstance(a, Mapping):
            only_a = sorted(set(a) - set(b))
            only_b = sorted(set(b) - set(a))
            for name in only_a:
                self.found.append(Difference("shape", f"{path}.{name}", "field only on A", _show(a[name]), ""))
            for name in only_b:
                self.found.append(Difference("shape", f"{path}.{name}", "field only on B", "", _show(b[name])))
            for name in a:
                if name in b:
                    self.walk(a[name], b[name], f"{path}.{name}", str(name))
            return
        if isinstance(a, list):
            if self.same_data:
                self.same_list(a, b, path, key)
            else:
                self.merged_list(a, b, path, key)
            return
        self.scalar(a, b, path, key)

    def merged_list(self, a: list[Any], b: list[Any], path: str, key: str | None) -> None:
        items = f"{path}[]"
        if a and b and all(isinstance(x, Mapping) for x in a + b):
            merged_a: dict[str, Any] = {}
            merged_b: dict[str, Any] = {}
            for item in a:
                _merge(merged_a, item)
            for item in b:
                _merge(merged_b, item)
            # only the shape of merged items (values of different items are not comparable)
            shapes = _Walk(self.rules, _identity, set(), None, False, [])
            shapes.walk(merged_a, merged_b, items, key)
            self.found += [d for d in shapes.found if d.kind == "shape"]
            return
        scalars = all(not isinstance(x, (Mapping, list)) for x in a + b)
        if scalars and a and b and (self.rules.is_identity(key) or key is None):
            mapped = [self.to_b(x) for x in a]
            if self.ordered and sorted(map(str, mapped)) == sorted(map(str, b)) and [str(x) for x in mapped] != [str(x) for x in b]:
                self.found.append(Difference("order", items, f"the same items in another order ({self.ordered})", _show(a), _show(b)))
            self.items_of_another_kind(a, b, items)
            return
        if a and b:
            self.walk(a[0], b[0], items, key)

    def same_list(self, a: list[Any], b: list[Any], path: str, key: str | None) -> None:
        """Lists of the same data: the same items. Objects are paired by their own identity when they carry one (else
        by position); an item on one side only, another number of items, another order where the document fixes it,
        and every paired item's values are differences."""
        items = f"{path}[]"
        if all(isinstance(x, Mapping) for x in a + b) and (a or b):
            name = _own_identity((a, b), self.rules)
            if name is None:
                pairs = list(zip(a, b, strict=False))
                if len(a) != len(b):
                    self.found.append(Difference("value", items, "another number of items", str(len(a)), str(len(b))))
            else:
                by_b = {self.item_key(item.get(name), _identity): item for item in b}
                mapped = [self.item_key(item.get(name), self.to_b) for item in a]
                pairs = [(item, by_b[m]) for item, m in zip(a, mapped, strict=True) if m in by_b]
                only_a = [str(item.get(name)) for item, m in zip(a, mapped, strict=True) if m not in by_b]
                only_b = [str(item.get(name)) for k, item in by_b.items() if k not in set(mapped)]
                if only_a or only_b:
                    self.found.append(Difference("value", items, "other items", _names(name, only_a), _names(name, only_b)))
                shared = [m for m in mapped if m in by_b]
                if self.ordered and shared != [k for k in by_b if k in set(shared)]:
                    self.found.append(Difference("order", items, f"the same items in another order ({self.ordered})", _show(a), _show(b)))
            for x, y in pairs:
                self.walk(x, y, items, key)
            return
        mapped_scalars = [str(self.to_b(x)) if not isinstance(x, (Mapping, list)) else _show(x) for x in a]
        theirs = [str(y) if not isinstance(y, (Mapping, list)) else _show(y) for y in b]
        if sorted(mapped_scalars) != sorted(theirs):
            if not (a and b and self.items_of_another_kind(a, b, items)) and not self.volatile(key):
                self.found.append(Difference("value", items, "other items", _show(a), _show(b)))
        elif self.ordered and mapped_scalars != theirs:
            self.found.append(Difference("order", items, f"the same items in another order ({self.ordered})", _show(a), _show(b)))

    def items_of_another_kind(self, a: list[Any], b: list[Any], items: str) -> bool:
        """A shape difference when the two lists' items are of other kinds (strings against numbers...); whether so."""
        kinds_a, kinds_b = {kind(x) for x in a}, {kind(x) for x in b}
        if kinds_a == kinds_b:
            return False
        self.found.append(
            Difference("shape", items, f"items {'/'.join(sorted(kinds_a))} against {'/'.join(sorted(kinds_b))}", _show(a), _show(b))
        )
        return True

    def scalar(self, a: Any, b: Any, path: str, key: str | None) -> None:
        if a == b:
            return
        rules = self.rules
        if self.volatile(key) or (self.same_data and string_kind(a) == "timestamp" and string_kind(b) == "timestamp"):
            if string_kind(a) != string_kind(b):
                self.found.append(Difference("shape", path, f"a {string_kind(a)} against a {string_kind(b)}", _show(a), _show(b)))
            return
        if rules.is_identity(key) or string_kind(a) in ("uuid", "timestamp", "url"):
            mapped = self.to_b(a)
            if mapped == b or str(mapped) == str(b):
                return
            if string_kind(a) != string_kind(b):
                self.found.append(Difference("shape", path, f"a {string_kind(a)} against a {string_kind(b)}", _show(a), _show(b)))
            elif self.same_data and string_kind(a) == "url":
                if _url_key(a, self.to_b, self.rules) != _url_key(b, _identity, self.rules):
                    self.found.append(Difference("value", path, "a link to another place", _show(a), _show(b)))
            elif (self.same_data or str(a) in self.written) and str(mapped) != str(b):  # the scenario named this object: B names another
                self.found.append(Difference("value", path, "another object than the one the mapping names", _show(a), _show(b)))
            return
        written = not isinstance(a, bool) and str(a) in self.written
        if self.same_data and isinstance(a, str) and isinstance(b, str):
            inner_a, inner_b = _json_text(a), _json_text(b)
            if inner_a is not _NO_JSON and inner_b is not _NO_JSON:  # a JSON document in a string (a webhook's payload)
                self.walk(inner_a, inner_b, f"{path}(json)", key)
                return
        if (
            self.same_data
            and isinstance(a, str)
            and isinstance(b, str)
            and _TIMES.sub("<time>", self.text_to_b(a)) == _TIMES.sub("<time>", b)
        ):
            return  # the same text, naming each side's own host or objects, or written a moment later
        if written or self.same_data:  # the scenario wrote it, or both sides hold the same data: it must read back the same
            detail = "the value written is read back differently" if written else "another value"
            self.found.append(Difference("value", path, detail, _show(a), _show(b)))

    def item_key(self, value: Any, to_b: Callable[[Any], Any]) -> str:
        """How a list item's identity names it on B's side (a link without its host)."""
        if string_kind(value) == "url" and str(to_b(value)) == str(value):
            return repr(_url_key(str(value), to_b, self.rules))
        return str(to_b(value))

    def volatile(self, key: str | None) -> bool:
        """Compared by kind only: volatile values, and values of each side's own data unless both hold the same."""
        return self.rules.is_volatile(key) or (not self.same_data and self.rules.is_data(key))


def _identity(value: Any) -> Any:
    return value


# what a DICOM file says that two sides holding the same data must agree on (not its UIDs made when served, nor times)
_DICOM_FIELDS = ("SOPClassUID", "Modality", "Rows", "Columns", "NumberOfFrames", "SamplesPerPixel", "PhotometricInterpretation",
                 "BitsAllocated", "PatientName", "PatientID", "PatientSex", "PatientBirthDate", "Manufacturer")  # fmt: skip


def _file_view(body: bytes) -> Any:
    """A ZIP archive or a DICOM file as JSON that can be compared: a ZIP as {member name: its view} (a JSON member
    parsed, a DICOM file by its transfer syntax and main attributes, any other file by its kind only), a DICOM file
    as that summary; _NO_JSON for anything else."""
    import io
    import zipfile

    from medimock.dicomfiles import is_part10

    if is_part10(body):
        return _dicom_view(body)
    if body[:4] != b"PK\x03\x04":
        return _NO_JSON
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            members = []
            for name in sorted(archive.namelist()):
                content = archive.read(name)
                parsed = Reply(200, {}, content).json()
                view = parsed if parsed is not _NO_JSON else _dicom_view(content) if is_part10(content) else "(a file)"
                members.append({"file": name, "content": view})  # "file": compared like any value (the same data)
            return {"members": members}
    except (zipfile.BadZipFile, OSError, ValueError):
        return _NO_JSON


def _dicom_view(content: bytes) -> Any:
    from medimock.dicomfiles import read

    try:
        dataset = read(content)
    except Exception as exc:  # noqa: BLE001 - pydicom raises many kinds for a damaged file: the view says so
        return f"(not readable as DICOM: {type(exc).__name__})"
    view: dict[str, Any] = {"TransferSyntaxUID": str(getattr(dataset.file_meta, "TransferSyntaxUID", ""))}
    for name in _DICOM_FIELDS:
        if name in dataset:
            value = dataset.get(name)
            view[name] = value if isinstance(value, (int, float)) else str(value)
    return view


def _json_text(text: str) -> Any:
    """The object or array a string holds as JSON text, else _NO_JSON."""
    if text[:1] not in ("{", "["):
        return _NO_JSON
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return _NO_JSON
    return value if isinstance(value, (dict, list)) else _NO_JSON


def _merge(merged: dict[str, Any], item: Mapping[str, Any]) -> None:
    """A list item's fields into the list's merged item: the first value of each field that is not null."""
    for name, value in item.items():
        if merged.get(name) is None:
            merged[name] = value


def _names(name: str, values: list[str]) -> str:
    """Items only on one side (named by their ``name`` field), as the report shows them."""
    if not values:
        return "no item only here"
    return f"{len(values)} item(s) only here, {name} " + ", ".join(values[:5]) + (", ..." if len(values) > 5 else "")


def _own_identity(sides: tuple[list[Any], list[Any]], rules: Rules) -> str | None:
    """The field that names each object of a list (the first identity field every item holds, with distinct values)."""
    items = [item for side in sides for item in side]
    candidates = [name for name in items[0] if rules.is_identity(str(name)) and not isinstance(items[0][name], (Mapping, list))]
    for name in sorted(candidates, key=lambda n: (string_kind(items[0][n]) == "url", n not in ("id", "uuid"), n)):
        if all(_distinct([item.get(name) for item in side]) for side in sides):
            return str(name)
    return None


def _distinct(values: list[Any]) -> bool:
    return None not in values and len({str(v) for v in values}) == len(values)


def _url_key(value: str, to_b: Callable[[Any], Any], rules: Rules) -> tuple[str, tuple[tuple[str, str], ...]]:
    """A link without its host (each side's own): the path with mapped segments and the sorted query, without its
    volatile parameters (a presigned link's date and signature: ``x-amz-*`` in the rules)."""
    from urllib.parse import parse_qsl, urlsplit

    parts = urlsplit(value)
    path = "/".join(str(to_b(segment)) for segment in parts.path.split("/"))
    query = parse_qsl(parts.query, keep_blank_values=True)
    return path, tuple(sorted((k, str(to_b(v))) for k, v in query if not rules.is_volatile(k)))


def _show(value: Any) -> str:
    text = orjson.dumps(value).decode() if not isinstance(value, str) else value
    return text if len(text) <= 120 else text[:120] + "..."
