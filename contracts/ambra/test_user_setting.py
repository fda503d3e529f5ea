"""/setting/set then /setting/get: the document's "key • The key to store the value under", "value • The value to
store" (/setting/set) and "value • The setting value" (/setting/get). The suite's administrator stores a value under a
key of its own (a fresh name, not temp_, which the document keeps for the session only) and reads the same value
back. The key is left set: the document has no command to remove a user's setting.
"""

from __future__ import annotations

import uuid

from medimock.ambra_contract import MAIN, ok
from medimock.verdict import Document, expect

SETTING = Document.of(
    Document(MAIN, "key • The key to store the value under", lines=2),  # key, value
    Document(MAIN, "value • The setting value"),
)


def test_a_setting_set_is_the_setting_got(ambra):
    key = f"contract_setting_{uuid.uuid4().hex[:8]}"
    value = f"value {uuid.uuid4().hex[:8]}"
    ok(ambra, "/setting/set", {"key": key, "value": value}, SETTING, f"/setting/set {key}")
    got = ok(ambra, "/setting/get", {"key": key}, SETTING, f"/setting/get {key}").get("value")
    expect(SETTING, got == value, f"/setting/get {key} answers the value /setting/set stored ({value!r}), not {got!r}")
