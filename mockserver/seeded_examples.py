"""A served spec whose examples are the mock's seeded values, so that Swagger UI's "Try it out" returns data.

The vendor documents' examples name customers, studies and orders that do not exist in the mock
(the Poll API's ``customer_id`` example gave ``count: 0``). Each API says which seeded value
fits which parameter (``ApiDefinition.docs_examples``); ``seeded`` returns a copy of the document
with those values as the ``example`` of the parameters and form fields of that name, and of JSON
request bodies. The document itself is never changed (YAML anchors share nodes between operations,
so everything on the way to a changed node is copied), and what no seeded value fits keeps the
document's example.
"""

from __future__ import annotations

import copy
from typing import Any

from .api import DocsExamples

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def seeded(document: dict[str, Any], examples: DocsExamples) -> dict[str, Any]:
    """A copy of ``document`` with the seeded values as examples (see the module's docstring)."""
    out = dict(document)
    components = (document.get("components") or {}).get("parameters") or {}
    paths = {}
    for path, item in (document.get("paths") or {}).items():
        new_item = dict(item)
        for method in _METHODS:
            operation = item.get(method)
            if isinstance(operation, dict):
                new_item[method] = _operation(operation, examples, components, item.get("parameters") or [])
        paths[path] = new_item
    out["paths"] = paths
    return out


def _value(examples: DocsExamples, operation_id: str, name: str) -> tuple[bool, Any]:
    for key in (f"{operation_id}.{name}", name):
        if key in examples.values:
            return True, examples.values[key]
    return False, None


def _operation(operation: dict[str, Any], examples: DocsExamples, components: dict[str, Any], shared: list[Any]) -> dict[str, Any]:
    operation_id = str(operation.get("operationId", ""))
    new = dict(operation)
    own = operation.get("parameters") or []
    own_names = {(p.get("in"), p.get("name")) for p in (_resolve(p, components) for p in own) if p}
    # path-level parameters an operation does not override are copied into it when a seeded value applies
    inherited = [p for p in shared if (_resolve(p, components) or {}).get("name") and (_key(p, components) not in own_names)]
    parameters, changed = [], False
    for parameter in [*own, *inherited]:
        resolved = _resolve(parameter, components)
        found, value = _value(examples, operation_id, str((resolved or {}).get("name", "")))
        if resolved is not None and found:
            parameter = {**resolved, "example": value}
            parameter.pop("examples", None)
            if value is None:  # a parameter to leave empty (one of two exclusive ones): no example at all
                del parameter["example"]
            changed = True
        parameters.append(parameter)
    if changed:
        new["parameters"] = parameters
    body = operation.get("requestBody")
    if isinstance(body, dict) and isinstance(body.get("content"), dict):
        content = dict(body["content"])
        for media_type, media in body["content"].items():
            if not isinstance(media, dict):
                continue
            if media_type == "application/json" and operation_id in examples.bodies:
                media = {**media, "example": copy.deepcopy(examples.bodies[operation_id])}
                media.pop("examples", None)
            elif media_type in _FORMS and isinstance((media.get("schema") or {}).get("properties"), dict):
                media = {**media, "schema": _form_schema(media["schema"], examples, operation_id)}
            content[media_type] = media
        new["requestBody"] = {**body, "content": content}
    return new


def _form_schema(schema: dict[str, Any], examples: DocsExamples, operation_id: str) -> dict[str, Any]:
    properties = {}
    for name, prop in schema["properties"].items():
        found, value = _value(examples, operation_id, name)
        if found and isinstance(prop, dict):
            prop = {key: item for key, item in prop.items() if key not in ("example", "examples")}
            if value is not None:
                prop["example"] = value
        properties[name] = prop
    return {**schema, "properties": properties}


def _resolve(parameter: Any, components: dict[str, Any]) -> dict[str, Any] | None:
    if not isinstance(parameter, dict):
        return None
    ref = parameter.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/parameters/"):
        found = components.get(ref.rsplit("/", 1)[1])
        return found if isinstance(found, dict) else None
    return parameter


def _key(parameter: Any, components: dict[str, Any]) -> tuple[Any, Any]:
    resolved = _resolve(parameter, components) or {}
    return resolved.get("in"), resolved.get("name")
