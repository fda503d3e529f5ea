"""Whose permissions /session/permissions answers: the document's "The permissions for the user in this account",
and "An additional role_id=role.UUID is returned in each permissions JSON hash" (the Permissions section). The
role_id is the caller's role in the account asked about: the one /account/user/get gives for the member ("role_id •
uuid of the users account role"), not a role of another account the user belongs to, nor the Anonymous role of a
non-member. Tried with the User-role member the target names (AMBRA_USER_LOGIN), whose permissions flags alone
cannot tell its User role from the Anonymous one (study_view 1; group_edit, webhook_view, study_delete 0).
"""

from __future__ import annotations

import pytest

from medimock.ambra_contract import ERRORS, MAIN, STATUS, error_type, member_session, refused
from medimock.verdict import Document, expect, json_body

PERMISSIONS = Document.of(
    Document(MAIN, "The permissions for the user in this account", after="URL /session/permissions"),
    Document(MAIN, "An additional role_id=role.UUID is returned in each permissions JSON hash."),
)
MEMBER_ROLE = Document(MAIN, "role_id • uuid of the users account role", after="URL /account/user/get")
ORDER_VIEW = Document.of(
    Document(MAIN, "Permission order_view if sid authentication is used"),
    Document(MAIN, "NOT_PERMITTED • You are not permitted to view orders in this account", after="URL /order/sps/find"),
)


def test_session_permissions_name_the_callers_role_in_the_account(ambra, target):
    account = ambra.account_id()
    with member_session(ambra, target) as user:
        me = ambra.call("/session/user", sid=user)
        user_id = (json_body(me, STATUS, "/session/user of the User-role member") or {}).get("uuid")
        member = ambra.call("/account/user/get", {"uuid": account, "user_id": user_id})
        if member.status_code != 200:
            pytest.skip(f"the administrator may not read the member's account record (/account/user/get: {member.status_code})")
        role = (json_body(member, MEMBER_ROLE, "/account/user/get of the User-role member") or {}).get("role_id")
        expect(MEMBER_ROLE, isinstance(role, str) and bool(role), f"/account/user/get names the member's role: {role!r}", member)
        response = ambra.call("/session/permissions", {"account_id": account}, sid=user)
        expect(
            PERMISSIONS,
            response.status_code == 200,
            f"/session/permissions of the member succeeds; it answered {response.status_code}",
            response,
        )
        perms = json_body(response, PERMISSIONS, "/session/permissions of the User-role member") or {}
        found = perms.get("role_id") if isinstance(perms, dict) else None
        expect(
            PERMISSIONS,
            found == role,
            f"the permissions' role_id is the member's role in account {account} ({role}), not {found!r}",
            response,
        )


def test_order_sps_find_with_a_sid_needs_order_view(ambra, target):
    """/order/sps/find takes "(sid || node_id && serial_no)"; with a sid it needs order_view ("Permission order_view if
    sid authentication is used"). The User-role member whose /session/permissions says order_view 0 is refused with
    NOT_PERMITTED; a member the server lets view orders is not a case for this check (skipped)."""
    account = ambra.account_id()
    with member_session(ambra, target) as user:
        response = ambra.call("/session/permissions", {"account_id": account}, sid=user)
        perms = json_body(response, PERMISSIONS, "/session/permissions of the User-role member") if response.status_code == 200 else None
        if not isinstance(perms, dict) or perms.get("order_view") not in (0, "0", False):
            pytest.skip(f"the User-role member's permissions do not say order_view 0 ({(perms or {}).get('order_view')!r})")
        refused(ambra, "/order/sps/find", {"account_id": account}, "NOT_PERMITTED", ORDER_VIEW,
                "/order/sps/find with the sid of a member without order_view", sid=user)  # fmt: skip


TEMPLATE_ADD = Document.of(
    Document(MAIN, "Permission sysadmin or support", after="URL /radreport/template/add"),
    Document(MAIN, "NOT_SYSADMIN_OR_SUPPORT • The user is not a sysadmin or support user", after="URL /radreport/template/add"),
)


def test_radreport_template_add_needs_sysadmin_or_support(ambra, target):
    """/radreport/template/add has "Permission sysadmin or support" and the error "NOT_SYSADMIN_OR_SUPPORT • The user is not
    a sysadmin or support user". The User-role member, whose /session/user says sysadmin 0 and support 0, is refused with
    every documented parameter given: an HTTP 412 error hash, NOT_SYSADMIN_OR_SUPPORT (the command documents no other
    refusal). A member the target makes a sysadmin or support user is not a case for this check (skipped)."""
    account = ambra.account_id()
    with member_session(ambra, target) as user:
        made = None
        try:
            me = json_body(ambra.call("/session/user", sid=user), STATUS, "/session/user of the User-role member") or {}
            flags = {name: me.get(name) if isinstance(me, dict) else None for name in ("sysadmin", "support")}
            if any(value not in (0, "0") for value in flags.values()):
                pytest.skip(f"the User-role member's /session/user does not say sysadmin 0 and support 0 ({flags})")
            params = {"account_id": account, "type": "medimock_contract", "name": "medimock contract template", "body": "Findings:"}
            response = ambra.call("/radreport/template/add", params, sid=user)
            body = json_body(response, TEMPLATE_ADD, "/radreport/template/add with the sid of the User-role member")
            if response.status_code == 200 and isinstance(body, dict) and isinstance(body.get("uuid"), str):
                made = body["uuid"]
            what = "/radreport/template/add with the sid of a member who is neither sysadmin nor support"
            expect(ERRORS, response.status_code == 412, f"{what}: an HTTP 412 error hash, not {response.status_code}", response)
            found = error_type(body)
            expect(
                TEMPLATE_ADD,
                found == "NOT_SYSADMIN_OR_SUPPORT",
                f"{what}: error_type NOT_SYSADMIN_OR_SUPPORT, not {found!r}",
                response,
            )
        finally:
            if made:
                ambra.call("/radreport/template/delete", {"uuid": made})
