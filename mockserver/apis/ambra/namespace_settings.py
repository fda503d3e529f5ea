"""/namespace/settings: "Set/get the settings for the namespace".

The command's parameters are of two kinds, which the document separates by "-- The following account settings can be
over-ridden in the namespace --": the namespace's own settings (``no_dup_share``, ``study_field_flags``...) and the
account settings a namespace may override (``reverse_patient_name``, ``ui_json``...). Both are read from the document.

- The settings passed are stored in the namespace (its ``settings``, which /account/settings with ``namespace_id``
  and the viewer settings read as the namespace's overrides); "Use the value __DELETE__ to delete an
  account-overriden setting". __DELETE__ of a namespace's own setting, which overrides nothing, is NO_NAMESPACE_OVERRIDE
  ("The setting does not allow a namespace override for __DELETE__").
- The reply: "no_dup_share • The setting value", "study_field_flags • The setting value" and the "Account settings that
  have been over-ridden in the namespace", after the change.
- NOT_FOUND "The namespace was not found". "Permission account_edit or ownership for a PHR namespace to modify the
  settings": NOT_PERMITTED otherwise, when a setting is passed.

medimock conventions, where the document is silent: without a setting passed (a get), the namespace must be one the
caller belongs to (NOT_PERMITTED otherwise); a namespace setting never set answers 0 (``no_dup_share``) and {}
(``study_field_flags``).
"""

from __future__ import annotations

import functools
import re
from typing import Any

from ...http import MockResponse
from .account_settings import DOCUMENT, stored
from .call import Call, ambra_error
from .engine import command, ok

DELETE = "__DELETE__"
_PARAMETER = re.compile(r"^(?:Parameters )?([a-z][a-z0-9_]*)\**\s+•")
DEFAULTS = {"no_dup_share": 0, "study_field_flags": {}}  # the two settings the reply names


@functools.cache
def parameters() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The namespace's own settings and the account settings it may override, in the document's order."""
    lines = DOCUMENT.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "URL /namespace/settings")
    own: list[str] = []
    overrides: list[str] = []
    current = own
    for line in lines[start + 1 :]:
        text = line.strip()
        if text.startswith("Returns"):
            break
        if text.startswith("-- The following account settings can be over-ridden"):
            current = overrides
            continue
        match = _PARAMETER.match(text)
        if match and match.group(1) not in ("sid", "uuid"):
            current.append(match.group(1))
    return tuple(own), tuple(overrides)


def _namespace(call: Call) -> dict[str, Any]:
    namespace = call.db.object(str(call.get("uuid")), "namespace")
    if namespace is None:
        raise ambra_error("NOT_FOUND", "uuid")
    return namespace


def _may_modify(call: Call, namespace: dict[str, Any]) -> bool:
    if namespace.get("type") == "user_id" and namespace.get("type_uuid") == call.user_id:  # a PHR namespace of one's own
        return True
    account = namespace.get("__account_id") or namespace.get("type_uuid")
    return call.permits(("account_edit",), str(account) if account else None)


@command("/namespace/settings")
def namespace_settings(call: Call) -> MockResponse:
    own, overrides = parameters()
    deleted = [name for name in (*own, *overrides) if call.values.get(name) == DELETE]
    for name in deleted:  # "__DELETE__" is not a flag, integer or JSON value: read before the values are checked
        call.values.pop(name)
    call.check()
    call.require_session()
    namespace = _namespace(call)
    changes = {name: call.values[name] for name in (*own, *overrides) if call.values.get(name) not in (None, "")}
    if changes or deleted:
        if not _may_modify(call, namespace):
            raise ambra_error("NOT_PERMITTED", "account_edit")
        refused = [name for name in deleted if name in own]
        if refused:
            raise ambra_error("NO_NAMESPACE_OVERRIDE", refused[0])
    elif call.user.get("sysadmin") != 1 and namespace["uuid"] not in call.namespaces():
        raise ambra_error("NOT_PERMITTED", "uuid")
    settings = {name: value for name, value in stored(namespace.get("settings")).items() if name not in deleted} | changes
    if changes or deleted:
        call.db.update(namespace["uuid"], {"settings": settings})
    overridden = {name: settings[name] for name in overrides if name in settings}
    return ok({name: settings.get(name, default) for name, default in DEFAULTS.items()} | overridden)
