"""The Ambra mock behaves as the document says: sessions and their limits, OAuth Bearer
tokens and basic authentication, 401 for a bad session, 412 error hashes naming what is
wrong, role permissions, studies (add/get/set/delete, share, approve, tags, audit),
/bundle, and GET equal to POST. Strict mode is on throughout."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from mockserver.api import SPECS_DIR
from mockserver.app import create_app
from mockserver.config import MockConfig
from mockserver.spec import read_document

API = "/api/v3"


class Ambra:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.client = app.test_client()
        self.creds = self.client.get("/__mock__/credentials").get_json()["ambra"]

    def call(self, path: str, http: str = "POST", headers: dict[str, str] | None = None, **params: Any) -> tuple[int, Any]:
        if http == "GET":
            reply = self.client.get(API + path, query_string=params, headers=headers)
        else:
            reply = self.client.post(API + path, data=params, headers=headers)
        return reply.status_code, reply.get_json(silent=True)

    def login(self, who: str = "admin") -> str:
        login, password = {
            "admin": (self.creds["login"], self.creds["password"]),
            "user": (self.creds["user_login"], self.creds["user_password"]),
            "phr": (self.creds["phr_login"], self.creds["phr_password"]),
        }[who]
        status, body = self.call("/session/login", login=login, password=password)
        assert status == 200, body
        return str(body["sid"])

    def ok(self, path: str, http: str = "POST", **params: Any) -> Any:
        status, body = self.call(path, http, **params)
        assert status == 200 and body["status"] == "OK", (path, status, body)
        return body

    def error(self, path: str, http: str = "POST", **params: Any) -> Any:
        status, body = self.call(path, http, **params)
        assert status == 412 and body["status"] == "ERROR", (path, status, body)
        return body


@pytest.fixture
def ambra(tmp_path: Any) -> Iterator[Ambra]:
    app = create_app(MockConfig(apis=("ambra",), strict=True, db=str(tmp_path / "db.sqlite3")))
    yield Ambra(app)
    app.extensions["medimock"].close()


# -- sessions -------------------------------------------------------------------------------------
def test_login_by_email_or_by_vanity_and_account_login(ambra: Ambra) -> None:
    creds = ambra.creds
    by_email = ambra.ok("/session/login", login=creds["login"], password=creds["password"])
    assert by_email["uuid"] == creds["user_uuid"] and len(by_email["sid"]) == 36
    by_vanity = ambra.ok("/session/login", login=creds["account_login"], vanity=creds["vanity"], password=creds["password"])
    assert by_vanity["uuid"] == creds["user_uuid"] and by_vanity["sid"] != by_email["sid"]
    assert ambra.ok("/session/login", email=creds["email"], password=creds["password"])["uuid"] == creds["user_uuid"]
    assert ambra.error("/session/login", login=creds["login"], password="wrong")["error_type"] == "INVALID_CREDENTIALS"
    assert ambra.call("/session/login", "GET", login=creds["login"], password=creds["password"])[0] == 405


def test_session_user_ttl_uuid_and_logout(ambra: Ambra) -> None:
    sid = ambra.login()
    user = ambra.ok("/session/user", sid=sid)
    assert user["uuid"] == ambra.creds["user_uuid"] and user["email"] == ambra.creds["email"]
    assert ambra.creds["namespace_id"] in [ns["uuid"] for ns in user["namespaces"]]
    assert "_password_hash" not in user and "_salt" not in user
    assert 179 <= ambra.ok("/session/ttl", "GET", sid=sid)["ttl"] <= 180
    assert len(ambra.ok("/session/uuid")["uuid"]) == 36
    ambra.ok("/session/logout", sid=sid)
    assert ambra.call("/session/user", sid=sid) == (401, {"status": "ERROR", "error_type": "NO_SESSION"})


def test_session_user_answers_the_settings_set_via_setting_set(ambra: Ambra) -> None:
    """/session/user's settings: "A JSON list of user settings set via /setting/set to return", answered as "JSON hash of
    the requested settings": the values this user set (another user's are not its own), null for a key never set."""
    sid, member = ambra.login(), ambra.login("user")
    ambra.ok("/setting/set", sid=sid, key="viewer_layout", value="2x2")
    asked = '["viewer_layout", "never_set"]'
    assert ambra.ok("/session/user", sid=sid, settings=asked)["settings"] == {"viewer_layout": "2x2", "never_set": None}
    assert ambra.ok("/session/user", sid=member, settings=asked)["settings"] == {"viewer_layout": None, "never_set": None}


def test_viewer3_settings_are_the_callers_user_fields_and_the_study_accounts_flags(ambra: Ambra) -> None:
    """/study/viewer3/settings: "The rest of the fields are the same as /user/get" (the caller's, not placeholders), the
    account flags of the study's account (set via /account/set, else the document's defaults), the requested settings,
    the user's viewer3_config; a study named by a storage triplet no study has is NOT_FOUND."""
    sid = ambra.login()
    study = ambra.ok("/study/list", sid=sid, **{"page.rows": 1, "filter.phi_namespace.equals": ambra.creds["namespace_id"]})["studies"][0]
    me = ambra.ok("/user/get", sid=sid)
    got = ambra.ok("/study/viewer3/settings", sid=sid, study_id=study["uuid"])
    assert {k: got.get(k) for k in me if k != "status"} == {k: v for k, v in me.items() if k != "status"}
    assert (got["viewer_study_page_link_visible"], got["enable_dicom_tag_customfields"], got["account_config"]) == (1, 0, "")
    assert "no_edit_dicom_tags" not in got and "accelerators" not in got and "settings" not in got
    ambra.ok("/account/set", sid=sid, uuid=ambra.creds["account_id"],
             settings='{"enable_dicom_tag_customfields": 1, "probe_for_accelerator": 1, "viewer3_config": "{}"}')  # fmt: skip
    ambra.ok("/setting/set", sid=sid, key="viewer3_config", value='{"layout": "1x2"}')
    by_triplet = {k: study[k] for k in ("study_uid", "storage_namespace", "phi_namespace")}
    got = ambra.ok("/study/viewer3/settings", sid=sid, settings='["viewer3_config", "never_set"]', **by_triplet)
    assert (got["enable_dicom_tag_customfields"], got["no_edit_dicom_tags"], got["accelerators"], got["account_config"]) == (
        1,
        [],
        [],
        "{}",
    )
    assert got["user_config"] == '{"layout": "1x2"}' and got["settings"] == {"viewer3_config": '{"layout": "1x2"}', "never_set": None}
    member = ambra.ok("/study/viewer3/settings", sid=ambra.login("user"), study_id=study["uuid"])
    assert member["uuid"] == ambra.creds["user_uuid_user"] and member["user_config"] == ""  # the caller's own, not the admin's
    unknown = ambra.error("/study/viewer3/settings", sid=sid, **{**by_triplet, "study_uid": "2.25.404"})
    assert (unknown["error_type"], unknown["error_subtype"]) == ("NOT_FOUND", "study_uid")


def test_viewer_settings_are_the_study_accounts_flags(ambra: Ambra) -> None:
    """/study/viewer/settings: each "Value for the account flag" is the study's account's setting, else the default of the
    document's Account settings table (which tests/mockserver/test_ambra.py reads back below)."""
    sid = ambra.login()
    study = ambra.ok("/study/list", sid=sid, **{"page.rows": 1, "filter.phi_namespace.equals": ambra.creds["namespace_id"]})["studies"][0]
    got = ambra.ok("/study/viewer/settings", sid=sid, study_id=study["uuid"])
    assert (got["enable_viewer_print"], got["viewer_enable_mpr"], got["viewer_default_mouse_tool"]) == (1, 0, "Scroll")
    ambra.ok("/account/set", sid=sid, uuid=ambra.creds["account_id"], settings='{"viewer_enable_mpr": 1, "enable_viewer_print": 0}')
    got = ambra.ok("/study/viewer/settings", sid=sid, study_id=study["uuid"])
    assert (got["enable_viewer_print"], got["viewer_enable_mpr"], got["viewer_default_mouse_tool"]) == (0, 1, "Scroll")
    assert ambra.error("/study/viewer/settings", sid=sid, study_id="no-such-study")["error_type"] == "NOT_FOUND"


def test_the_account_settings_table_is_read_from_the_document() -> None:
    """The document's Account settings table ("Name Type Default Un-authenticated access allowed ..."): a Flag or Number
    row's first number is its default, a Text row's word before its flags (none: empty), and the first flag says whether
    the setting is given without a session; rows with fewer flag columns than the header are read too."""
    from mockserver.apis.ambra.account_settings import parse_row, table

    found = table()
    assert len(found) > 350 and "Account settings" not in found
    expected = {
        "enable_viewer_print": ("Flag", 1, False, 674),
        "viewer_default_mouse_tool": ("Text", "Scroll", False, 691),
        "viewer3_config": ("Text", "", False, 671),
        "max_match_study_hl7": ("Number", 100, False, 888),
        "max_link_studies": ("Text", "100", False, 855),
        "helpscout_beacon_id": ("Text", "", True, 1142),
        "auto_transcode": ("Flag", 0, False, 692),  # five numbers, not six
        "account_disabled": ("Flag", 0, False, 1239),  # the table's last row
    }
    for name, (kind, default, unauthenticated, line) in expected.items():
        setting = found[name]
        assert (setting.type, setting.default, setting.unauthenticated, setting.line) == (kind, default, unauthenticated, line), setting
    assert parse_row("  • study_approve", 1) is None and parse_row("viewer3_config JSON hash for the viewer3 configuration", 1) is None


def test_settings_user_account_temporary_deleted_and_all(ambra: Ambra) -> None:
    """The Setting commands' notes: account_id sets the user_account's setting and gets "(user_account's || user's)";
    a temp_ key lives in its session only; __DELETE__ deletes; /setting/get/all is "The hash of all non-temporary user
    settings" (merged with the user_account's for an account_id); an unknown account is NOT_FOUND; a sysadmin reads and
    sets another user's, any other user may not; role_id sets the key for each user holding the role."""
    sid, other_session, member = ambra.login(), ambra.login(), ambra.login("user")
    account = ambra.creds["account_id"]
    ambra.ok("/setting/set", sid=sid, key="layout", value="2x2")
    ambra.ok("/setting/set", sid=sid, key="layout", value="1x1", account_id=account)
    ambra.ok("/setting/set", sid=sid, key="gone", value="soon")
    ambra.ok("/setting/set", sid=sid, key="temp_draft", value="d")
    assert ambra.ok("/setting/get", sid=sid, key="layout")["value"] == "2x2"
    assert ambra.ok("/setting/get", sid=sid, key="layout", account_id=account)["value"] == "1x1"
    assert ambra.ok("/setting/get", sid=sid, key="gone", account_id=account)["value"] == "soon"  # the user's, the user_account has none
    assert ambra.ok("/setting/get", sid=sid, key="temp_draft")["value"] == "d"
    assert ambra.ok("/setting/get", sid=other_session, key="temp_draft")["value"] is None
    assert ambra.ok("/session/user", sid=sid, settings='["temp_draft"]')["settings"] == {"temp_draft": "d"}  # as /setting/get
    assert ambra.ok("/session/user", sid=other_session, settings='["temp_draft"]')["settings"] == {"temp_draft": None}
    ambra.ok("/setting/set", sid=sid, key="gone", value="__DELETE__")
    assert ambra.ok("/setting/get/all", sid=sid)["settings"] == {"layout": "2x2"}
    assert ambra.ok("/setting/get/all", sid=sid, account_id=account)["settings"] == {"layout": "1x1"}
    assert ambra.error("/setting/get/all", sid=sid, account_id="no-such-account")["error_subtype"] == "account"
    member_uuid = ambra.creds["user_uuid_user"]
    ambra.ok("/setting/set", sid=sid, key="layout", value="3x3", user_id=member_uuid)  # the administrator is a sysadmin
    assert ambra.ok("/setting/get/all", sid=member)["settings"] == {"layout": "3x3"}
    assert ambra.error("/setting/set", sid=member, key="k", value="v", user_id=ambra.creds["user_uuid"])["error_type"] == "NOT_PERMITTED"
    assert ambra.error("/setting/get", sid=member, key="layout", user_id=ambra.creds["user_uuid"])["error_type"] == "NOT_FOUND"
    role = ambra.ok("/session/permissions", sid=member, account_id=account)["role_id"]
    ambra.ok("/setting/set", sid=sid, key="by_role", value="r", role_id=role)
    assert ambra.ok("/setting/get", sid=member, key="by_role")["value"] == "r"
    assert ambra.error("/setting/set", sid=sid, key="k", value="v", role_id="no-such-role")["error_subtype"] == "role"


def test_account_settings_are_the_tables_defaults_and_what_account_set_stored(ambra: Ambra) -> None:
    """/account/settings: "A hash of the account settings" (each setting of the document's table, its stored value else
    its default), only those named in ``settings``, the namespace's overrides, and without a session "only
    un-authenticated settings"; an unknown account or namespace is NOT_FOUND."""
    sid = ambra.login()
    account = ambra.creds["account_id"]
    ambra.ok("/account/set", sid=sid, uuid=account, settings='{"viewer_enable_mpr": 1}')
    everything = ambra.ok("/account/settings", sid=sid, account_id=account)["settings"]
    assert everything["viewer_enable_mpr"] == 1 and everything["enable_viewer_print"] == 1 and len(everything) > 350
    asked = ambra.ok("/account/settings", sid=sid, account_id=account, settings="viewer_enable_mpr, viewer_default_mouse_tool")
    assert asked["settings"] == {"viewer_enable_mpr": 1, "viewer_default_mouse_tool": "Scroll"}
    anonymous = ambra.ok("/account/settings", vanity=ambra.creds["vanity"])["settings"]
    assert "helpscout_beacon_id" in anonymous and "viewer_enable_mpr" not in anonymous
    assert ambra.error("/account/settings", sid=sid, account_id="no-such-account")["error_type"] == "NOT_FOUND"
    namespace = ambra.error("/account/settings", sid=sid, account_id=account, namespace_id="no-such-namespace")
    assert namespace["error_subtype"] == "namespace_id"


def test_study_and_namespace_permissions_are_the_callers_flags(ambra: Ambra) -> None:
    """/study/permissions and /namespace/permissions: each "The permission flag setting" is the caller's role's flag in
    the account holding the study or namespace (what /session/permissions answers there), for the administrator and for
    a member whose role differs; an unknown study or namespace is NOT_FOUND. They answered empty strings."""
    account, namespace = ambra.creds["account_id"], ambra.creds["namespace_id"]
    seen = []
    for who in ("admin", "user"):
        sid = ambra.login(who)
        study = ambra.ok("/study/list", sid=sid, **{"page.rows": 1, "filter.phi_namespace.equals": namespace})["studies"][0]["uuid"]
        role = ambra.ok("/session/permissions", sid=sid, account_id=account)
        for path, params in (("/study/permissions", {"uuid": study}), ("/namespace/permissions", {"study_id": study}),
                             ("/namespace/permissions", {"namespace_id": namespace})):  # fmt: skip
            got = {k: v for k, v in ambra.ok(path, sid=sid, **params).items() if k != "status"}
            assert "study_edit" in got and got == {k: role.get(k, 0) for k in got}, (who, path)
        seen.append(got["study_download"])
        assert ambra.error("/study/permissions", sid=sid, uuid="no-such-study")["error_type"] == "NOT_FOUND"
        assert ambra.error("/namespace/permissions", sid=sid, namespace_id="no-such-namespace")["error_type"] == "NOT_FOUND"
    assert seen == [1, 0]  # the two roles differ in the flags the seeded accounts give them


def test_namespace_permissions_with_oauth_gives_the_callers_token(ambra: Ambra) -> None:
    """/namespace/permissions with ``oauth`` answers "A JSON hash containing the the OAuth token and ttl": a token of the
    caller's that works as a Bearer token; without the flag there is no such hash. It answered none."""
    sid, namespace = ambra.login("user"), ambra.creds["namespace_id"]
    assert "oauth" not in ambra.ok("/namespace/permissions", sid=sid, namespace_id=namespace)
    oauth = ambra.ok("/namespace/permissions", sid=sid, namespace_id=namespace, oauth=1)["oauth"]
    assert set(oauth) == {"access_token", "ttl"} and oauth["ttl"] == 3600 and oauth["access_token"] != sid
    status, by_token = ambra.call("/user/get", headers={"Authorization": f"Bearer {oauth['access_token']}"})
    assert status == 200 and by_token["uuid"] == ambra.ok("/user/get", sid=sid)["uuid"]


def test_user_event_flags_per_namespace(ambra: Ambra) -> None:
    """/user/event/set stores a user's event flags for a namespace and /user/event answers them (a flag never set is
    the user's own, /user/get's); another user's flags need the others_notifications permissions; a user outside the
    namespace is NOT_MEMBER; an unknown namespace or user NOT_FOUND. /user/event answered no flag at all."""
    sid, member = ambra.login(), ambra.login("user")
    namespace, me = ambra.creds["namespace_id"], ambra.ok("/user/get", sid=sid)
    before = ambra.ok("/user/event", sid=sid, namespace_id=namespace)
    assert before["event_share"] == me["event_share"] and before["event_site_qualified"] == 0
    ambra.ok("/user/event/set", sid=sid, namespace_id=namespace, event_share=1 - me["event_share"], event_upload=1)
    after = ambra.ok("/user/event", sid=sid, namespace_id=namespace)
    assert (after["event_share"], after["event_upload"]) == (1 - me["event_share"], 1)
    assert (
        ambra.ok("/user/event", sid=member, namespace_id=namespace, uuid=me["uuid"])["event_upload"] == 1
    )  # user_view_others_notifications
    refused = ambra.error("/user/event/set", sid=member, namespace_id=namespace, uuid=me["uuid"], event_share=1)
    assert (refused["error_type"], refused["error_subtype"]) == ("NOT_PERMITTED", "user_modify_others_notifications")
    other_namespace = ambra.ok("/account/get", sid=sid, uuid=ambra.creds["other_account_id"])["namespace_id"]
    assert (
        ambra.error("/user/event", sid=sid, namespace_id=other_namespace, uuid=ambra.creds["user_uuid_user"])["error_type"] == "NOT_MEMBER"
    )
    assert ambra.error("/user/event", sid=sid, namespace_id="no-such-namespace")["error_subtype"] == "namespace_id"
    assert ambra.error("/user/event/set", sid=sid, namespace_id=namespace, uuid="no-such-user", event_share=1)["error_subtype"] == "uuid"


def test_at_most_ten_sessions_per_user_the_oldest_dropped(ambra: Ambra) -> None:
    sids = [ambra.login() for _ in range(11)]
    assert ambra.call("/session/ttl", sid=sids[0])[0] == 401
    for sid in sids[1:]:
        assert ambra.call("/session/ttl", sid=sid)[0] == 200
    assert ambra.call("/session/ttl", sid=ambra.login("user"))[0] == 200  # another user's sessions are their own


def test_missing_unknown_and_expired_sessions_are_401(ambra: Ambra) -> None:
    assert ambra.call("/study/list") == (401, {"status": "ERROR", "error_type": "NO_SESSION"})
    assert ambra.call("/study/list", sid="not-a-session")[0] == 401
    assert ambra.call("/study/list", "GET", sid="not-a-session")[0] == 401
    sid = ambra.login()
    assert ambra.call("/study/list", sid=sid)[0] == 200
    assert ambra.client.post("/__mock__/ambra/sessions/expire", json={"sid": sid}).status_code == 200
    assert ambra.call("/study/list", sid=sid)[0] == 401
    assert ambra.call("/study/get", sid=sid, uuid="x")[0] == 401  # a command whose sid is optional still refuses a bad one


def test_oauth_token_is_a_bearer_credential_until_it_expires(ambra: Ambra) -> None:
    creds = ambra.creds
    token = ambra.ok("/session/oauth/token", grant_type="client_credentials", client_id=creds["oauth_client_id"],
                     client_secret=creds["oauth_client_secret"], duration=86400)  # fmt: skip
    assert token["token_type"] == "bearer" and token["expires_in"] == 86400
    too_long = ambra.error("/session/oauth/token", grant_type="client_credentials", client_id=creds["oauth_client_id"],
                           client_secret=creds["oauth_client_secret"], duration=86401)  # fmt: skip
    assert too_long["error_type"] == "INVALID_INTEGER" and too_long["error_subtype"] == "duration"
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    status, listed = ambra.call("/study/list", headers=bearer, **{"page.rows": 1})
    assert status == 200 and len(listed["studies"]) == 1
    uuid = listed["studies"][0]["uuid"]
    assert ambra.call("/study/get", headers=bearer, uuid=uuid)[1]["uuid"] == uuid  # (sid || node_id && serial_no): the token counts
    assert ambra.call("/study/get", "GET", headers=bearer, uuid=uuid)[0] == 200
    wrong = ambra.error("/session/oauth/token", grant_type="client_credentials", client_id=creds["oauth_client_id"], client_secret="nope")
    assert wrong["error_type"] == "AUTH_FAILED"
    assert ambra.call("/session/oauth/token", "GET", grant_type="client_credentials")[0] == 405
    ambra.client.post("/__mock__/ambra/sessions/expire", json={"sid": token["access_token"]})
    assert ambra.call("/study/list", headers=bearer)[0] == 401
    assert ambra.call("/study/list", headers={"Authorization": "Bearer unknown"})[0] == 401


def test_http_basic_authentication(ambra: Ambra) -> None:
    good = base64.b64encode(f"{ambra.creds['login']}:{ambra.creds['password']}".encode()).decode()
    bad = base64.b64encode(f"{ambra.creds['login']}:wrong".encode()).decode()
    assert ambra.call("/session/user", "GET", headers={"Authorization": f"Basic {good}"})[1]["uuid"] == ambra.creds["user_uuid"]
    assert ambra.call("/study/count", headers={"Authorization": f"Basic {good}"})[1]["count"] > 0
    assert ambra.call("/study/list", headers={"Authorization": f"Basic {bad}"})[0] == 401


# -- errors ---------------------------------------------------------------------------------------
def test_basic_auth_stands_in_for_the_sid_of_a_post_without_a_body(ambra: Ambra) -> None:
    """A POST with no body at all takes its parameters from its query: basic auth stands in for the sid there too, so
    it names the same missing fields as a GET or a POST with a form (it named the sid as well, before)."""
    headers = basic(ambra.creds["login"], ambra.creds["password"])
    for path, missing in (("/destination/list", ["account_id"]), ("/hl7/get", ["uuid"])):
        bare = ambra.client.post(API + path, headers=headers)
        assert bare.status_code == 412 and bare.get_json()["error_subtype"] == missing, (path, bare.get_json())
        assert ambra.call(path, "GET", headers=headers)[1]["error_subtype"] == missing
        assert ambra.call(path, headers=headers, other="1")[1]["error_subtype"] == missing
    assert ambra.client.post(API + "/session/user", headers=headers).get_json()["uuid"] == ambra.creds["user_uuid"]


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_missing_fields_lists_every_missing_field(ambra: Ambra, method: str) -> None:
    sid = ambra.login()
    body = ambra.error("/user/add", method if method == "POST" else "POST", sid=sid)
    assert body["error_type"] == "MISSING_FIELDS"
    assert set(body["error_subtype"]) == {"account_id", "first", "last", "password", "email", "mobile_phone"}
    partial = ambra.error("/group/add", method, sid=sid, name="Night shift")
    assert partial["error_type"] == "MISSING_FIELDS" and partial["error_subtype"] == ["account_id"]
    alternative = ambra.error("/session/permissions", method, sid=sid)
    assert alternative == {"status": "ERROR", "error_type": "MISSING_FIELDS", "error_subtype": ["account_id"]}
    empty = ambra.error("/group/add", method, sid=sid, name="", account_id=ambra.creds["account_id"])
    assert empty["error_subtype"] == ["name"]  # "missing or does not have data in it"
    assert ambra.error("/session/login")["error_subtype"] == ["login", "password"]


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_missing_fields_names_alternatives_and_empty_fields_too(ambra: Ambra, method: str) -> None:
    """Found by the contract suite: when a required field was absent, MISSING_FIELDS left out the unsatisfied
    alternative (a GET's query schema cannot express one) and the required fields sent empty."""
    sid = ambra.login()
    assert ambra.error("/qctask/add", method, sid=sid)["error_subtype"] == ["priority", "study_id", "account_id"]
    assert ambra.error("/qctask/add", method, sid=sid, priority="1", study_id="")["error_subtype"] == ["study_id", "account_id"]
    assert ambra.error("/qctask/add", method, sid=sid, priority="", study_id="x", account_id="y")["error_subtype"] == ["priority"]


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_an_integer_wider_than_64_bits_is_invalid(ambra: Ambra, method: str) -> None:
    """Found by the contract suite: /webhook/set delay=65470715385595491928836892916275216384 could not be stored (a 500)."""
    sid = ambra.login()
    hook = ambra.ok("/webhook/list", sid=sid, account_id=ambra.creds["account_id"])["webhooks"][0]["uuid"]
    for value in ("65470715385595491928836892916275216384", str(2**63), str(-(2**63) - 1)):
        assert ambra.error("/webhook/set", method, sid=sid, uuid=hook, delay=value) == {
            "status": "ERROR", "error_type": "INVALID_INTEGER", "error_subtype": "delay"}  # fmt: skip
    ambra.ok("/webhook/set", method, sid=sid, uuid=hook, delay=str(2**63 - 1))
    assert ambra.ok("/webhook/get", sid=sid, uuid=hook)["delay"] == 2**63 - 1


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_a_page_number_beyond_any_page_is_an_invalid_integer(ambra: Ambra, method: str) -> None:
    """Found by the contract suite: page.number=11528917043518130618368 overflowed SQLite's OFFSET (a 500)."""
    sid = ambra.login()
    group = ambra.ok("/group/list", sid=sid, account_id=ambra.creds["account_id"])["groups"][0]["uuid"]
    for path, params in (
        ("/study/list", {}),
        ("/group/user/list", {"uuid": group}),
        ("/customfield/list", {"account_id": ambra.creds["account_id"]}),
    ):
        for number in ("11528917043518130618368", str(2**31)):
            body = ambra.error(path, method, sid=sid, **params, **{"page.number": number})
            assert (body["error_type"], body["error_subtype"]) == ("INVALID_INTEGER", "page.number"), (path, body)
        assert ambra.ok(path, method, sid=sid, **params, **{"page.number": str(2**31 - 1)})["page"]["more"] == 0


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_an_empty_required_flag_is_missing_not_invalid(ambra: Ambra, method: str) -> None:
    """Found by the contract suite: an empty required flag was INVALID_FLAG; "does not have data in it" is MISSING_FIELDS."""
    sid = ambra.login()
    params = {"sid": sid, "account_id": ambra.creds["account_id"], "saml_role": "r", "role_id": "x"}
    assert ambra.error("/account/saml/role/set", method, **params, event_upload_fail="")["error_subtype"] == ["event_upload_fail"]
    assert ambra.error("/account/saml/role/set", method, **params, event_upload_fail="2") == {
        "status": "ERROR", "error_type": "INVALID_FLAG", "error_subtype": "event_upload_fail"}  # fmt: skip


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_invalid_flag_integer_and_json_name_the_field(ambra: Ambra, method: str) -> None:
    sid = ambra.login()
    assert ambra.error("/study/list", method, sid=sid, extra="2") == {
        "status": "ERROR",
        "error_type": "INVALID_FLAG",
        "error_subtype": "extra",
    }
    assert ambra.error("/study/list", method, sid=sid, extra="yes")["error_type"] == "INVALID_FLAG"
    assert ambra.error("/study/list", method, sid=sid, **{"page.rows": "ten"})["error_subtype"] == "page.rows"
    assert ambra.error("/study/list", method, sid=sid, **{"page.rows": "5001"})["error_type"] == "INVALID_INTEGER"
    assert ambra.error("/study/list", method, sid=sid, fields="[oops")["error_type"] == "INVALID_JSON"
    assert ambra.error("/study/list", method, sid=sid, fields='{"a": 1}')["error_subtype"] == "fields"
    # a JSON hash field: the live service names the field in error_type (["INVALID_JSON", "settings"]); lists keep the token
    for field in ("permissions", "settings"):
        bad = ambra.error("/role/add", method, sid=sid, account_id=ambra.creds["account_id"], name="R", **{field: "bad_json"})
        assert bad["error_type"] == ["INVALID_JSON", field] and bad["error_subtype"] == field


def test_unknown_uuids_are_not_found(ambra: Ambra) -> None:
    sid = ambra.login()
    unknown = "00000000-0000-4000-8000-000000000000"
    for path in ("/study/get", "/group/get", "/webhook/get", "/customfield/get", "/study/approve"):
        body = ambra.error(path, sid=sid, uuid=unknown)
        assert body["error_type"] == "NOT_FOUND" and body["error_subtype"] == "uuid", path
    assert ambra.error("/group/list", sid=sid, account_id=unknown) == {
        "status": "ERROR",
        "error_type": "NOT_FOUND",
        "error_subtype": "account_id",
    }


def test_role_permissions_follow_the_documents_defaults(ambra: Ambra) -> None:
    document = read_document(SPECS_DIR / "ambra" / "openapi.yaml")
    flags = document["components"]["schemas"]["RolePermissions"]["properties"]
    sid = ambra.login()
    roles = {r["name"]: r for r in ambra.ok("/role/list", sid=sid, account_id=ambra.creds["account_id"])["roles"]}
    assert set(roles) == {"Administrator", "User", "PHR", "Anonymous"}
    for name, role in roles.items():
        expected = {f: s["x-ambra-defaults"][role["type"]] for f, s in flags.items() if "x-ambra-defaults" in s}
        assert {f: role["permissions"][f] for f in expected} == expected
    user_sid = ambra.login("user")
    mine = ambra.ok("/session/permissions", sid=user_sid, account_id=ambra.creds["account_id"])
    assert mine["role_id"] == roles["User"]["uuid"] and mine["study_view"] == 1 and mine["group_edit"] == 0


def test_a_user_role_is_not_permitted_what_an_admin_may_do(ambra: Ambra) -> None:
    admin, user = ambra.login(), ambra.login("user")
    account = ambra.creds["account_id"]
    study = ambra.ok("/study/list", sid=user, **{"page.rows": 1})["studies"][0]["uuid"]
    assert ambra.ok("/study/get", sid=user, uuid=study)["uuid"] == study  # study_view is a User permission
    for path, params in (
        ("/group/add", {"account_id": account, "name": "G"}),
        ("/group/list", {"account_id": account}),
        ("/study/share", {"uuid": study, "account_id": ambra.creds["other_account_id"]}),
        ("/study/delete", {"uuid": study}),
        ("/webhook/list", {"account_id": account}),
    ):
        assert ambra.error(path, sid=user, **params)["error_type"] == "NOT_PERMITTED", path
        assert ambra.call(path, sid=admin, **params)[0] == 200, path


# -- studies --------------------------------------------------------------------------------------
def test_study_add_get_set_delete_round_trip_with_audit_trail(ambra: Ambra) -> None:
    sid = ambra.login()
    namespace = ambra.creds["namespace_id"]
    fields = {"study_uid": "2.25.123456789012345678901234567890", "storage_namespace": namespace, "phi_namespace": namespace,
              "patient_name": "DOE^JANE", "patientid": "MRN0001234", "patient_sex": "F", "patient_birth_date": "19800214",
              "modality": "CT", "study_date": "20240607", "study_time": "101500", "accession_number": "A12345678", "image_count": "240"}  # fmt: skip
    uuid = ambra.ok("/study/add", sid=sid, **fields)["uuid"]
    duplicate = ambra.error("/study/add", sid=sid, **fields)
    assert duplicate["error_type"] == "ALREADY_EXISTS" and duplicate["error_subtype"] == uuid and duplicate["error_data"]["uuid"] == uuid
    study = ambra.ok("/study/get", sid=sid, uuid=uuid)
    assert {k: study[k] for k in ("patient_name", "modality", "image_count", "phi_namespace")} == {
        "patient_name": "DOE^JANE", "modality": "CT", "image_count": 240, "phi_namespace": namespace}  # fmt: skip
    assert (
        ambra.ok("/study/get", "GET", sid=sid, study_uid=fields["study_uid"], storage_namespace=namespace, phi_namespace=namespace)["uuid"]
        == uuid
    )
    assert ambra.ok("/study/set", sid=sid, study_id=uuid, patient_name="DOE^JANET", study_description="CT HEAD")["uuid"] == uuid
    assert ambra.ok("/study/get", sid=sid, uuid=uuid)["patient_name"] == "DOE^JANET"
    assert ambra.ok("/study/exists", sid=sid, uuid=uuid)["exists"] == 1
    events = ambra.ok("/audit/object", sid=sid, uuid=uuid)["events"]
    assert [e["action"] for e in events] == ["EDIT", "CREATE"]
    assert events[0]["detail"]["patient_name"] == ["DOE^JANE", "DOE^JANET"]
    ambra.ok("/study/delete", sid=sid, uuid=uuid)
    assert ambra.error("/study/get", sid=sid, uuid=uuid)["error_type"] == "NOT_FOUND"
    assert ambra.ok("/audit/object", sid=sid, uuid=uuid)["events"][0]["action"] == "DELETED"
    assert ambra.error("/study/add", sid=sid, study_uid="2.25.1", storage_namespace=namespace)["error_subtype"] == ["phi_namespace"]


def test_share_into_a_namespace_that_must_approve_then_approve(ambra: Ambra) -> None:
    sid = ambra.login()
    other = ambra.creds["other_account_id"]
    ambra.ok("/account/set", sid=sid, uuid=other, must_approve="1")
    study = ambra.ok("/study/list", sid=sid, **{"page.rows": 1, "filter.phi_namespace.equals": ambra.creds["namespace_id"]})["studies"][0]
    ambra.ok("/study/share", sid=sid, uuid=study["uuid"], account_id=other, message="Please review")
    assert ambra.ok("/study/share/list", sid=sid, uuid=study["uuid"])["account_id"] == [other]
    other_ns = ambra.ok("/account/get", sid=sid, uuid=other)["namespace_id"]
    copies = ambra.ok("/study/list", sid=sid, **{"filter.phi_namespace.equals": other_ns, "filter.study_uid.equals": study["study_uid"]})[
        "studies"
    ]
    assert len(copies) == 1 and copies[0]["must_approve"] == 1 and copies[0]["source"] == "share" and copies[0]["uuid"] != study["uuid"]
    ambra.ok("/study/approve", sid=sid, uuid=copies[0]["uuid"])
    assert ambra.ok("/study/get", sid=sid, uuid=copies[0]["uuid"])["must_approve"] == 0
    assert ambra.error("/study/share", sid=sid, uuid=study["uuid"], account_id=ambra.creds["account_id"])["error_subtype"] == "SAME"
    assert ambra.error("/study/share", sid=sid, uuid=study["uuid"], email="not-an-email")["error_type"] == "INVALID_EMAIL"
    assert "SHARE" in [e["action"] for e in ambra.ok("/audit/object", sid=sid, uuid=study["uuid"])["events"]]


def test_reports_belong_to_their_study(ambra: Ambra) -> None:
    sid = ambra.login()
    uuid = ambra.ok("/study/list", sid=sid, **{"page.rows": 1})["studies"][0]["uuid"]
    report = ambra.ok("/radreport/add", sid=sid, study_id=uuid, type="FINAL", fields='{"impression": "Normal."}')["uuid"]
    assert report in [r["uuid"] for r in ambra.ok("/study/get", sid=sid, uuid=uuid)["radreports"]]
    got = ambra.ok("/radreport/get", sid=sid, uuid=report)
    assert (got["study_id"], got["type"], got["fields"]) == (uuid, "FINAL", {"impression": "Normal."})
    assert (
        ambra.error("/radreport/add", sid=sid, study_id="00000000-0000-4000-8000-000000000000", type="FINAL")["error_subtype"] == "study_id"
    )


def test_tags_on_studies(ambra: Ambra) -> None:
    sid = ambra.login()
    uuid = ambra.ok("/study/list", sid=sid, **{"page.rows": 1})["studies"][0]["uuid"]
    ambra.ok("/tag/add", sid=sid, tag="needs-review", object="Study", object_id=uuid)
    assert "needs-review" in ambra.ok("/study/get", sid=sid, uuid=uuid)["tags"]
    tagged = ambra.ok("/study/list", sid=sid, **{"filter.tags.in": '["needs-review"]'})["studies"]
    assert [s["uuid"] for s in tagged] == [uuid]
    assert {"tag": "needs-review", "count": 1} in ambra.ok("/tag/list", sid=sid, object="Study")["tags"]
    assert ambra.error("/tag/add", sid=sid, tag="x", object="Planet", object_id=uuid)["error_type"] == "INVALID_OBJECT"
    ambra.ok("/tag/delete", sid=sid, tag="needs-review", object="Study", object_id=uuid)
    assert "needs-review" not in ambra.ok("/study/get", sid=sid, uuid=uuid).get("tags", [])


# -- the generic engine ---------------------------------------------------------------------------
def test_generic_add_get_set_list_delete(ambra: Ambra) -> None:
    sid, account = ambra.login(), ambra.creds["account_id"]
    added = ambra.ok("/webhook/add", sid=sid, account_id=account, name="Ping", event="STUDY_UPLOAD", url="https://example.org/h",
                     method="POST_JSON", retry="1", delay="30", parameters='{"a": 1}')  # fmt: skip
    hook = ambra.ok("/webhook/get", sid=sid, uuid=added["uuid"])
    assert (hook["name"], hook["retry"], hook["delay"], hook["method"], hook["parameters"]) == ("Ping", 1, 30, "POST_JSON", {"a": 1})
    ambra.ok("/webhook/set", sid=sid, uuid=added["uuid"], name="Pong", suspended="1")
    assert ambra.ok("/webhook/get", "GET", sid=sid, uuid=added["uuid"])["name"] == "Pong"
    listed = ambra.ok("/webhook/list", sid=sid, account_id=account)["webhooks"]
    assert added["uuid"] in [w["uuid"] for w in listed] and all("_salt" not in w for w in listed)
    assert (
        ambra.error("/webhook/add", sid=sid, account_id=account, name="x", event="E", url="u", method="PATCH")["error_type"]
        == "INVALID_METHOD"
    )
    ambra.ok("/webhook/delete", sid=sid, uuid=added["uuid"])
    assert ambra.error("/webhook/get", sid=sid, uuid=added["uuid"])["error_type"] == "NOT_FOUND"


def test_children_of_a_parent_and_new_namespaces(ambra: Ambra) -> None:
    sid, account = ambra.login(), ambra.creds["account_id"]
    group = ambra.ok("/group/add", sid=sid, account_id=account, name="Night shift")["uuid"]
    assert ambra.ok("/group/get", sid=sid, uuid=group)["namespace_id"]
    user = ambra.creds["user_uuid_user"]
    ambra.ok("/group/user/add", sid=sid, uuid=group, user_id=user)
    assert [u["user_id"] for u in ambra.ok("/group/user/list", sid=sid, uuid=group)["users"]] == [user]
    ambra.ok("/group/user/delete", sid=sid, uuid=group, user_id=user)
    assert ambra.ok("/group/user/list", sid=sid, uuid=group)["users"] == []
    assert ambra.error("/group/user/delete", sid=sid, uuid=group, user_id=user)["error_type"] == "NOT_FOUND"
    assert {"user_id": ambra.creds["user_uuid"]}.items() <= ambra.ok(
        "/account/user/get", sid=sid, uuid=account, user_id=ambra.creds["user_uuid"]
    ).items()


def test_get_and_post_are_equivalent(ambra: Ambra) -> None:
    sid = ambra.login()
    params = {"sid": sid, "page.rows": "7", "page.number": "2", "sort_by": "patient_name-asc", "filter.modality.in": '["CT","MR"]'}
    assert ambra.call("/study/list", "GET", **params) == ambra.call("/study/list", "POST", **params)
    group = ambra.ok("/group/list", sid=sid, account_id=ambra.creds["account_id"])["groups"][0]["uuid"]
    assert ambra.call("/group/get", "GET", sid=sid, uuid=group) == ambra.call("/group/get", "POST", sid=sid, uuid=group)
    assert ambra.call("/group/get", "GET", sid=sid) == ambra.call("/group/get", "POST", sid=sid)


# -- /bundle --------------------------------------------------------------------------------------
def test_bundle_runs_calls_in_order_with_templates(ambra: Ambra) -> None:
    creds = ambra.creds
    reply = ambra.client.post(API + "/bundle", json=[
        {"URL": "/session/login", "login": creds["login"], "password": creds["password"]},
        {"URL": "/study/list", "sid": "{{sid}}", "page.rows": 2},
        {"URL": "/study/get", "sid": "{{sid}}", "uuid": "{{studies.[1].uuid}}"},
        {"URL": "/study/get", "sid": "{{sid}}", "uuid": "00000000-0000-4000-8000-000000000000"},
        {"URL": "/no/such/command"},
    ])  # fmt: skip
    assert reply.status_code == 200
    results = reply.get_json()
    assert [r["HTTP_STATUS_CODE"] for r in results] == [200, 200, 200, 412, 404]
    assert results[2]["uuid"] == results[1]["studies"][1]["uuid"]
    assert results[3]["error_type"] == "NOT_FOUND"


def test_bundle_templates_without_strict_mode(tmp_path: Any) -> None:
    """Found by the contract suite: outside strict mode /study/list hands over pre-rendered studies, which
    {{studies.[1].uuid}} could not walk (the bundled /study/get then ran with the literal template)."""
    app = create_app(MockConfig(apis=("ambra",), strict=False, db=str(tmp_path / "plain.sqlite3")))
    try:
        plain = Ambra(app)
        reply = plain.client.post(API + "/bundle", json=[
            {"URL": "/session/login", "login": plain.creds["user_login"], "password": plain.creds["user_password"]},
            {"URL": "/study/list", "sid": "{{sid}}", "page.rows": 2},
            {"URL": "/study/get", "sid": "{{sid}}", "uuid": "{{studies.[1].uuid}}"},
        ]).get_json()  # fmt: skip
        assert [r["HTTP_STATUS_CODE"] for r in reply] == [200, 200, 200]
        assert reply[2]["uuid"] == reply[1]["studies"][1]["uuid"]
    finally:
        app.extensions["medimock"].close()


def test_bundle_inherit_sid_and_malformed_bundles(ambra: Ambra) -> None:
    sid = ambra.login()
    inherited = ambra.client.post(f"{API}/bundle?inherit_sid=1&sid={sid}", json=[{"URL": "/session/user"}, {"URL": "/study/count"}])
    assert [r["HTTP_STATUS_CODE"] for r in inherited.get_json()] == [200, 200]
    plain = ambra.client.post(f"{API}/bundle?sid={sid}", json=[{"URL": "/session/user"}])
    assert plain.get_json()[0]["HTTP_STATUS_CODE"] == 401
    # a lone surrogate is a JSON string the URL pattern does not match (it was a 500: regress takes UTF-8 only)
    for body in (b"{not json", b"{}", b"[]", b'[{"sid": "x"}]', b"[1, 2]", b'[{"URL": "\\ud800"}]'):
        reply = ambra.client.post(API + "/bundle", data=body, content_type="application/json")
        assert reply.status_code == 400 and reply.data == b"", body
    assert ambra.client.post(API + "/bundle", data={"URL": "/session/uuid"}).status_code == 400


def test_user_delete_removes_the_user_with_its_memberships_and_sessions(ambra: Ambra) -> None:
    """Found by the contract suite: /user/delete left the user's account memberships listed (and its sessions alive)."""
    admin, account = ambra.login(), ambra.creds["account_id"]
    added = ambra.ok("/user/add", sid=admin, account_id=account, first="Gone", last="Soon", password="Gone-soon-1",
                     email="gone.soon@example.org", mobile_phone="+15550000001")  # fmt: skip
    group = ambra.ok("/group/list", sid=admin, account_id=account)["groups"][0]["uuid"]
    ambra.ok("/group/user/add", sid=admin, uuid=group, user_id=added["uuid"])
    sid = ambra.ok("/session/login", login="gone.soon@example.org", password="Gone-soon-1")["sid"]
    members = [u["user_id"] for u in ambra.ok("/account/user/list", sid=admin, uuid=account, **{"page.rows": 5000})["users"]]
    assert added["uuid"] in members
    ambra.ok("/user/delete", sid=sid)
    assert ambra.call("/session/ttl", sid=sid)[0] == 401
    assert ambra.error("/session/login", login="gone.soon@example.org", password="Gone-soon-1")["error_type"] == "INVALID_CREDENTIALS"
    members = [u["user_id"] for u in ambra.ok("/account/user/list", sid=admin, uuid=account, **{"page.rows": 5000})["users"]]
    assert added["uuid"] not in members
    assert added["uuid"] not in [u["user_id"] for u in ambra.ok("/group/user/list", sid=admin, uuid=group)["users"]]
    assert ambra.error("/account/user/get", sid=admin, uuid=account, user_id=added["uuid"])["error_type"] == "NOT_FOUND"
    assert ambra.error("/user/get", sid=admin, uuid=added["uuid"])["error_type"] == "NOT_FOUND"


def test_bundle_values_beyond_a_form_field(ambra: Ambra) -> None:
    """Found by the contract suite: integers beyond 64 bits are passed on as JSON; lone surrogates make a malformed bundle (400)."""
    huge = ambra.client.post(API + "/bundle", data=b'[{"URL": "/session/uuid", "x": [8390768530281755940803837952, 1e300]}]',
                             content_type="application/json")  # fmt: skip
    assert huge.status_code == 200 and huge.get_json()[0]["HTTP_STATUS_CODE"] == 200
    for body in (b'[{"URL": "/session/uuid", "x": "\\udb76"}]', b'[{"URL": "/session/uuid", "\\udb76": "a"}]',
                 b'[{"URL": "/session/uuid", "x": {"\\udb76": 1}}]'):  # fmt: skip
        reply = ambra.client.post(API + "/bundle", data=body, content_type="application/json")
        assert reply.status_code == 400 and reply.data == b"", body


def test_sid_in_the_query_string_of_a_post_or_in_the_session_header(ambra: Ambra) -> None:
    sid = ambra.login()
    assert ambra.client.post(f"{API}/study/count?sid={sid}").status_code == 200  # no body at all
    assert ambra.client.post(f"{API}/study/count?sid={sid}", data={"filter.modality.equals": "CT"}).status_code == 200
    assert ambra.client.get(f"{API}/session/ttl", headers={"X-AmbraHealth-SID": sid}).get_json()["ttl"] > 0
    assert ambra.client.post(f"{API}/session/uuid").status_code == 200  # no credentials needed
    reply = ambra.client.post(f"{API}/group/add?sid={sid}", data='{"name": "x"}', content_type="application/json")  # not a form
    assert reply.status_code == 412 and reply.get_json()["error_type"] == "MISSING_FIELDS"


def test_a_node_adds_studies_with_its_uuid_and_serial_number(ambra: Ambra) -> None:
    sid = ambra.login()
    node = ambra.ok("/node/list", sid=sid, account_id=ambra.creds["account_id"])["nodes"][0]
    added = ambra.ok(
        "/study/add", uuid=node["uuid"], serial_no=node["serial_no"], study_uid="2.25.777", modality="MR", patient_name="ROE^RICHARD"
    )
    study = ambra.ok("/study/get", sid=sid, uuid=added["uuid"])
    assert (study["phi_namespace"], study["modality"]) == (ambra.creds["namespace_id"], "MR")
    wrong = ambra.error("/study/add", uuid=node["uuid"], serial_no="WRONG", study_uid="2.25.778")
    assert wrong["error_type"] == "INVALID_CREDENTIALS"
    neither = ambra.error("/study/add", study_uid="2.25.779")  # neither a session nor node credentials
    assert neither["error_type"] == "MISSING_FIELDS" and neither["error_subtype"] == ["sid"]


def test_post_reads_parameters_from_the_query_string_too(ambra: Ambra) -> None:
    """Clients that POST with parameters in the URL (or split between URL and body) work; the body wins."""
    sid = ambra.login()
    account = ambra.creds["account_id"]
    reply = ambra.client.post(f"{API}/group/add?sid={sid}&name=from-query&account_id={account}")
    assert reply.status_code == 200 and reply.get_json()["status"] == "OK", reply.get_json()
    uuid = reply.get_json()["uuid"]
    assert ambra.ok("/group/get", sid=sid, uuid=uuid)["name"] == "from-query"
    reply = ambra.client.post(f"{API}/group/set?sid={sid}&uuid={uuid}&name=query-loses", data={"name": "body-wins"})
    assert reply.status_code == 200, reply.get_json()
    assert ambra.ok("/group/get", sid=sid, uuid=uuid)["name"] == "body-wins"
    reply = ambra.client.post(f"{API}/group/add?sid={sid}&name=no-account")
    assert reply.status_code == 412 and reply.get_json()["error_subtype"] == ["account_id"], reply.get_json()


def test_response_defects_break_what_they_say(tmp_path: Any) -> None:
    names = frozenset({"ambra.study_get_drops_study_uid", "ambra.not_found_answers_200", "ambra.page_count_string"})
    app = create_app(MockConfig(apis=("ambra",), strict=False, defects=names, db=str(tmp_path / "defects.sqlite3")))
    try:
        broken = Ambra(app)
        sid = broken.login()
        listed = broken.ok("/study/list", sid=sid, **{"page.rows": 2})
        assert listed["page"]["count"] == "2" and len(listed["studies"]) == 2
        study = broken.ok("/study/get", "GET", sid=sid, uuid=listed["studies"][0]["uuid"])
        assert "study_uid" not in study and study["uuid"] == listed["studies"][0]["uuid"]
        unknown = "00000000-0000-4000-8000-000000000000"
        for path in ("/study/get", "/group/get", "/webhook/get"):
            assert broken.call(path, sid=sid, uuid=unknown) == (200, {"status": "OK"}), path
        assert broken.error("/study/delete", sid=sid, uuid=unknown)["error_type"] == "NOT_FOUND"  # other commands keep theirs
    finally:
        app.extensions["medimock"].close()


def test_node_add_takes_the_chosen_uuid_and_gives_a_serial_number(ambra: Ambra) -> None:
    """The document's /node/add: "uuid of the node (optional, you can use this to explicitly set the UUID)", "Returns ...
    serial_no • The node serial number", "INVALID_UUID • Invalid uuid format or this uuid is already in use". It answered
    an empty serial_no and ignored the uuid, so an added node could never authenticate."""
    admin, chosen = ambra.login(), "0b7f6f0e-6a3c-4c1e-9a51-2f0e3d4c5b6a"
    added = ambra.ok("/node/add", sid=admin, name="Ours", account_id=ambra.creds["account_id"], type="HARVESTER", uuid=chosen)
    assert added["uuid"] == chosen and re.fullmatch(r"SN-\d{4}-[A-Z]{4}", added["serial_no"]), added
    assert ambra.ok("/node/get", sid=admin, uuid=chosen)["serial_no"] == added["serial_no"]
    assert ambra.ok("/node/configuration", uuid=chosen, serial_no=added["serial_no"])["status"] == "OK"
    for taken in (chosen, "not-a-uuid"):
        refused = ambra.error("/node/add", sid=admin, name="Again", account_id=ambra.creds["account_id"], type="HARVESTER", uuid=taken)
        assert refused["error_type"] == "INVALID_UUID", refused
    other = ambra.ok("/node/add", sid=admin, name="Theirs", account_id=ambra.creds["account_id"], type="HARVESTER")
    assert other["uuid"] != chosen and other["serial_no"] != added["serial_no"]


def basic(username: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def node_and_extras(ambra: Ambra) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """The first seeded node of the account, and the other parameters each of the five commands needs."""
    sid = ambra.login()
    node = ambra.ok("/node/list", sid=sid, account_id=ambra.creds["account_id"])["nodes"][0]
    webhook = ambra.ok("/webhook/list", sid=sid, account_id=ambra.creds["account_id"])["webhooks"][0]["uuid"]
    extras = {
        "/node/ping": {},
        "/node/deliver": {"status": "S", "job_id": "0b7f6f0e-6a3c-4c1e-9a51-2f0e3d4c5b6a"},
        "/node/retrieve": {"status": "S", "job_id": "0b7f6f0e-6a3c-4c1e-9a51-2f0e3d4c5b6a"},
        "/node/webhook": {"status": "S", "webhook_id": webhook},
        "/node/configuration": {},
    }
    return node, extras


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_five_node_commands_take_the_uuid_and_serial_no_as_basic_auth(ambra: Ambra, method: str) -> None:
    """Their Notes: "The uuid and serial_no can also be passed using basic auth as the username/password combination".
    Basic alone is the same call as the parameters; a wrong serial or an unknown uuid is the documented NOT_FOUND."""
    node, extras = node_and_extras(ambra)
    for path, extra in extras.items():
        with_parameters = ambra.ok(path, method, uuid=node["uuid"], serial_no=node["serial_no"], **extra)
        status, with_basic = ambra.call(path, method, headers=basic(node["uuid"], node["serial_no"]), **extra)
        assert (status, with_basic) == (200, with_parameters), path
        for username, password, named in (
            (node["uuid"], "SN-0000-WXYZ", "serial_no"),
            ("00000000-0000-4000-8000-000000000000", "x", "uuid"),
        ):
            status, refused = ambra.call(path, method, headers=basic(username, password), **extra)
            assert (status, refused) == (412, {"status": "ERROR", "error_type": "NOT_FOUND", "error_subtype": named}), path
    status, lacking = ambra.call("/node/deliver", method, headers=basic(node["uuid"], node["serial_no"]), job_id="x")
    assert (status, lacking["error_type"], lacking["error_subtype"]) == (412, "MISSING_FIELDS", ["status"])  # not uuid, serial_no
    account = ambra.ok("/account/get", sid=ambra.login(), uuid=ambra.creds["account_id"])
    configuration = ambra.ok("/node/configuration", method, headers=basic(node["uuid"], node["serial_no"]))
    assert configuration["storage_namespace"] == account["namespace_id"]  # "the storage namespace the node should harvest to"


@pytest.mark.parametrize(
    ("credentials", "missing"),
    [
        ("!!!not-base64", ["uuid", "serial_no"]),
        (base64.b64encode(b"no colon at all").decode(), ["uuid", "serial_no"]),
        ("", ["uuid", "serial_no"]),
        ("\xe9t\xe9", ["uuid", "serial_no"]),  # not ASCII (a latin-1 header)
        (base64.b64encode("\xe9:\xe9".encode("latin-1")).decode(), ["uuid", "serial_no"]),  # not UTF-8
        (base64.b64encode(b":").decode(), ["uuid", "serial_no"]),
        (base64.b64encode(b"some-node-uuid:").decode(), ["serial_no"]),
        (base64.b64encode(b":SN-0000-WXYZ").decode(), ["uuid"]),
    ],
)
def test_basic_auth_holding_no_node_credentials_is_missing_fields(ambra: Ambra, credentials: str, missing: list[str]) -> None:
    """A header that holds no user-pass (or an empty half) supplies nothing: "A required field is missing or does not have
    data in it" names what it lacks, never a 500 and never a 401 (no session is involved)."""
    for path in ("/node/ping", "/node/configuration"):
        for method in ("POST", "GET"):
            status, body = ambra.call(path, method, headers={"Authorization": f"Basic {credentials}"})
            assert (status, body) == (412, {"status": "ERROR", "error_type": "MISSING_FIELDS", "error_subtype": missing}), path


def test_basic_auth_on_the_node_commands_is_the_node_never_a_user(ambra: Ambra) -> None:
    """A user's own basic credentials on /node/ping name no node (NOT_FOUND), and are no session there; the parameters
    win over any header; a user's session does not stand in for the node's serial number on a command taking no sid."""
    node, _ = node_and_extras(ambra)
    user = basic(ambra.creds["login"], ambra.creds["password"])
    assert ambra.call("/node/ping", headers=user) == (412, {"status": "ERROR", "error_type": "NOT_FOUND", "error_subtype": "uuid"})
    status, body = ambra.call("/node/ping", headers=user, uuid=node["uuid"], serial_no=node["serial_no"])
    assert status == 200 and body["status"] == "OK"
    status, body = ambra.call("/node/configuration", headers=basic(node["uuid"], "wrong"), uuid=node["uuid"], serial_no=node["serial_no"])
    assert status == 200 and body["status"] == "OK"  # the parameters, not the header
    partial = ambra.error("/node/ping", headers=basic(node["uuid"], node["serial_no"]), uuid=node["uuid"])
    assert partial["error_subtype"] == ["serial_no"]  # the header is read only when the parameters carry neither
    refused = ambra.error("/node/ping", sid=ambra.login(), headers=basic(node["uuid"], "wrong"))
    assert (refused["error_type"], refused["error_subtype"]) == ("NOT_FOUND", "serial_no")
    refused = ambra.error("/node/ping", sid=ambra.login(), uuid=node["uuid"], serial_no="wrong")
    assert (refused["error_type"], refused["error_subtype"]) == ("NOT_FOUND", "serial_no")
    # the node's credentials are no user login where Basic is a user's (a 401, as any wrong basic credentials)
    assert ambra.call("/study/list", headers=basic(node["uuid"], node["serial_no"]))[0] == 401
    assert ambra.call("/study/list", headers={"Authorization": "Basic \xe9t\xe9"})[0] == 401  # not ASCII: no 500


def test_node_ping_ack_takes_no_basic_auth_in_place_of_its_parameters(ambra: Ambra) -> None:
    """Only five commands' Notes say the uuid and serial_no may come as basic auth; /node/ping/ack's do not."""
    node, _ = node_and_extras(ambra)
    for method in ("POST", "GET"):
        refused = ambra.error("/node/ping/ack", method, headers=basic(node["uuid"], node["serial_no"]))
        assert (refused["error_type"], refused["error_subtype"]) == ("MISSING_FIELDS", ["uuid", "serial_no"])
        assert ambra.ok("/node/ping/ack", method, uuid=node["uuid"], serial_no=node["serial_no"])["status"] == "OK"


def test_dictionary_entries_and_attachments_are_kept(ambra: Ambra) -> None:
    """/dictionary/entry/add, /dictionary/entries, /dictionary/entry/delete, /dictionary/attach(/set), /dictionary/detach
    and /dictionary/get's attachments keep what was done (they answered their documented shape: no entry ever listed, the
    dictionary's uuid as the attachment's id). Entries: one value per lookup field (INVALID_LOOKUP), JSON arrays (NOT_LIST),
    regular expressions that compile (INVALID_REGEXP naming it); the same lookup values, in another case when the
    dictionary is not case sensitive, update the one entry; ``lookup`` picks one entry."""
    sid, account, namespace = ambra.login(), ambra.creds["account_id"], ambra.creds["namespace_id"]
    made = ambra.ok("/dictionary/add", sid=sid, account_id=account, name="D", object="Study", lookup='["patient_name","patientid"]',
                    replace='["patient_sex"]', case_sensitive=0)  # fmt: skip
    dictionary = made["uuid"]
    ambra.ok("/dictionary/entry/add", sid=sid, uuid=dictionary, lookup='["SMITH^JOHN","P1"]', replace='["M"]')
    ambra.ok("/dictionary/entry/add", sid=sid, uuid=dictionary, lookup='["smith^john","p1"]', replace='["F"]')
    ambra.ok("/dictionary/entry/add", sid=sid, uuid=dictionary, lookup="^DOE.*", replace='["F"]', regexp=1)
    entries = ambra.ok("/dictionary/entries", sid=sid, uuid=dictionary)["entries"]
    plain = hashlib.md5(b"smith^john p1").hexdigest()
    assert [(e["lookup"], e["replace"], e["md5"], e["regexp"]) for e in entries] == [
        (["smith^john", "p1"], ["F"], plain, None),
        (["^DOE.*"], ["F"], hashlib.md5(b"^DOE.*").hexdigest(), 1),
    ]
    assert ambra.ok("/dictionary/entries", sid=sid, uuid=dictionary, lookup='["Smith^John","P1"]')["entries"] == entries[:1]
    for params, wanted in (({"lookup": '["ONE"]'}, ("INVALID_LOOKUP", "lookup")), ({"lookup": "not json"}, ("NOT_LIST", "lookup")),
                           ({"lookup": "([", "regexp": 1}, ("INVALID_REGEXP", "(["))):  # fmt: skip
        refused = ambra.error("/dictionary/entry/add", sid=sid, uuid=dictionary, replace='["M"]', **params)
        assert (refused["error_type"], refused["error_subtype"]) == wanted
    ambra.ok("/dictionary/entry/delete", sid=sid, uuid=dictionary, lookup="^DOE.*")
    assert ambra.error("/dictionary/entry/delete", sid=sid, uuid=dictionary, lookup="^DOE.*")["error_type"] == "NOT_FOUND"
    assert len(ambra.ok("/dictionary/entries", sid=sid, uuid=dictionary)["entries"]) == 1
    member = ambra.login("user")  # the User role has neither dictionary_view nor dictionary_edit
    assert ambra.error("/dictionary/entries", sid=member, uuid=dictionary)["error_subtype"] == "dictionary_view"
    attachment = ambra.ok("/dictionary/attach", sid=sid, uuid=dictionary, namespace_id=namespace, add_if_no_match=1)["uuid"]
    assert attachment != dictionary
    assert ambra.error("/dictionary/attach", sid=sid, uuid=dictionary, namespace_id="no-such-namespace")["error_type"] == "NOT_FOUND"
    ambra.ok("/dictionary/attach/set", sid=sid, uuid=attachment, sequence=7)
    assert ambra.error("/dictionary/attach/set", sid=sid, uuid=dictionary, sequence=7)["error_type"] == "NOT_FOUND"
    [listed] = ambra.ok("/dictionary/get", sid=sid, uuid=dictionary)["attachments"]
    assert (listed["uuid"], listed["namespace_id"], listed["sequence"], listed["add_if_no_match"]) == (attachment, namespace, 7, 1)
    ambra.ok("/dictionary/detach", sid=sid, uuid=attachment)
    assert ambra.ok("/dictionary/get", sid=sid, uuid=dictionary)["attachments"] == []
    again = ambra.ok("/dictionary/attach", sid=sid, uuid=dictionary, account_id=account)["uuid"]
    ambra.ok("/dictionary/delete", sid=sid, uuid=dictionary)
    assert ambra.error("/dictionary/detach", sid=sid, uuid=again)["error_type"] == "NOT_FOUND"  # deleted with its dictionary


def test_namespace_settings_are_stored_and_answered(ambra: Ambra) -> None:
    """/namespace/settings stores the settings passed and answers no_dup_share, study_field_flags and the account settings
    the namespace overrides (which /account/settings with namespace_id then answers); __DELETE__ removes an override and
    is NO_NAMESPACE_OVERRIDE for a setting of the namespace's own; a member without account_edit may read but not set;
    an unknown namespace is NOT_FOUND. It answered empty strings and stored nothing."""
    sid, account, namespace = ambra.login(), ambra.creds["account_id"], ambra.creds["namespace_id"]
    assert {k: v for k, v in ambra.ok("/namespace/settings", sid=sid, uuid=namespace).items() if k != "status"} == {
        "no_dup_share": 0,
        "study_field_flags": {},
    }
    changed = ambra.ok("/namespace/settings", sid=sid, uuid=namespace, no_dup_share=1, study_field_flags='{"study_field_patient_name": 0}',
                       remove_private_tags_on_upload=1, reverse_patient_name=1, share_related=1)  # fmt: skip
    got = ambra.ok("/namespace/settings", sid=sid, uuid=namespace)
    assert got == changed and (got["no_dup_share"], got["study_field_flags"]) == (1, {"study_field_patient_name": 0})
    assert (str(got["remove_private_tags_on_upload"]), str(got["reverse_patient_name"])) == ("1", "1") and "share_related" not in got
    overridden = ambra.ok("/account/settings", sid=sid, account_id=account, namespace_id=namespace, settings="reverse_patient_name")
    assert str(overridden["settings"]["reverse_patient_name"]) == "1"
    ambra.ok("/namespace/settings", sid=sid, uuid=namespace, remove_private_tags_on_upload="__DELETE__")
    assert "remove_private_tags_on_upload" not in ambra.ok("/namespace/settings", sid=sid, uuid=namespace)
    refused = ambra.error("/namespace/settings", sid=sid, uuid=namespace, study_field_flags="__DELETE__")
    assert (refused["error_type"], refused["error_subtype"]) == ("NO_NAMESPACE_OVERRIDE", "study_field_flags")
    member = ambra.login("user")
    assert ambra.ok("/namespace/settings", sid=member, uuid=namespace)["no_dup_share"] == 1
    assert ambra.error("/namespace/settings", sid=member, uuid=namespace, no_dup_share=0)["error_type"] == "NOT_PERMITTED"
    assert ambra.error("/namespace/settings", sid=sid, uuid="no-such-namespace")["error_type"] == "NOT_FOUND"


def test_saved_filters_have_an_owner_and_shares(ambra: Ambra) -> None:
    """A filter is its owner's and of those it is shared with: another member does not see it (/filter/get NOT_FOUND, not
    in /filter/list) until /filter/share names them (or their account, group, location or role), and then sees it with
    owner 0 but may not change, delete or share it (NOT_PERMITTED); /filter/share/list lists the shares; one destination
    at a time (INVALID_PARAMETERS), an unknown one is NOT_FOUND naming its key; /filter/share/stop ends it. Every member
    of the account read, changed and deleted every filter, and the shares were never kept."""
    sid, account, member_uuid = ambra.login(), ambra.creds["account_id"], ambra.creds["user_uuid_user"]
    member = ambra.login("user")
    uuid = ambra.ok("/filter/add", sid=sid, name="Mine", type="study", configuration='{"filter.modality.equals": "MR"}')["uuid"]
    assert ambra.ok("/filter/get", sid=sid, uuid=uuid)["owner"] == 1

    def members_view() -> tuple[Any, list[Any]]:
        status, got = ambra.call("/filter/get", sid=member, uuid=uuid)
        listed = ambra.ok("/filter/list", sid=member, type="study", account_id=account)["filters"]
        return (got["owner"] if status == 200 else got["error_type"]), [f["uuid"] for f in listed if f["uuid"] == uuid]

    assert members_view() == ("NOT_FOUND", [])
    for destination in ({"user_id": member_uuid}, {"role_id": ambra.ok("/session/permissions", sid=member, account_id=account)["role_id"]}):
        ambra.ok("/filter/share", sid=sid, uuid=uuid, **destination)
        assert members_view() == (0, [uuid])
        for path, extra in (("/filter/set", {"name": "Theirs"}), ("/filter/delete", {}), ("/filter/share", {"user_id": member_uuid})):
            assert ambra.error(path, sid=member, uuid=uuid, **extra)["error_type"] == "NOT_PERMITTED", path
        ambra.ok("/filter/share/stop", sid=sid, uuid=uuid, **destination)
        assert members_view() == ("NOT_FOUND", [])
    ambra.ok("/filter/share", sid=sid, uuid=uuid, account_id=account)
    shares = ambra.ok("/filter/share/list", sid=sid, uuid=uuid)
    assert (shares["account_id"], shares["user_id"], shares["role_id"]) == ([account], [], [])
    assert ambra.error("/filter/share", sid=sid, uuid=uuid, user_id=member_uuid, account_id=account)["error_type"] == "INVALID_PARAMETERS"
    assert ambra.error("/filter/share", sid=sid, uuid=uuid, group_id="no-such-group")["error_subtype"] == "group_id"
    assert members_view() == (0, [uuid])
    ambra.ok("/filter/delete", sid=sid, uuid=uuid)
    assert ambra.error("/filter/get", sid=sid, uuid=uuid)["error_type"] == "NOT_FOUND"


def test_links_follow_the_link_that_was_added(ambra: Ambra) -> None:
    """/link/status answers the link's own fields (NOT_FOUND for an unknown link); /link/session checks the password and a
    charge and answers a sid that works; /link/pin's PIN stands in for the uuid once; /link/redirect answers its 302 with a
    sid, EXPIRED once the link is used max_hits times, LINK_NOT_FOUND for an unknown one. They answered their documented
    shape whatever the link (an empty action, no password, 200 for any uuid) and /link/add's URLs were placeholders."""
    sid = ambra.login()
    study = ambra.ok("/study/list", sid=sid, **{"page.rows": 1})["studies"][0]["uuid"]
    added = ambra.ok("/link/add", sid=sid, study_id=study, action="STUDY_VIEW", password="pw", skip_email_prompt=1, max_hits=2)
    link = added["uuid"]
    assert added["redirect_url"] == f"http://localhost/api/v3/link/redirect?uuid={link}"
    status = ambra.ok("/link/status", uuid=link)
    assert (status["action"], status["has_password"], status["skip_email_prompt"], status["is_meeting"]) == ("STUDY_VIEW", 1, 1, 0)
    assert "password" not in ambra.ok("/link/get", sid=sid, uuid=link) and ambra.ok("/link/get", sid=sid, uuid=link)["has_password"] == 1
    assert ambra.error("/link/status", uuid="no-such-link")["error_type"] == "NOT_FOUND"
    assert ambra.error("/link/session", uuid=link, password="wrong")["error_type"] == "INVALID_CREDENTIALS"
    assert ambra.error("/link/session", uuid=link, short_id="x", password="pw")["error_type"] == "ONLY_ONE"
    session = ambra.ok("/link/session", uuid=link, password="pw")
    assert (session["action"], session["study_count"]) == ("STUDY_VIEW", 1)
    assert ambra.ok("/study/get", sid=session["sid"], uuid=study)["uuid"] == study
    pin = ambra.ok("/link/pin", sid=sid, uuid=link)
    assert len(pin["pin"]) == 8 and pin["duration"] == 300
    redirect = ambra.client.get(API + "/link/redirect", query_string={"pin": pin["pin"], "password": "pw"})
    assert redirect.status_code == 302 and f"study_id={study}" in redirect.headers["Location"] and "sid=" in redirect.headers["Location"]
    assert ambra.error("/link/status", pin=pin["pin"])["error_type"] == "NOT_FOUND"  # a PIN is good for one use
    used_up = ambra.client.get(API + "/link/redirect", query_string={"uuid": link, "password": "pw"})  # max_hits 2: a session, a redirect
    assert used_up.status_code == 412 and used_up.get_json()["error_type"] == "EXPIRED"
    assert ambra.error("/link/session", uuid=link, password="pw")["error_type"] == "NOT_FOUND"
    assert ambra.client.get(API + "/link/redirect", query_string={"uuid": "no-such-link"}).get_json()["error_type"] == "LINK_NOT_FOUND"
    charged = ambra.ok(
        "/link/add", sid=sid, study_id=study, action="STUDY_VIEW", charge_amount=500, charge_currency="usd", charge_description="x"
    )
    assert ambra.error("/link/session", uuid=charged["uuid"])["error_type"] == "CHARGE_REQUIRED"
    assert ambra.ok("/link/session", uuid=charged["uuid"], link_charge_id="a-charge")["sid"]


def test_study_share_who_offers_the_callers_units(ambra: Ambra) -> None:
    """/study/share/who answers the accounts, groups, locations or users (``type``) of the caller's accounts, each with its
    uuid and name, without a group whose no_share flag is set; NOT_FOUND for an unknown study, NOT_PERMITTED without
    study_share. It answered an empty list."""
    sid, account = ambra.login(), ambra.creds["account_id"]
    study = ambra.ok("/study/list", sid=sid, **{"page.rows": 1})["studies"][0]["uuid"]

    def offered(kind: str) -> dict[str, Any]:
        return {o["uuid"]: o["name"] for o in ambra.ok("/study/share/who", sid=sid, uuid=study, type=kind)["shares"]}

    shared = ambra.ok("/group/add", sid=sid, account_id=account, name="Shared")["uuid"]
    closed = ambra.ok("/group/add", sid=sid, account_id=account, name="Closed", no_share=1)["uuid"]
    groups = offered("group")
    assert groups[shared] == "Shared" and closed not in groups
    assert offered("account")[account] == ambra.ok("/account/get", sid=sid, uuid=account)["name"]
    assert ambra.creds["user_uuid_user"] in offered("user") and offered("location")
    assert ambra.error("/study/share/who", sid=sid, uuid="no-such-study", type="group")["error_type"] == "NOT_FOUND"
    assert ambra.error("/study/share/who", sid=ambra.login("user"), uuid=study, type="group")["error_subtype"] == "study_share"


def test_study_status_follows_the_accounts_tags(ambra: Ambra) -> None:
    """/study/status/set moves a study through the account's study_status_tags: STALE for a wrong old value, INVALID_TAG for
    a value not among them; a mutex tag locks the study to its setter (LOCKED for another user, listed in the setter's
    /study/status/locks), any other tag releases it; /study/status/history records each change; /study/status/get
    answers the status, the default and the tags. They answered empty strings, an empty history and OK to anything."""
    sid, member = ambra.login(), ambra.login("user")
    study = ambra.ok("/study/list", sid=sid, **{"page.rows": 1})["studies"][0]["uuid"]
    got = ambra.ok("/study/status/get", sid=sid, study_id=study)
    assert (got["study_status"], got["study_status_tags_default"], got["study_status_tags"]) == (None, "NEW", "NEW,READING,READ,REPORTED")
    ambra.ok("/study/status/set", sid=sid, study_id=study, new="NEW")  # no old value while the status is null
    assert ambra.error("/study/status/set", sid=sid, study_id=study, old="READ", new="READING")["error_type"] == "STALE"
    assert ambra.error("/study/status/set", sid=sid, study_id=study, old="NEW", new="BOGUS")["error_type"] == "INVALID_TAG"
    ambra.ok("/study/status/set", sid=sid, study_id=study, old="NEW", new="READING")
    assert [s["uuid"] for s in ambra.ok("/study/status/locks", sid=sid)["studies"]] == [study]
    assert ambra.error("/study/status/set", sid=member, study_id=study, old="READING", new="READ")["error_type"] == "LOCKED"
    ambra.ok("/study/status/set", sid=sid, study_id=study, old="READING", new="READ")
    assert ambra.ok("/study/status/locks", sid=sid)["studies"] == []
    history = ambra.ok("/study/status/history", sid=sid, study_id=study)["history"]
    assert [(h["old"], h["new"]) for h in history] == [(None, "NEW"), ("NEW", "READING"), ("READING", "READ")]
    assert all(isinstance(h["seconds"], int) and h["date"] for h in history)
    assert ambra.ok("/study/get", sid=sid, uuid=study)["study_status"] == "READ"
    account, user_role = (
        ambra.creds["account_id"],
        ambra.ok("/session/permissions", sid=member, account_id=ambra.creds["account_id"])["role_id"],
    )
    settings = {
        "study_status_tags": "NEW,READING,READ,REPORTED",
        "study_status_mutex_tags": "READING",
        "study_status_role_tags": {"REPORTED": [user_role]},
    }
    ambra.ok("/account/set", sid=sid, uuid=account, settings=json.dumps(settings))  # only the User role may report
    assert ambra.ok("/study/status/get", sid=sid, study_id=study)["study_status_tags"] == "NEW,READING,READ"
    assert ambra.error("/study/status/set", sid=sid, study_id=study, old="READ", new="REPORTED")["error_type"] == "INVALID_TAG"
    ambra.ok("/study/status/set", sid=sid, study_id=study, old="READ", new="READING")
    ambra.ok("/study/delete", sid=sid, uuid=study)  # a deleted study is locked by no one
    assert ambra.ok("/study/status/locks", sid=sid) == {
        "status": "OK",
        "page": {"rows": 100, "number": 1, "more": 0, "count": 0},
        "studies": [],
    }


def test_audit_of_an_account_and_of_a_user(ambra: Ambra) -> None:
    """/audit/account answers the account's events, /audit/user those a user did there, newest first (reverse: oldest
    first), paged; each event's uuid is the object's ("uuid • uuid of the object", as /audit/object now answers too) and a
    share names the other entity in ``with``. NOT_FOUND for an unknown account or user, NOT_PERMITTED without audit_view.
    They answered an empty list."""
    sid, account, member_uuid = ambra.login(), ambra.creds["account_id"], ambra.creds["user_uuid_user"]
    me = ambra.ok("/session/user", sid=sid)["uuid"]
    study = ambra.ok("/study/list", sid=sid, **{"page.rows": 1})["studies"][0]["uuid"]
    ambra.ok("/study/set", sid=sid, study_id=study, study_description="AUDITED")
    ambra.ok("/study/share", sid=sid, uuid=study, user_id=member_uuid)
    newest = ambra.ok("/audit/account", sid=sid, account_id=account, **{"page.rows": 2})
    assert [(e["uuid"], e["action"]) for e in newest["events"]] == [(study, "SHARE"), (study, "EDIT")] and newest["page"]["more"] == 1
    assert newest["events"][0]["with"] == ambra.ok("/user/get", sid=sid, uuid=member_uuid)["name"]  # "the name of the other entity"
    mine = ambra.ok("/audit/user", sid=sid, account_id=account, user_id=me, **{"page.rows": 2})["events"]
    assert [e["action"] for e in mine] == ["SHARE", "EDIT"]
    first = ambra.ok("/audit/user", sid=sid, account_id=account, user_id=me, reverse=1, **{"page.rows": 1})["events"]
    assert first[0]["action"] == "CREATE"  # the oldest: a seeded study's creation
    assert ambra.ok("/audit/user", sid=sid, account_id=account, user_id=member_uuid)["events"] == []
    assert ambra.ok("/audit/object", sid=sid, uuid=study)["events"][0]["uuid"] == study
    assert ambra.error("/audit/account", sid=sid, account_id="no-such-account")["error_subtype"] == "account_id"
    assert ambra.error("/audit/user", sid=sid, account_id=account, user_id="no-such-user")["error_subtype"] == "user_id"
    assert ambra.error("/audit/account", sid=ambra.login("user"), account_id=account)["error_subtype"] == "audit_view"


def test_audit_deleted_lists_the_deleted_studies(ambra: Ambra) -> None:
    """/audit/deleted answers the deleted objects of a type in the account, newest first, with who deleted them; a type the
    mock does not audit answers none. It answered an empty list whatever was deleted."""
    sid, account = ambra.login(), ambra.creds["account_id"]
    listed = ambra.ok("/study/list", sid=sid, **{"page.rows": 2, "filter.phi_namespace.equals": ambra.creds["namespace_id"]})["studies"]
    first, second = (s["uuid"] for s in listed)  # two studies of the account
    ambra.ok("/study/delete", sid=sid, uuid=first)
    ambra.ok("/study/delete", sid=sid, uuid=second)
    deleted = ambra.ok("/audit/deleted", sid=sid, account_id=account, type="Study")
    assert [o["uuid"] for o in deleted["objects"]] == [second, first] and deleted["page"]["count"] == 2
    assert deleted["objects"][0]["who"] == ambra.ok("/session/user", sid=sid)["name"]
    assert ambra.ok("/audit/deleted", sid=sid, account_id=account, type="User")["objects"] == []
    assert ambra.error("/audit/deleted", sid=ambra.login("user"), account_id=account, type="Study")["error_subtype"] == "audit_view"
