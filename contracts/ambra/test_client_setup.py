"""A client's whole test setup, played against the target as a real Ambra client's own suite plays it:
an account of its own (/account/add, when the target serves it to the suite's system administrator),
a group and a location with their namespaces, studies in the group's namespace, custom fields; then
lists and gets with field selection and custom-field filters; then everything is removed again.
Every namespace a reply names must work wherever a namespace is taken.

Around it, what such a client relies on: MISSING_FIELDS for /study/set with a sid and only the
study_uid, custom code zips that come back as uploaded, and the forms the live service shows beyond
the document (timestamps with a numeric offset, INVALID_JSON naming its field), as conventions.
"""

from __future__ import annotations

import base64
import io
import socket
import uuid
import zipfile
from typing import Any
from urllib.parse import urlsplit

import pytest

from medimock.ambra_contract import (
    CUSTOMFIELD_FILTER,
    ERRORS,
    FIELDS,
    FIELDS_TOP,
    INVALID_JSON_LIST,
    MAIN,
    STAMP_FORM,
    TIMESTAMP_FORM,
    UNDOCUMENTED_ACCOUNTS,
    error_type,
    ok,
    refused,
)
from medimock.verdict import Document, expect, json_body

GROUP_NAMESPACE = Document(MAIN, "namespace_id • The association namespace uuid", after="URL /group/add")
LOCATION_NAMESPACE = Document(MAIN, "namespace_id • The association namespace uuid", after="URL /location/add")
STUDY_ADD = Document(MAIN, "URL /study/add")
PERMISSIONS = Document(MAIN, "(account_id || namespace_id) • Either the account or namespaces to get the users permissions for")
ENGINE = Document(MAIN, "engine_fqdn • The FQDN of the storage engine to use", lines=2)
STUDY_CUSTOMFIELDS = Document(MAIN, "customfields • An array of the custom fields associated with this study")
STUDY_PERMISSIONS = Document(MAIN, "permissions • A hash of the study_* type permissions for this study")
VIEWER_LINK = Document(MAIN, "viewer_link • Link to the study viewer")
CUSTOMFIELD_ADD = Document(MAIN, "URL /customfield/add")
STUDY_SET_BY = Document(MAIN, "The uuid of the study if sid authentication or the study_uid if node authentication")
MISSING_FIELDS = Document(MAIN, "MISSING_FIELDS • A required field is missing or does not have data in it", after="URL /study/set")
ZIP_UPLOAD = Document(MAIN, "zip • Base64 encoded ZIP file (optional)", after="URL /customcode/add")
ZIP_STREAM = Document(MAIN, "Returns Streams back the zip file", after="URL /customcode/zip")
INVALID_JSON = Document(MAIN, "INVALID_JSON • The field is not in valid JSON format", after="URL /role/add")


class Setup:
    """What a client's test setup made on the target (removed in ``remove``, newest first)."""

    def __init__(self, ambra: Any, account_id: str) -> None:
        self.ambra = ambra
        self.account_id = account_id
        self.made: list[tuple[str, str]] = []  # (delete command, uuid)

    def add(self, path: str, params: dict[str, Any], source: Document, what: str) -> dict[str, Any]:
        body = ok(self.ambra, path, params, source, what)
        if isinstance(body.get("uuid"), str):
            self.made.append((path[: -len("add")] + "delete", body["uuid"]))
        return body

    def remove(self) -> None:
        for delete, uuid_ in reversed(self.made):
            self.ambra.call(delete, {"uuid": uuid_})
        self.made.clear()


def play(ambra: Any, setup: Setup, user_id: str) -> None:
    """The setup and the reads a client's suite does in ``setup.account_id``."""
    tag = uuid.uuid4().hex[:6]
    units = {}
    for unit, source in (("group", GROUP_NAMESPACE), ("location", LOCATION_NAMESPACE)):
        added = setup.add(
            f"/{unit}/add", {"account_id": setup.account_id, "name": f"SDK_TEST_{unit.upper()}_{tag}"}, source, f"/{unit}/add"
        )
        namespace = added.get("namespace_id")
        got = ok(ambra, f"/{unit}/get", {"uuid": added.get("uuid")}, source, f"/{unit}/get of the new {unit}")
        expect(
            source,
            got.get("namespace_id") == namespace,
            f"/{unit}/get names the namespace /{unit}/add answered: {got.get('namespace_id')} != {namespace}",
        )
        listed = ok(
            ambra, f"/{unit}/list", {"account_id": setup.account_id, "filter.uuid.equals": added.get("uuid")}, source, f"/{unit}/list"
        )
        shown = [u.get("namespace_id") for u in listed.get(f"{unit}s") or [] if isinstance(u, dict)]
        expect(source, shown == [namespace], f"/{unit}/list names the same namespace: {shown} != [{namespace}]")
        join = {"uuid": added.get("uuid"), "user_id": user_id, **({"event_upload_fail": 0} if unit == "location" else {})}
        ok(ambra, f"/{unit}/user/add", join, source, f"joining the new {unit}")
        units[unit] = namespace
    namespace = units["group"]
    perms = ok(
        ambra, "/session/permissions", {"namespace_id": namespace, "fields._top": ["study_view"]}, PERMISSIONS, "permissions in the group"
    )
    expect(FIELDS_TOP, set(perms) == {"status", "study_view"}, f"fields._top=[study_view] on /session/permissions: {sorted(perms)}")
    engine = ok(ambra, "/namespace/engine/fqdn", {"namespace_id": namespace}, ENGINE, "the storage engine of the group's namespace")
    host = urlsplit(f"//{engine.get('engine_fqdn') or ''}").hostname
    expect(ENGINE, bool(host), f"engine_fqdn names a host: {engine.get('engine_fqdn')!r}")
    try:
        resolvable = bool(host) and bool(socket.getaddrinfo(host, None))
    except OSError:
        resolvable = False
    expect(
        ENGINE, resolvable, f"engine_fqdn {engine.get('engine_fqdn')!r} resolves (a client builds https://<engine_fqdn>/api/v3/storage/...)"
    )

    text = setup.add("/customfield/add", {"account_id": setup.account_id, "name": f"cfname {tag}", "object": "Study", "type": "text"},
                     CUSTOMFIELD_ADD, "a text custom field for studies")  # fmt: skip
    studies = []
    for index in range(2):
        params = {"study_uid": f"2.25.{uuid.uuid4().int}", "phi_namespace": namespace, "storage_namespace": namespace,
                  "patient_name": f"SETUP^CLIENT{index}", "modality": "CT", "study_date": "20240103", f"customfield-{text.get('uuid')}": f"v{index}"}  # fmt: skip
        added = setup.add("/study/add", params, STUDY_ADD, "a study in the group's namespace")
        studies.append(added.get("uuid"))

    got = ok(ambra, "/study/get", {"uuid": studies[0]}, STUDY_ADD, "/study/get of a new study")
    expect(STUDY_ADD, got.get("phi_namespace") == namespace, f"the study is in the group's namespace: {got.get('phi_namespace')}")
    fields = [c for c in got.get("customfields") or [] if isinstance(c, dict) and c.get("uuid") == text.get("uuid")]
    expect(STUDY_CUSTOMFIELDS, len(fields) == 1 and fields[0].get("value") == "v0", f"/study/get shows the study's custom field: {fields}")
    expect(
        STUDY_PERMISSIONS,
        isinstance(got.get("permissions"), dict),
        f"/study/get has the study's permissions hash: {got.get('permissions')!r}",
    )
    expect(
        VIEWER_LINK,
        isinstance(got.get("viewer_link"), str) and got.get("viewer_link"),
        f"/study/get has a viewer_link: {got.get('viewer_link')!r}",
    )
    expect(TIMESTAMP_FORM, bool(STAMP_FORM.match(str(got.get("created")))), f"created has the live service's form: {got.get('created')!r}")

    in_group = {"filter.phi_namespace.equals": namespace}
    selected = ok(ambra, "/study/list", {**in_group, "fields.study": ["uuid", "customfields"]}, FIELDS, "studies of the group, two fields")
    rows = [s for s in selected.get("studies") or [] if isinstance(s, dict)]
    expect(
        FIELDS,
        sorted(s.get("uuid") for s in rows) == sorted(studies),
        f"the group's namespace lists its studies: {[s.get('uuid') for s in rows]}",
    )
    for row in rows:
        expect(FIELDS, set(row) <= {"uuid", "customfields"}, f"fields.study=[uuid, customfields]: {sorted(row)}")
    matched = ok(
        ambra,
        "/study/list",
        {**in_group, f"filter.customfield-{text.get('uuid')}.equals": "v1"},
        CUSTOMFIELD_FILTER,
        "a custom field filter",
    )
    expect(
        CUSTOMFIELD_FILTER,
        [s.get("uuid") for s in matched.get("studies") or []] == [studies[1]],
        "customfield-UUID equals v1 finds that study",
    )


def test_client_setup_in_a_new_account(ambra: Any) -> None:
    """/account/add, then the whole setup in it, then /account/delete (skipped when the target has no /account/add for the suite)."""
    name = f"SDK test account {uuid.uuid4().hex[:8]}"
    response = ambra.call("/account/add", {"name": name})
    if response.status_code != 200:
        kind = (
            error_type(json_body(response, UNDOCUMENTED_ACCOUNTS, "/account/add")) if response.status_code == 412 else response.status_code
        )
        pytest.skip(f"the target offers the suite no /account/add (a system-administrator command beyond the public document): {kind}")
    body = json_body(response, UNDOCUMENTED_ACCOUNTS, "/account/add") or {}
    found = ok(ambra, "/account/list", {"filter.name.equals": name}, UNDOCUMENTED_ACCOUNTS, "finding the new account by name")
    accounts = [a for a in found.get("accounts") or [] if isinstance(a, dict)]
    account_id = str((accounts[0] if accounts else body).get("uuid") or "")
    setup = Setup(ambra, account_id)
    try:
        expect(UNDOCUMENTED_ACCOUNTS, len(accounts) == 1, f"/account/list finds the new account by its name: {len(accounts)}")
        duplicate = ambra.call("/account/add", {"name": name})
        expect(UNDOCUMENTED_ACCOUNTS, duplicate.status_code == 412, "a second account of that name is refused", duplicate)
        roles = ok(
            ambra, "/role/list", {"account_id": account_id, "filter.name.equals": "Administrator"}, UNDOCUMENTED_ACCOUNTS, "its roles"
        )
        expect(UNDOCUMENTED_ACCOUNTS, len(roles.get("roles") or []) == 1, "the new account has an Administrator role")
        user = ok(ambra, "/session/user", {}, FIELDS, "the suite's user")
        play(ambra, setup, str(user.get("uuid")))
        group_study = next((uuid_ for delete, uuid_ in setup.made if delete == "/study/delete"), None)
        if group_study:
            kept = ambra.call("/account/delete", {"uuid": account_id})
            expect(UNDOCUMENTED_ACCOUNTS, kept.status_code == 412, "an account that still holds studies is not deleted (NOT_EMPTY)", kept)
    finally:
        setup.remove()
        gone = ambra.call("/account/delete", {"uuid": account_id})
        expect(UNDOCUMENTED_ACCOUNTS, gone.status_code == 200, "/account/delete removes the emptied account", gone)
    after = ok(ambra, "/account/list", {"filter.name.equals": name}, UNDOCUMENTED_ACCOUNTS, "the account list after /account/delete")
    expect(UNDOCUMENTED_ACCOUNTS, not after.get("accounts"), f"the deleted account is gone: {after.get('accounts')}")


def test_client_setup_in_the_suites_account(ambra: Any) -> None:
    setup = Setup(ambra, ambra.account_id())
    try:
        user = ok(ambra, "/session/user", {}, FIELDS, "the suite's user")
        play(ambra, setup, str(user.get("uuid")))
    finally:
        setup.remove()


def test_study_set_with_a_sid_names_the_study_by_its_uuid(ambra: Any) -> None:
    namespace = ambra.namespace_id()
    setup = Setup(ambra, ambra.account_id())
    try:
        params = {"study_uid": f"2.25.{uuid.uuid4().int}", "phi_namespace": namespace, "storage_namespace": namespace, "modality": "CT"}
        added = setup.add("/study/add", params, STUDY_ADD, "a scratch study")
        body = refused(ambra, "/study/set", {"study_uid": params["study_uid"], "patient_name": "ONLY^UID"}, "MISSING_FIELDS", STUDY_SET_BY,
                       "/study/set with a sid and only the study_uid (the study_uid names a study under node authentication)")  # fmt: skip
        expect(
            MISSING_FIELDS,
            isinstance(body.get("error_subtype"), list),
            f"error_subtype lists the missing fields: {body.get('error_subtype')!r}",
        )
        ok(ambra, "/study/set", {"study_id": added.get("uuid"), "patient_name": "BY^UUID"}, STUDY_SET_BY, "/study/set by study_id")
    finally:
        setup.remove()


def test_customcode_zip_streams_back_the_upload(ambra: Any) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("main.py", "print('contract')")
    uploaded = buffer.getvalue()
    setup = Setup(ambra, ambra.account_id())
    try:
        params = {"account_id": ambra.account_id(), "name": "contract zip", "type": "AI_CUSTOM_VALIDATION_CODE", "language": "PYTHON",
                  "code": "x = 1", "zip": base64.b64encode(uploaded).decode()}  # fmt: skip
        code = setup.add("/customcode/add", params, ZIP_UPLOAD, "custom code with a zip")
        if not code.get("uuid"):
            return
        response = ambra.call("/customcode/zip", {"uuid": code["uuid"]})
        expect(ZIP_STREAM, response.status_code == 200, f"/customcode/zip answers 200, not {response.status_code}", response)
        expect(
            ZIP_STREAM,
            response.content == uploaded,
            f"/customcode/zip streams back the uploaded zip ({len(response.content)} of {len(uploaded)} bytes)",
            response,
        )
    finally:
        setup.remove()


def test_invalid_json_in_a_hash(ambra: Any) -> None:
    response = ambra.call(
        "/role/add", {"account_id": ambra.account_id(), "name": f"contract {uuid.uuid4().hex[:6]}", "settings": "bad_json"}
    )
    body = json_body(response, ERRORS, "/role/add with settings that are not JSON")
    if response.status_code == 200 and isinstance(body, dict) and body.get("uuid"):
        ambra.call("/role/delete", {"uuid": body["uuid"]})
    expect(ERRORS, response.status_code == 412, "settings that are not JSON are refused with a 412", response)
    expect(INVALID_JSON, error_type(body) == "INVALID_JSON", f"the error is INVALID_JSON: {body}", response)
    expected = ["INVALID_JSON", "settings"]
    expect(INVALID_JSON_LIST, isinstance(body, dict) and body.get("error_type") == expected, f"error_type is {expected}: {body}", response)
