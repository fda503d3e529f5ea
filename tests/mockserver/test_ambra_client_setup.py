"""What a real Ambra client's own test setup needs of the mock (issue 14): namespaces that agree
with themselves everywhere they are taken, /session/permissions on the caller's personal
namespace, custom fields, permissions and the viewer link on studies, MISSING_FIELDS for an
alternative that only counts under another authentication, a storage engine host that reaches
the mock, custom code zips, and what the live service shows beyond the document (timestamps with
a numeric offset, INVALID_JSON naming its field in error_type, /account/add and /account/delete).
One mock for the module (strict mode on); each test makes what it needs."""

from __future__ import annotations

import base64
import io
import json
import re
import uuid
import zipfile
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from mockserver.app import create_app
from mockserver.config import MockConfig

API = "/api/v3"
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}\+00$")


class Client:
    def __init__(self, app: Any) -> None:
        self.client = app.test_client()
        self.creds = self.client.get("/__mock__/credentials").get_json()["ambra"]
        self.sid = self.login(self.creds["login"], self.creds["password"])

    def login(self, login: str, password: str) -> str:
        return str(self.client.post(API + "/session/login", data={"login": login, "password": password}).get_json()["sid"])

    def call(self, path: str, http: str = "POST", **params: Any) -> tuple[int, Any]:
        params = {"sid": self.sid, **{k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in params.items()}}
        params = {k: v for k, v in params.items() if v is not None}
        reply = self.client.get(API + path, query_string=params) if http == "GET" else self.client.post(API + path, data=params)
        return reply.status_code, reply.get_json(silent=True)

    def ok(self, path: str, http: str = "POST", **params: Any) -> Any:
        status, body = self.call(path, http, **params)
        assert status == 200 and body["status"] == "OK", (path, status, body)
        return body

    def error(self, path: str, http: str = "POST", **params: Any) -> Any:
        status, body = self.call(path, http, **params)
        assert status == 412 and body["status"] == "ERROR", (path, status, body)
        return body


@pytest.fixture(scope="module")
def ambra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    app = create_app(MockConfig(apis=("ambra",), strict=True, db=str(tmp_path_factory.mktemp("setup") / "db.sqlite3")))
    yield Client(app)
    app.extensions["medimock"].close()


def new_study(ambra: Client, namespace: str, **fields: Any) -> str:
    uid = f"2.25.{uuid.uuid4().int}"
    added = ambra.ok("/study/add", study_uid=uid, phi_namespace=namespace, storage_namespace=namespace, patient_name="SETUP^TEST",
                     modality="CT", study_date="20240101", **fields)  # fmt: skip
    return str(added["uuid"])


# -- 3. namespaces are one truth ----------------------------------------------------------------------
@pytest.mark.parametrize("unit", ["group", "location"])
def test_the_namespace_of_a_new_unit_exists_and_works_everywhere(ambra: Client, unit: str) -> None:
    account = ambra.creds["account_id"]
    added = ambra.ok(f"/{unit}/add", account_id=account, name=f"Setup {unit} {uuid.uuid4().hex[:6]}")
    try:
        namespace = added["namespace_id"]
        assert ambra.ok(f"/{unit}/get", uuid=added["uuid"])["namespace_id"] == namespace
        listed = {u["uuid"]: u for u in ambra.ok(f"/{unit}/list", account_id=account)[f"{unit}s"]}
        assert listed[added["uuid"]]["namespace_id"] == namespace
        study = new_study(ambra, namespace)
        assert ambra.ok("/study/get", uuid=study)["phi_namespace"] == namespace
        assert "study_view" in ambra.ok("/session/permissions", namespace_id=namespace)
        assert ambra.ok("/namespace/engine/fqdn", namespace_id=namespace)["storage_namespace"] == namespace
        joined = {"event_upload_fail": 0} if unit == "location" else {}  # the document forgets "(optional)" there
        ambra.ok(f"/{unit}/user/add", uuid=added["uuid"], user_id=ambra.creds["user_uuid"], **joined)  # as a client joins it
        assert namespace in {ns["uuid"] for ns in ambra.ok("/user/namespace/list")["namespaces"]}
        ambra.ok("/study/delete", uuid=study)
    finally:
        ambra.ok(f"/{unit}/delete", uuid=added["uuid"])


# -- 4. the caller's personal namespace -----------------------------------------------------------------
def test_session_permissions_answer_for_the_callers_personal_namespace(ambra: Client) -> None:
    own = ambra.ok("/session/user")["namespace_id"]
    perms = ambra.ok("/session/permissions", namespace_id=own)
    assert perms["study_view"] == 1 and perms["role_id"]
    only = ambra.ok("/session/permissions", namespace_id=own, **{"fields._top": ["study_download", "study_upload"]})
    assert set(only) == {"status", "study_download", "study_upload"}  # a client's test: len(resp) == 2
    someone_else = ambra.ok("/session/user", sid=ambra.login(ambra.creds["user_login"], ambra.creds["user_password"]))["namespace_id"]
    assert ambra.error("/session/permissions", namespace_id=someone_else)["error_type"] == "NOT_FOUND"


# -- 5. custom fields, permissions and the viewer link on studies ---------------------------------------
def test_studies_carry_custom_fields_permissions_and_the_viewer_link(ambra: Client) -> None:
    account, namespace = ambra.creds["account_id"], ambra.creds["namespace_id"]
    study = new_study(ambra, namespace)
    field = ambra.ok("/customfield/add", account_id=account, name="cfname", object="Study", type="text")["uuid"]
    try:
        got = ambra.ok("/study/get", uuid=study)
        mine = [c for c in got["customfields"] if c["uuid"] == field]
        assert mine == [{"uuid": field, "name": "cfname", "type": "text", "value": None}]
        assert got["permissions"]["study_view"] == 1 and all(k.startswith("study_") for k in got["permissions"])
        assert got["viewer_link"].endswith(f"/viewer/study/{study}")
        ambra.ok("/study/set", study_id=study, **{f"customfield-{field}": "set by the client"})
        listed = ambra.ok("/study/list", **{"filter.uuid.equals": study})["studies"][0]  # the pre-rendered page
        assert [c["value"] for c in listed["customfields"] if c["uuid"] == field] == ["set by the client"]
        shaped = ambra.ok("/study/list", **{"filter.uuid.equals": study, "customfield_h": 1})["studies"][0]  # built per study
        assert {k: v for k, v in shaped.items() if k != "customfield_h"} == listed
        got = ambra.ok("/study/get", uuid=study)
        assert {k: v for k, v in got.items() if k not in ("status", "permissions", "viewer_link")} == listed
        # a list item carries the caller's permissions and the viewer link when asked for (see specs/ambra/README.md)
        asked = ambra.ok("/study/list", **{"filter.uuid.equals": study, "fields.study": ["permissions", "viewer_link"]})["studies"][0]
        assert asked == {"permissions": got["permissions"], "viewer_link": got["viewer_link"]}
        assert ambra.ok("/study/list", **{"filter.uuid.equals": study, "permissions_diff": 1})["studies"][0]["permissions"] == {}
    finally:
        ambra.ok("/customfield/delete", uuid=field)
        ambra.ok("/study/delete", uuid=study)
    assert field not in {c["uuid"] for c in ambra.ok("/study/get", uuid=ambra.ok("/study/list")["studies"][0]["uuid"])["customfields"]}


# -- 6. alternatives that count only under a condition -----------------------------------------------------
def test_study_set_with_a_sid_and_only_study_uid_is_missing_fields(ambra: Client) -> None:
    study = ambra.ok("/study/get", uuid=new_study(ambra, ambra.creds["namespace_id"]))
    try:
        refused = ambra.error("/study/set", study_uid=study["study_uid"], patient_name="X^Y")
        assert refused["error_type"] == "MISSING_FIELDS" and isinstance(refused["error_subtype"], list) and refused["error_subtype"]
        ambra.ok("/study/set", study_id=study["uuid"], patient_name="X^Y")
        triplet = {k: study[k] for k in ("study_uid", "storage_namespace", "phi_namespace")}
        ambra.ok("/study/set", **triplet, patient_name="X^Z")
        node = ambra.ok("/node/list", account_id=ambra.creds["account_id"])["nodes"][0]
        serial = ambra.ok("/node/get", uuid=node["uuid"])["serial_no"]
        ambra.ok("/study/set", sid=None, uuid=node["uuid"], serial_no=serial, study_uid=study["study_uid"], patient_name="NODE^SET")
        assert ambra.ok("/study/get", uuid=study["uuid"])["patient_name"] == "NODE^SET"
    finally:
        ambra.ok("/study/delete", uuid=study["uuid"])


def test_link_add_alternatives_follow_the_action(ambra: Client) -> None:
    namespace = ambra.creds["namespace_id"]
    refused = ambra.error("/link/add", action="STUDY_LIST", namespace_id=namespace, minutes_alive=10, max_hits=1)
    assert refused["error_type"] == "MISSING_FIELDS"
    link = ambra.ok("/link/add", action="STUDY_UPLOAD", namespace_id=namespace, minutes_alive=10, max_hits=1)["uuid"]
    ambra.ok("/link/delete", uuid=link)


# -- 7. the storage engine is the mock's own host ----------------------------------------------------------
def test_namespace_engine_fqdn_names_the_host_that_was_reached(ambra: Client) -> None:
    namespace = ambra.creds["namespace_id"]
    by_namespace = ambra.ok("/namespace/engine/fqdn", namespace_id=namespace)
    assert by_namespace["engine_fqdn"] == "localhost" and by_namespace["engine_url"] == "http://localhost"
    study = ambra.ok("/study/list", **{"filter.phi_namespace.equals": namespace, "page.rows": 1})["studies"][0]
    by_study = ambra.ok("/namespace/engine/fqdn", study_id=study["uuid"])
    assert by_study["storage_namespace"] == study["storage_namespace"] and by_study["engine_fqdn"] == "localhost"
    assert ambra.error("/namespace/engine/fqdn", namespace_id=str(uuid.uuid4()))["error_type"] == "NOT_FOUND"


# -- 8. custom code zips ------------------------------------------------------------------------------------
def test_customcode_zip_returns_what_was_uploaded(ambra: Client) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("main.py", "print('hello')")
    uploaded = buffer.getvalue()
    common = {"account_id": ambra.creds["account_id"], "language": "PYTHON", "type": "AI_CUSTOM_VALIDATION_CODE", "code": "x = 1"}
    zipped = ambra.ok("/customcode/add", name="zipped", zip=base64.b64encode(uploaded).decode(), **common)["uuid"]
    raw = ambra.ok("/customcode/add", name="raw", zip="some_zip", **common)["uuid"]  # what a client's own test uploads
    bare = ambra.ok("/customcode/add", name="bare", **common)["uuid"]
    try:
        reply = ambra.client.post(API + "/customcode/zip", data={"sid": ambra.sid, "uuid": zipped})
        assert reply.status_code == 200 and reply.data == uploaded
        assert reply.headers["Content-Type"] == "application/zip; charset=ISO-8859-1"
        assert zipfile.ZipFile(io.BytesIO(reply.data)).read("main.py") == b"print('hello')"
        assert ambra.client.get(API + "/customcode/zip", query_string={"sid": ambra.sid, "uuid": raw}).data == b"some_zip"
        assert ambra.ok("/customcode/get", uuid=zipped)["has_zip"] == 1 and "zip" not in ambra.ok("/customcode/get", uuid=zipped)
        assert ambra.client.post(API + "/customcode/zip", data={"sid": ambra.sid, "uuid": bare}).status_code == 404
    finally:
        for code in (zipped, raw, bare):
            ambra.ok("/customcode/delete", uuid=code)


# -- 9. what the live service shows beyond the document ---------------------------------------------------
def test_timestamps_carry_a_numeric_utc_offset(ambra: Client) -> None:
    study = ambra.ok("/study/list", **{"page.rows": 1})["studies"][0]
    group = ambra.ok("/group/list", account_id=ambra.creds["account_id"])["groups"][0]
    added = ambra.ok("/study/get", uuid=new_study(ambra, ambra.creds["namespace_id"]))
    for stamp in (study["created"], study["updated"], group["created"], added["created"]):
        assert STAMP.match(stamp), stamp
        datetime.strptime(stamp + "00", "%Y-%m-%d %H:%M:%S.%f%z")  # as the client parses it
    ambra.ok("/study/delete", uuid=added["uuid"])


def test_invalid_json_in_a_hash_names_the_field_in_error_type(ambra: Client) -> None:
    bad = ambra.error("/role/add", account_id=ambra.creds["account_id"], name="some_name", settings="bad_json")
    assert bad["error_type"] == ["INVALID_JSON", "settings"]
    assert ambra.error("/study/list", fields="[oops")["error_type"] == "INVALID_JSON"  # a JSON list keeps the token


def test_account_add_and_delete_for_system_administrators(ambra: Client) -> None:
    name = f"SDK test account {uuid.uuid4().hex[:6]}"
    added = ambra.ok("/account/add", name=name)
    try:
        assert ambra.error("/account/add", name=name)["error_type"] == "DUPLICATE_NAME"
        found = ambra.ok("/account/list", **{"filter.name.equals": name})["accounts"]
        assert [a["uuid"] for a in found] == [added["uuid"]] and found[0]["namespace_id"] == added["namespace_id"]
        roles = ambra.ok("/role/list", account_id=added["uuid"], **{"filter.name.equals": "Administrator"})["roles"]
        ambra.ok("/role/set", uuid=roles[0]["uuid"], permissions={"study_delete": 1, "study_split": 1})
        group = ambra.ok("/group/add", account_id=added["uuid"], name="SDK_TEST_GROUP_1")
        study = new_study(ambra, group["namespace_id"])
        assert ambra.error("/account/delete", uuid=added["uuid"])["error_type"] == "NOT_EMPTY"
        ambra.ok("/study/delete", uuid=study)
        reader = ambra.login(ambra.creds["user_login"], ambra.creds["user_password"])
        assert ambra.error("/account/add", sid=reader, name="not mine")["error_type"] == "NOT_PERMITTED"
    finally:
        ambra.ok("/account/delete", uuid=added["uuid"])
    assert not ambra.ok("/account/list", **{"filter.name.equals": name})["accounts"]
    assert ambra.error("/group/get", uuid=group["uuid"])["error_type"] == "NOT_FOUND"
    assert ambra.error("/account/delete", uuid=added["uuid"])["error_type"] == "NOT_FOUND"
