"""/study/viewer3/settings for a study of the suite's own: "The rest of the fields are the same as /user/get" (the
caller's uuid, name and email... as /user/get answers them), "settings • JSON hash of the requested settings" (the value
the suite stored via /setting/set under its one key, ``medimock_contract_setting``, deleted afterwards as
test_user_setting.py does), and
"NOT_FOUND • The study can not be found" for a storage triplet no study has. /study/viewer/settings refuses that
triplet the same way. The study is deleted afterwards.
"""

from __future__ import annotations

import json
import uuid

from medimock.ambra_contract import MAIN, SUITE_SETTING, delete_setting, ok, own_study, refused
from medimock.verdict import Document, expect

VIEWER3 = "URL /study/viewer3/settings"
SAME_AS_USER = Document(MAIN, "The rest of the fields are the same as /user/get", after=VIEWER3)
SETTINGS = Document.of(
    Document(MAIN, "settings • A JSON list of user settings set via /setting/set to return (optional)", after=VIEWER3),
    Document(MAIN, "settings • JSON hash of the requested settings (optional)", after=VIEWER3),
)
NOT_FOUND = Document(MAIN, "NOT_FOUND • The study can not be found", after=VIEWER3)
VIEWER_NOT_FOUND = Document(MAIN, "NOT_FOUND • The study can not be found", after="URL /study/viewer/settings")
KEY = SUITE_SETTING
USER_FIELDS = ("uuid", "name", "first", "last", "email", "namespace_id", "sysadmin", "support")


def test_viewer3_settings_hold_the_callers_user_fields_and_the_requested_settings(ambra):
    me = ok(ambra, "/user/get", {}, SAME_AS_USER, "/user/get of the suite's user")
    value = f"viewer3 {uuid.uuid4().hex[:8]}"
    ok(ambra, "/setting/set", {"key": KEY, "value": value}, SETTINGS, f"/setting/set {KEY}")
    try:
        with own_study(ambra, "VIEWER^SETTINGS") as study:
            if study:
                viewer3_holds_user_fields_and_setting(ambra, study, me, value)
    finally:
        delete_setting(ambra)


def viewer3_holds_user_fields_and_setting(ambra, study, me, value):
    got = ok(ambra, "/study/viewer3/settings", {"study_id": study, "settings": json.dumps([KEY])}, SAME_AS_USER, "/study/viewer3/settings")
    for name in USER_FIELDS:
        if name in me:
            expect(
                SAME_AS_USER,
                got.get(name) == me[name],
                f"{name}: /study/viewer3/settings answers /user/get's {me[name]!r}, not {got.get(name)!r}",
            )
    settings = got.get("settings")
    expect(SETTINGS, isinstance(settings, dict) and settings.get(KEY) == value, f"settings holds {KEY}: {value!r}, not {settings!r}")


def test_viewer_settings_of_a_study_no_one_has_are_not_found(ambra):
    namespace = ambra.namespace_id()
    nowhere = {"study_uid": f"2.25.{uuid.uuid4().int}", "storage_namespace": namespace, "phi_namespace": namespace}
    refused(ambra, "/study/viewer3/settings", nowhere, "NOT_FOUND", NOT_FOUND, "/study/viewer3/settings of a study_uid no study has")
    refused(ambra, "/study/viewer/settings", nowhere, "NOT_FOUND", VIEWER_NOT_FOUND, "/study/viewer/settings of a study_uid no study has")
