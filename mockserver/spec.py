"""Load an OpenAPI 3.1 document once and normalise it into ``Operation`` objects.

Everything the request pipeline needs per request is computed here, at start-up:
the path regex, the parameter list with compiled validators, the request-body
media types with compiled validators, and the response validators used by strict
mode. Nothing in the request path walks the raw document again.

This module imports no Flask.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import uuid as uuid_module
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import orjson
import regress
import yaml
from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators
from jsonschema.protocols import Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

_FORMAT_CHECKER = FormatChecker()


@functools.cache
def ecma_regex(pattern: str) -> regress.Regex:
    """A JSON Schema ``pattern``, compiled as ECMA-262 says (Unicode mode): the dialect the specification names.

    Python's ``re`` is another dialect: its ``\\s`` matches U+001C-U+001F and U+0085, which ECMA-262's does
    not, and misses U+FEFF, which ECMA-262's matches; its ``\\d`` and ``\\w`` match non-ASCII digits and
    letters; its ``$`` also matches before a final newline. Schemathesis generates by ECMA-262, so a mock
    matching with ``re`` rejects data its spec allows (issue 16). ``regress`` is Rust's ECMA-262 engine.
    """
    return regress.Regex(pattern, "u")


def ecma_search(pattern: str, text: str) -> bool:
    """Whether ``text`` has a match of ``pattern`` anywhere (JSON Schema patterns are not anchored)."""
    return _found(ecma_regex(pattern), text)


def _found(regex: regress.Regex, text: str) -> bool:
    try:
        return regex.find(text) is not None
    except UnicodeEncodeError:
        # A lone surrogate ("\ud800" in a JSON string) has no UTF-8, which regress needs. ECMA-262's Unicode mode
        # reads it as a code point of its own; U+FFFD stands in for it (the same classes: not a digit, word
        # character, space or line terminator), and a pair split in two becomes its one code point again.
        return regex.find(text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")) is not None


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not ecma_search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator: Any, patterns: dict[str, Any], instance: Any, schema: Any) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if ecma_search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(validator: Any, additional: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    known = schema.get("properties") or {}
    patterns = list(schema.get("patternProperties") or {})
    extras = [key for key in instance if key not in known and not any(ecma_search(p, key) for p in patterns)]
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif not additional and extras:
        yield ValidationError(f"Additional properties are not allowed ({', '.join(map(repr, sorted(extras)))} unexpected)")


# Draft 2020-12 with ECMA-262 patterns (``pattern``, ``patternProperties`` and the additionalProperties they exempt).
EcmaDraft202012Validator = validators.extend(
    Draft202012Validator,
    {"pattern": _pattern, "patternProperties": _pattern_properties, "additionalProperties": _additional_properties},
)

try:  # libyaml is bundled in the PyYAML wheels; fall back to the pure loader.
    _YamlLoader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _YamlLoader = yaml.SafeLoader


def read_document(path: Path) -> dict[str, Any]:
    """Parse a YAML (or JSON) OpenAPI document, through a JSON cache keyed by the file's hash.

    libyaml takes about a second for the Ambra spec, JSON a few milliseconds, so the first
    start parses and writes ``<cache>/<name>-<sha256>.json`` and later starts read that.
    The YAML is normalised through JSON either way (integer status keys become strings,
    dates become ISO strings), so a cold and a warm start see the same document.
    """
    raw = Path(path).read_bytes()
    cache = _cache_dir() / f"{Path(path).parent.name}-{hashlib.sha256(raw).hexdigest()[:40]}.json"
    try:
        document = orjson.loads(cache.read_bytes())
    except (OSError, ValueError):
        parsed = yaml.load(raw, Loader=_YamlLoader)  # noqa: S506 - the C *safe* loader
        encoded = orjson.dumps(parsed, option=orjson.OPT_NON_STR_KEYS)
        document = orjson.loads(encoded)
        _write_atomically(cache, encoded)
    if not isinstance(document, dict) or "openapi" not in document:
        raise SpecError(f"{path}: not an OpenAPI document")
    return document


def _cache_dir() -> Path:
    configured = os.environ.get("MEDIMOCK_CACHE_DIR")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "medimock" / "specs"


def _write_atomically(target: Path, data: bytes) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_bytes(data)
        os.replace(temporary, target)
    except OSError:  # a read-only home: parse every time, still correct
        pass


class SpecError(Exception):
    """The document cannot be served: a broken reference, a missing operationId..."""


@dataclass(frozen=True)
class SchemaValidator:
    """A compiled JSON Schema validator for one place in the document.

    ``fast`` is a native check compiled for simple scalar schemas (most parameters); it
    only ever answers "valid" where jsonschema would, and anything it does not accept
    goes through jsonschema, which explains the violation.
    """

    pointer: str
    validator: Validator
    schema: dict[str, Any]
    fast: Callable[[Any], bool] | None = None

    def errors(self, instance: Any) -> list[str]:
        """Every violation as ``'<where>: <message>'``, sorted for stability, said as an API would say it."""
        return sorted(f"{v.field}: {v.message}" for v in self.violations(instance))

    def violations(self, instance: Any) -> list[Violation]:
        """Every violation with its field, its kind (the JSON Schema keyword) and the schema's expectation."""
        if self.fast is not None and self.fast(instance):
            return []
        found = []
        for error in self.validator.iter_errors(instance):
            where = "/".join(str(part) for part in error.absolute_path) or "(root)"
            schema = error.schema if isinstance(error.schema, dict) else {}
            if error.validator == "additionalProperties" and isinstance(error.instance, dict):
                known = set(schema.get("properties") or {})
                patterns = list((schema.get("patternProperties") or {}).keys())
                for key in error.instance:
                    if key not in known and not any(ecma_search(p, key) for p in patterns):
                        found.append(Violation(_join(where, key), "unknown", "Unknown field."))
                continue
            if error.validator == "required":
                missing = _REQUIRED.match(str(error.message))
                if missing:
                    found.append(Violation(_join(where, missing.group(1)), "required", "This field is required."))
                    continue
            found.append(Violation(where, str(error.validator), explain(error), error.validator_value, schema, error.instance))
        return sorted(found, key=lambda v: (v.field, v.message))


@dataclass(frozen=True)
class Violation:
    """One way a value breaks its schema: ``kind`` is the JSON Schema keyword (``type``, ``enum``...),
    or ``required``/``unknown``; ``expected`` the keyword's value; ``schema`` the subschema;
    ``instance`` the offending value (None for ``required``/``unknown``)."""

    field: str
    kind: str
    message: str
    expected: Any = None
    schema: Any = None
    instance: Any = None


_REQUIRED = re.compile(r"^'(.+)' is a required property$")


_ANNOTATIONS = {"description", "default", "example", "examples", "title", "deprecated", "readOnly", "writeOnly", "$comment"}
_SCALAR_KEYWORDS = {
    "type",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "enum",
    "pattern",
    "format",
    "const",
}
_SCALAR_TYPES: dict[str, Callable[[Any], bool]] = {
    "integer": lambda v: type(v) is int,
    "number": lambda v: type(v) in (int, float),
    "string": lambda v: type(v) is str,
    "boolean": lambda v: type(v) is bool,
}


def compile_scalar_check(schema: dict[str, Any]) -> Callable[[Any], bool] | None:
    """A native validity check for a scalar schema with simple keywords, or None.

    Conservative by construction: every keyword it does not know, a union type, or a
    format other than ``uuid`` means no fast path. A False answer is not a verdict, only
    "ask jsonschema", so its checks may be stricter than the standard, never looser.
    """
    keys = {k for k in schema if k not in _ANNOTATIONS and not k.startswith("x-")}
    kind = schema.get("type")
    if keys - _SCALAR_KEYWORDS or not isinstance(kind, str) or kind not in _SCALAR_TYPES:
        return None
    if schema.get("format") not in (None, "uuid") or (schema.get("format") == "uuid" and kind != "string"):
        return None
    checks: list[Callable[[Any], bool]] = [_SCALAR_TYPES[kind]]
    if "minimum" in schema:
        low = schema["minimum"]
        checks.append(lambda v: v >= low)
    if "maximum" in schema:
        high = schema["maximum"]
        checks.append(lambda v: v <= high)
    if "exclusiveMinimum" in schema:
        xlow = schema["exclusiveMinimum"]
        checks.append(lambda v: v > xlow)
    if "exclusiveMaximum" in schema:
        xhigh = schema["exclusiveMaximum"]
        checks.append(lambda v: v < xhigh)
    if "minLength" in schema:
        shortest = schema["minLength"]
        checks.append(lambda v: len(v) >= shortest)
    if "maxLength" in schema:
        longest = schema["maxLength"]
        checks.append(lambda v: len(v) <= longest)
    if "pattern" in schema:
        try:
            regex = ecma_regex(schema["pattern"])
        except regress.RegressError:
            return None
        checks.append(lambda v: _found(regex, v))
    if "enum" in schema or "const" in schema:
        allowed = [(type(v), v) for v in (schema["enum"] if "enum" in schema else [schema["const"]])]
        checks.append(lambda v: (type(v), v) in allowed)
    if schema.get("format") == "uuid":
        checks.append(_is_uuid)

    def check(value: Any) -> bool:
        try:
            return all(test(value) for test in checks)
        except (TypeError, ValueError):
            return False

    return check


def _is_uuid(value: str) -> bool:
    # jsonschema's "uuid" format: parses as a UUID and has the hyphens of the canonical form.
    uuid_module.UUID(value)
    return len(value) == 36 and all(value[i] == "-" for i in (8, 13, 18, 23))


def _join(where: str, key: str) -> str:
    return key if where == "(root)" else f"{where}/{key}"


_TYPE_MESSAGES = {
    "integer": "A valid integer is required.",
    "number": "A valid number is required.",
    "boolean": "Must be a valid boolean.",
    "string": "Not a valid string.",
    "array": "Expected a list of items.",
    "object": "Expected a JSON object.",
    "null": "Must be null.",
}
_FORMAT_MESSAGES = {
    "uuid": "Must be a valid UUID.",
    "uri": "Enter a valid URL.",
    "date-time": "Must be a valid date-time.",
    "date": "Must be a valid date.",
}


def explain(error: Any) -> str:
    """One jsonschema error in the words an API uses ("A valid integer is required.")."""
    kind, value, schema = error.validator, error.validator_value, error.schema if isinstance(error.schema, dict) else {}
    if kind == "required":
        return "This field is required."
    if kind == "type":
        types = [value] if isinstance(value, str) else list(value)
        return " or ".join(_TYPE_MESSAGES.get(t, t) for t in types if t != "null") or _TYPE_MESSAGES["null"]
    if kind == "format":
        return _FORMAT_MESSAGES.get(value, f"Must be a valid {value}.")
    if kind == "minimum":
        return f"Ensure this value is greater than or equal to {value}."
    if kind == "maximum":
        return f"Ensure this value is less than or equal to {value}."
    if kind == "minLength":
        return "This field may not be blank." if value == 1 else f"Ensure this field has at least {value} characters."
    if kind == "maxLength":
        return f"Ensure this field has no more than {value} characters."
    if kind == "enum":
        return "Must be one of: " + ", ".join(json.dumps(v) for v in value) + "."
    if kind == "const":
        return f"Must be {json.dumps(value)}."
    if kind == "pattern":
        return f"Does not match the required pattern {value}."
    if kind in ("anyOf", "oneOf") and schema.get("description"):
        return "Not valid: " + " ".join(str(schema["description"]).split())
    return str(error.message)


@dataclass(frozen=True)
class Parameter:
    name: str
    location: str  # path | query | header | cookie
    required: bool
    schema: dict[str, Any]
    validator: SchemaValidator | None
    explode: bool = True

    @cached_property
    def types(self) -> frozenset[str]:
        return schema_types(self.schema)

    @cached_property
    def is_array(self) -> bool:
        return "array" in self.types

    @cached_property
    def item_types(self) -> frozenset[str]:
        items = self.schema.get("items")
        return schema_types(items) if isinstance(items, dict) else frozenset()


@dataclass(frozen=True)
class MediaType:
    media_type: str
    schema: dict[str, Any]
    validator: SchemaValidator | None

    @cached_property
    def property_types(self) -> dict[str, frozenset[str]]:
        """Declared types of each top-level property: form fields arrive as strings."""
        props = self.schema.get("properties") or {}
        return {name: schema_types(sub) for name, sub in props.items() if isinstance(sub, dict)}


@dataclass(frozen=True)
class RequestBody:
    required: bool
    content: dict[str, MediaType]

    def match(self, content_type: str) -> MediaType | None:
        base = content_type.split(";", 1)[0].strip().lower()
        if base in self.content:
            return self.content[base]
        for declared, media in self.content.items():
            if declared in ("*/*", "application/*") or (declared.endswith("/*") and base.startswith(declared[:-1])):
                return media
        return None


@dataclass(frozen=True)
class ResponseSpec:
    status: str  # "200", "4XX", "default"
    content: dict[str, MediaType]
    headers: tuple[str, ...] = ()


@dataclass
class Operation:
    """One (method, path) of one API, normalised."""

    api: str
    operation_id: str
    method: str  # upper case
    path: str  # the template as written in the spec, without the mount prefix
    parameters: tuple[Parameter, ...]
    body: RequestBody | None
    responses: dict[str, ResponseSpec]
    security: tuple[dict[str, list[str]], ...]  # alternatives; () means anonymous
    deprecated: bool = False
    extensions: dict[str, Any] = field(default_factory=dict)
    summary: str = ""

    def response_for(self, status: int) -> ResponseSpec | None:
        key = str(status)
        if key in self.responses:
            return self.responses[key]
        wildcard = f"{key[0]}XX"
        return self.responses.get(wildcard) or self.responses.get("default")

    @cached_property
    def reads_query(self) -> bool:
        return bool(self.extensions.get("x-medimock-form-from-query")) or any(param.location == "query" for param in self.parameters)

    @cached_property
    def documented_statuses(self) -> frozenset[str]:
        return frozenset(self.responses)

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"<Operation {self.api}:{self.operation_id} {self.method} {self.path}>"


def schema_types(schema: dict[str, Any] | None) -> frozenset[str]:
    """The JSON types a schema admits (looking through one level of anyOf/oneOf)."""
    if not isinstance(schema, dict):
        return frozenset()
    declared = schema.get("type")
    if isinstance(declared, str):
        return frozenset([declared])
    if isinstance(declared, list):
        return frozenset(declared)
    found: set[str] = set()
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key) or ():
            found |= schema_types(sub)
    if "enum" in schema and not found:
        for value in schema["enum"]:
            found.add(_json_type(value))
    return frozenset(found)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "string"


class ApiSpec:
    """One OpenAPI document, loaded once, with its operations and compiled validators."""

    def __init__(self, name: str, path: Path, document: dict[str, Any] | None = None) -> None:
        self.name = name
        self.path = path
        self.document = document if document is not None else read_document(path)
        self._uri = f"urn:medimock:{name}"
        self._registry: Registry = Registry().with_resource(self._uri, DRAFT202012.create_resource(self.document))
        self.operations: list[Operation] = list(self._build_operations())
        self.by_id: dict[str, Operation] = {}
        for operation in self.operations:
            if operation.operation_id in self.by_id:
                raise SpecError(f"{name}: duplicate operationId {operation.operation_id}")
            self.by_id[operation.operation_id] = operation

    # -- references -------------------------------------------------------------------
    def resolve(self, node: Any) -> Any:
        """Follow ``$ref`` chains of a non-schema object (parameter, response, body)."""
        seen = set()
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if ref in seen or not ref.startswith("#/"):
                raise SpecError(f"{self.name}: unsupported or cyclic reference {ref}")
            seen.add(ref)
            node = self.pointer(ref[1:])
        return node

    def pointer(self, pointer: str) -> Any:
        node: Any = self.document
        for raw in pointer.strip("/").split("/"):
            part = raw.replace("~1", "/").replace("~0", "~")
            try:
                node = node[int(part)] if isinstance(node, list) else node[part]
            except (KeyError, IndexError, ValueError) as exc:
                raise SpecError(f"{self.name}: broken reference #{pointer}") from exc
        return node

    def compile(self, pointer: str) -> SchemaValidator:
        """Compile the schema at ``pointer`` so that its local ``$ref``s resolve in the document."""
        schema = self.pointer(pointer)
        root = {"$ref": f"{self._uri}#{pointer}"}
        validator = EcmaDraft202012Validator(root, registry=self._registry, format_checker=_FORMAT_CHECKER)
        resolved = self.resolve_schema(schema)
        return SchemaValidator(pointer=pointer, validator=validator, schema=resolved, fast=compile_scalar_check(resolved))

    def resolve_schema(self, schema: Any) -> dict[str, Any]:
        """A schema with its top-level ``$ref`` chain followed (for type look-ups)."""
        resolved = self.resolve(schema)
        return resolved if isinstance(resolved, dict) else {}

    # -- operations ---------------------------------------------------------------------
    def _build_operations(self) -> Iterator[Operation]:
        paths = self.document.get("paths") or {}
        global_security = self.document.get("security") or []
        for template, raw_item in paths.items():
            item = self.resolve(raw_item)
            shared = item.get("parameters") or []
            for method in HTTP_METHODS:
                if method not in item:
                    continue
                raw = item[method]
                base = f"/paths/{_escape(template)}/{method}"
                operation_id = raw.get("operationId")
                if not operation_id:
                    raise SpecError(f"{self.name}: {method.upper()} {template} has no operationId")
                params = self._parameters(shared, f"/paths/{_escape(template)}/parameters", raw.get("parameters") or [], base)
                security = raw.get("security", global_security)
                extensions = {k: v for k, v in raw.items() if k.startswith("x-")}
                yield Operation(
                    api=self.name,
                    operation_id=operation_id,
                    method=method.upper(),
                    path=template,
                    parameters=tuple(params),
                    body=self._body(raw.get("requestBody"), f"{base}/requestBody"),
                    responses=self._responses(raw.get("responses") or {}, f"{base}/responses"),
                    security=tuple(security),
                    deprecated=bool(raw.get("deprecated")),
                    extensions=extensions,
                    summary=raw.get("summary", ""),
                )

    def _parameters(self, shared: list[Any], shared_base: str, own: list[Any], base: str) -> list[Parameter]:
        merged: dict[tuple[str, str], tuple[dict[str, Any], str]] = {}
        for index, raw in enumerate(shared):
            param = self.resolve(raw)
            merged[(param["name"], param["in"])] = (param, self._param_pointer(raw, f"{shared_base}/{index}"))
        for index, raw in enumerate(own):
            param = self.resolve(raw)
            merged[(param["name"], param["in"])] = (param, self._param_pointer(raw, f"{base}/parameters/{index}"))
        out = []
        for (name, location), (param, pointer) in merged.items():
            schema = param.get("schema")
            validator = self.compile(f"{pointer}/schema") if schema is not None else None
            out.append(
                Parameter(
                    name=name,
                    location=location,
                    required=bool(param.get("required")) or location == "path",
                    schema=self.resolve_schema(schema or {}),
                    validator=validator,
                    explode=param.get("explode", param.get("style", "form") == "form"),
                )
            )
        return out

    def _param_pointer(self, raw: Any, pointer: str) -> str:
        return raw["$ref"][1:] if isinstance(raw, dict) and "$ref" in raw else pointer

    def _body(self, raw: Any, pointer: str) -> RequestBody | None:
        if raw is None:
            return None
        if isinstance(raw, dict) and "$ref" in raw:
            pointer = raw["$ref"][1:]
        body = self.resolve(raw)
        return RequestBody(required=bool(body.get("required")), content=self._content(body.get("content") or {}, f"{pointer}/content"))

    def _content(self, content: dict[str, Any], pointer: str) -> dict[str, MediaType]:
        out = {}
        for media_type, media in content.items():
            media_pointer = f"{pointer}/{_escape(media_type)}"
            schema = (media or {}).get("schema")
            validator = self.compile(f"{media_pointer}/schema") if schema is not None else None
            out[media_type.lower()] = MediaType(media_type.lower(), self.resolve_schema(schema or {}), validator)
        return out

    def _responses(self, responses: dict[str, Any], pointer: str) -> dict[str, ResponseSpec]:
        out = {}
        for status, raw in responses.items():
            status = str(status)
            own_pointer = raw["$ref"][1:] if isinstance(raw, dict) and "$ref" in raw else f"{pointer}/{status}"
            response = self.resolve(raw)
            out[status] = ResponseSpec(
                status=status,
                content=self._content(response.get("content") or {}, f"{own_pointer}/content"),
                headers=tuple((response.get("headers") or {}).keys()),
            )
        return out


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


_PARAM = re.compile(r"\{([^{}/]+)\}")


def path_regex(template: str, prefix: str = "") -> re.Pattern[str]:
    """``/exams/{uuid}/data/`` -> a regex with a named group per path parameter."""
    pattern = ""
    position = 0
    for match in _PARAM.finditer(template):
        pattern += re.escape(template[position : match.start()])
        pattern += f"(?P<{_group(match.group(1))}>[^/]+)"
        position = match.end()
    pattern += re.escape(template[position:])
    return re.compile("^" + re.escape(prefix) + pattern + "$")


def _group(name: str) -> str:
    """Regex group names must be identifiers; map others reversibly."""
    return "p_" + "".join(ch if ch.isalnum() else f"_{ord(ch):x}_" for ch in name)


def group_to_name(group: str) -> str:
    raw = group[2:]
    return re.sub(r"_([0-9a-f]+)_", lambda m: chr(int(m.group(1), 16)), raw)


def available_specs() -> dict[str, Path]:
    """Every spec in medimock's specs/ folder, by API name (served even before its mock exists)."""
    from medimock.resources import specs_dir

    root = specs_dir()
    return {path.parent.name: path for path in sorted(root.glob("*/openapi.yaml"))}
