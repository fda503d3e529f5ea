"""/setting/set, /setting/get and /setting/get/all, as the document's Setting commands describe them: "key • The key to
store the value under", "value • The value to store" (/setting/set), "value • The setting value" (/setting/get),
"settings • The hash of all non-temporary user settings" (/setting/get/all) and "Use the value __DELETE__ to delete a
setting".

The suite's administrator stores a fresh value under a key of the suite's own (``medimock_contract_setting``, the same
each run), reads it back and finds it in the hash of all settings, then deletes it with __DELETE__: it is gone from the
hash, and the target keeps no setting of the suite's. A temp_ key ("If the key name begins with temp_ it is only
available for the session") is read back in its session and is not among the non-temporary settings.
"""

from __future__ import annotations

import uuid

from medimock.ambra_contract import MAIN, SUITE_SETTING, delete_setting, ok
from medimock.verdict import Document, expect

SETTING = Document.of(
    Document(MAIN, "key • The key to store the value under", lines=2),  # key, value
    Document(MAIN, "value • The setting value"),
)
ALL = Document(MAIN, "settings • The hash of all non-temporary user settings")
DELETE = Document(MAIN, "Use the value __DELETE__ to delete a setting", after="URL /setting/set")
TEMPORARY = Document.of(SETTING, ALL)
KEY = SUITE_SETTING
TEMPORARY_KEY = f"temp_{SUITE_SETTING}"


def stored_and_listed(ambra, key: str, value: str, what: str) -> object:
    """/setting/set ``key``, /setting/get must answer ``value``; the /setting/get/all hash that follows."""
    ok(ambra, "/setting/set", {"key": key, "value": value}, SETTING, f"/setting/set {key}")
    got = ok(ambra, "/setting/get", {"key": key}, SETTING, f"/setting/get {key}{what}").get("value")
    expect(SETTING, got == value, f"/setting/get {key}{what} answers the value /setting/set stored ({value!r}), not {got!r}")
    return ok(ambra, "/setting/get/all", {}, ALL, "/setting/get/all").get("settings")


def test_a_setting_set_is_the_setting_got_until_deleted(ambra):
    key = KEY
    value = f"value {uuid.uuid4().hex[:8]}"
    try:
        every = stored_and_listed(ambra, key, value, "")
        expect(ALL, isinstance(every, dict) and every.get(key) == value, f"/setting/get/all holds {key}: {value!r}, not {every!r}")
        ok(ambra, "/setting/set", {"key": key, "value": "__DELETE__"}, DELETE, f"/setting/set {key} __DELETE__")
        after = ok(ambra, "/setting/get/all", {}, DELETE, "/setting/get/all after the delete").get("settings")
        expect(DELETE, isinstance(after, dict) and key not in after, f"{key} deleted with __DELETE__ is not among the settings: {after!r}")
    finally:
        delete_setting(ambra, key)


def test_a_temporary_setting_is_the_sessions_only(ambra):
    value = f"draft {uuid.uuid4().hex[:8]}"
    try:
        every = stored_and_listed(ambra, TEMPORARY_KEY, value, " in its session")
        expect(ALL, isinstance(every, dict) and TEMPORARY_KEY not in every, f"a temp_ key is not a non-temporary setting: {every!r}")
    finally:
        delete_setting(ambra, TEMPORARY_KEY)
