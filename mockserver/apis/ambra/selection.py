"""Field selection, as the Fields section says it works for every command: ``fields.OBJECT`` (a JSON
array) limits the fields of each OBJECT a reply holds (``fields.account=["uuid","name"]`` on
/account/list: every account of ``accounts``; on /account/get: the account the reply is), and
``fields._top`` limits the top-level fields of the reply (``status`` is always kept).

Where each object sits in a command's reply comes from the spec (``x-ambra-field-objects``:
``{"study": ["studies[]"]}``). It is applied to the reply of every command, the generic engine's
and the hand-written ones alike, after the command has run. A reply it limited is marked
``partial``: strict mode then does not ask for the fields the schema requires and the caller
left out.
"""

from __future__ import annotations

from typing import Any

from ...http import MockResponse
from .call import Call


def wanted(call: Call) -> dict[str, set[str]]:
    """The selections of a call: object name (``_top`` for the top level) -> the fields asked for."""
    found: dict[str, set[str]] = {}
    for key, value in call.values.items():
        if not key.startswith("fields.") or value in (None, ""):
            continue
        name = key[len("fields.") :]
        if name != "_top" and name not in call.plan.field_objects:
            continue
        fields = call.json(key) if isinstance(value, str) else value  # check() parsed it; a GET's may still be text
        if isinstance(fields, list):
            found[name] = {str(f) for f in fields}
    return found


def requested(call: Call) -> bool:
    """Whether the call asks for a selection (a handler that serves pre-encoded pages then builds objects)."""
    return any(key.startswith("fields.") and value not in (None, "") for key, value in call.values.items())


def apply(call: Call, response: MockResponse) -> MockResponse:
    """The reply with the call's selections applied (unchanged when there are none)."""
    if response.raw or response.status != 200 or not isinstance(response.body, dict):
        return response
    selections = wanted(call)
    if not selections:
        return response
    body = dict(response.body)
    for name, fields in selections.items():
        if name == "_top":
            continue
        for where in call.plan.field_objects.get(name, ()):
            body = _limit(body, where.split(".") if where else [], fields)
    if "_top" in selections:
        body = {k: v for k, v in body.items() if k == "status" or k in selections["_top"]}
    return MockResponse(response.status, body, response.headers, response.content_type, partial=True)


def _limit(node: Any, path: list[str], fields: set[str]) -> Any:
    """``node`` with the objects at ``path`` (``studies[]``, ``namespaces[]``, a key) limited to ``fields``."""
    if not path:
        if not isinstance(node, dict):
            return node
        return {k: v for k, v in node.items() if k in fields or k == "status"}
    head, rest = path[0], path[1:]
    array = head.endswith("[]")
    key = head[:-2] if array else head
    if not isinstance(node, dict) or key not in node:
        return node
    value = node[key]
    if array and isinstance(value, list):
        value = [_limit(item, rest, fields) for item in value]
    elif not array:
        value = _limit(value, rest, fields)
    return {**node, key: value}
