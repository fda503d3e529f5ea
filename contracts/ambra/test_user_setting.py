"""/setting/set then /setting/get: the document's "key • The key to store the value under", "value • The value to
store" (/setting/set) and "value • The setting value" (/setting/get). The suite's administrator stores a fresh value
under a key of the suite's own (not temp_, which the document keeps for the session only) and reads the same value
back. The document has no command to remove a user's setting, so the key stays set; it is always the same key
(``medimock_contract_setting``), so however often the suite runs, a real server keeps one such setting, overwritten
each run, not one more per run.
"""

from __future__ import annotations

import uuid

from medimock.ambra_contract import MAIN, ok
from medimock.verdict import Document, expect

SETTING = Document.of(
    Document(MAIN, "key • The key to store the value under", lines=2),  # key, value
    Document(MAIN, "value • The setting value"),
)
KEY = "medimock_contract_setting"


def test_a_setting_set_is_the_setting_got(ambra):
    key = KEY
    value = f"value {uuid.uuid4().hex[:8]}"
    ok(ambra, "/setting/set", {"key": key, "value": value}, SETTING, f"/setting/set {key}")
    got = ok(ambra, "/setting/get", {"key": key}, SETTING, f"/setting/get {key}").get("value")
    expect(SETTING, got == value, f"/setting/get {key} answers the value /setting/set stored ({value!r}), not {got!r}")
