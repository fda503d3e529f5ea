"""A dictionary's entries and attachments: /dictionary/entry/add, /dictionary/entries, /dictionary/entry/delete,
/dictionary/attach, /dictionary/attach/set, /dictionary/detach, and /dictionary/get's ``attachments``.

- An entry is "Add or update[d]": its ``lookup`` ("The JSON array of the lookup values to add") must hold one value
  per lookup field of the dictionary (INVALID_LOOKUP), and ``replace`` is a JSON array (NOT_LIST). Adding the same
  lookup values again replaces the entry. With ``regexp`` ("An integer value that indicates that this entry is a
  regular expression") ``lookup`` is a regular expression instead (INVALID_REGEXP naming it when it does not compile).
- /dictionary/entries answers each entry's ``lookup``, ``replace``, ``md5`` ("The md5 of the lookup values") and
  ``regexp`` ("The regexp ordering number"; null for a plain entry), all of them or the one ``lookup`` names.
- /dictionary/entry/delete takes the lookup values (or the regular expression); an entry that is not there is NOT_FOUND
  ("The dictionary or entry can not be found").
- /dictionary/attach answers "uuid • Id of the attachment" (a new id, not the dictionary's); /dictionary/attach/set and
  /dictionary/detach take that id (NOT_FOUND "The dictionary attachment can not be found" for any other).
- /dictionary/get lists the attachments ("attachments • An array of the attachments the dictionary has").

medimock conventions, where the document is silent: the md5 is that of the lookup values joined by one space ("the
space concatenated value of the lookup field(s)", as the document says of regular expressions), lower-cased when the
dictionary is not case sensitive, so that lookups differing only in case are one entry; a regular expression's md5 is
that of the expression. Entries are listed in the order they were first added; Python's ``re`` judges whether a
regular expression compiles. Entries are not applied to the records of the account (the mock runs no dictionary).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson

from ...http import MockResponse
from .call import Call, ambra_error
from .engine import check_references, command, do_get, ok
from .shapes import new_uuid

ENTRY = "dictionary_entry"
ATTACHMENT = "dictionary_attach"
# an attachment's settings, as /dictionary/attach and /dictionary/attach/set take them
SETTINGS = ("sequence", "skip_if_lookup_unchanged", "skip_if_replace_has_value", "add_if_no_match", "approve_if_match",
            "run_once", "delay", "global_counter")  # fmt: skip
# what /dictionary/get documents of each attachment
LISTED = ("sequence", "skip_if_lookup_unchanged", "skip_if_replace_has_value", "add_if_no_match", "approve_if_match")


def _dictionary(call: Call) -> dict[str, Any]:
    found = call.db.object(str(call.get("uuid")), "dictionary")
    if found is None:
        raise ambra_error("NOT_FOUND", "uuid")
    call.require_permission(found.get("__account_id"))
    return found


def _values(call: Call, raw: Any) -> list[Any] | None:
    """The lookup values of a JSON array; None when ``raw`` is not JSON (a regular expression)."""
    if isinstance(raw, list):
        return raw
    try:
        parsed = orjson.loads(str(raw))
    except orjson.JSONDecodeError:
        return None
    if not isinstance(parsed, list):
        raise call.error("NOT_LIST", subtype="lookup")
    return parsed


def _md5(dictionary: dict[str, Any], lookup: Any, values: list[Any] | None) -> str:
    """The md5 of the lookup values (joined by a space, lower-cased unless the dictionary is case sensitive), or of the
    regular expression when there are no values."""
    if values is None:
        joined = str(lookup)
    else:
        joined = " ".join("" if value is None else str(value) for value in values)
        if not dictionary.get("case_sensitive"):
            joined = joined.lower()
    return hashlib.md5(joined.encode()).hexdigest()  # noqa: S324 - the document's md5 of the lookup values, not security


def _key(md5: str, values: list[Any] | None) -> str:
    """An entry's key under its dictionary: its md5, apart for a regular expression."""
    return md5 if values is not None else "regexp:" + md5


def _entry(stored: dict[str, Any]) -> dict[str, Any]:
    return {name: stored.get(name) for name in ("lookup", "replace", "md5", "regexp")}


@command("/dictionary/entry/add")
def entry_add(call: Call) -> MockResponse:
    call.check()
    dictionary = _dictionary(call)
    lookup, regexp = call.get("lookup"), call.get("regexp")
    if regexp is not None:
        try:
            re.compile(str(lookup))
        except re.error as exc:
            raise ambra_error("INVALID_REGEXP", str(lookup)) from exc
        values, shown = None, [str(lookup)]
    else:
        values = _values(call, lookup)
        if values is None:
            raise call.error("NOT_LIST", subtype="lookup")
        fields = dictionary.get("lookup")
        if isinstance(fields, list) and len(values) != len(fields):
            raise ambra_error("INVALID_LOOKUP", "lookup")
        shown = values
    md5 = _md5(dictionary, lookup, values)
    replace = call.get("replace")
    data = {"lookup": shown, "replace": replace if isinstance(replace, list) else [], "md5": md5, "regexp": regexp}
    key = _key(md5, values)
    found = call.db.child(ENTRY, dictionary["uuid"], key)
    if found is not None:
        call.db.update(found["uuid"], data)
    else:
        call.db.insert(ENTRY, new_uuid(), data, parent_id=dictionary["uuid"], key=key)
    return ok()


@command("/dictionary/entries")
def entries(call: Call) -> MockResponse:
    call.check()
    dictionary = _dictionary(call)
    stored = call.db.objects("kind = ? AND parent_id = ?", [ENTRY, dictionary["uuid"]])
    lookup = call.get("lookup")
    if lookup is not None and lookup != "":
        values = _values(call, lookup)
        if values is None:
            raise call.error("NOT_LIST", subtype="lookup")
        wanted = _md5(dictionary, lookup, values)
        stored = [entry for entry in stored if entry.get("md5") == wanted and entry.get("regexp") is None]
    return ok({"entries": [_entry(entry) for entry in stored]})


@command("/dictionary/entry/delete")
def entry_delete(call: Call) -> MockResponse:
    call.check()
    dictionary = _dictionary(call)
    lookup = call.get("lookup")
    values = _values(call, lookup)
    found = call.db.child(ENTRY, dictionary["uuid"], _key(_md5(dictionary, lookup, values), values))
    if found is None:
        raise ambra_error("NOT_FOUND", "lookup")
    call.db.delete(found["uuid"])
    return ok()


def _settings(call: Call) -> dict[str, Any]:
    return {name: call.values[name] for name in SETTINGS if call.values.get(name) not in (None, "")}


@command("/dictionary/attach")
def attach(call: Call) -> MockResponse:
    call.check()
    check_references(call)
    dictionary = _dictionary(call)
    data: dict[str, Any] = {}
    for name, kind in (("account_id", "account"), ("namespace_id", "namespace")):
        value = call.get(name)
        if isinstance(value, str) and value:
            target = call.db.object(value, kind)
            if target is None:
                raise ambra_error("NOT_FOUND", name)
            data = {name: value, "name": target.get("name")}
            break
    uuid = new_uuid()
    call.db.insert(ATTACHMENT, uuid, {**data, **_settings(call)}, parent_id=dictionary["uuid"])
    return ok({"uuid": uuid})


def _attachment(call: Call) -> dict[str, Any]:
    found = call.db.object(str(call.get("uuid")), ATTACHMENT)
    if found is None:
        raise ambra_error("NOT_FOUND", "uuid")
    dictionary = call.db.object(str(found.get("__parent_id") or ""), "dictionary") or {}
    call.require_permission(dictionary.get("__account_id"))
    return found


@command("/dictionary/attach/set")
def attach_set(call: Call) -> MockResponse:
    call.check()
    found = _attachment(call)
    call.db.update(found["uuid"], _settings(call))
    return ok()


@command("/dictionary/detach")
def detach(call: Call) -> MockResponse:
    call.check()
    found = _attachment(call)
    call.db.delete(found["uuid"])
    return ok()


@command("/dictionary/get")
def dictionary_get(call: Call) -> MockResponse:
    call.check()
    response = do_get(call, call.catalog.resources["dictionary"])
    if isinstance(response.body, dict):
        attachments = call.db.objects("kind = ? AND parent_id = ?", [ATTACHMENT, str(response.body.get("uuid"))])
        response.body["attachments"] = [
            {"uuid": a["uuid"], **{k: a[k] for k in ("account_id", "namespace_id", "name") if k in a}, **{k: a.get(k) for k in LISTED}}
            for a in attachments
        ]
    return response
