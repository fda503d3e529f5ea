"""/namespace/settings of the suite's namespace: "Set/get the settings for the namespace".

- The namespace's own setting ``no_dup_share`` ("Flag to stop duplicate studies ... from getting shared into the
  namespace"; returned as "no_dup_share • The setting value") set to the other value is what a later get answers; it is
  put back afterwards.
- An account setting the namespace may override ("-- The following account settings can be over-ridden in the namespace
  --": ``reverse_patient_name``) set there is among the "Account settings that have been over-ridden in the namespace"
  of a later get, and is gone after "Use the value __DELETE__ to delete an account-overriden setting". A namespace that
  already overrides it is not a case for that part (the suite would change what it found).
- "Permission account_edit or ownership for a PHR namespace to modify the settings": the User-role member the target
  names (AMBRA_USER_LOGIN; skipped without), without account_edit by its /session/permissions, may not modify the
  settings of the administrator's own (PHR) namespace.
"""

from __future__ import annotations

from medimock.ambra_contract import MAIN, flag, member_session, ok, refused
from medimock.verdict import Document, expect, json_body

SETTINGS = "Description Set/get the settings for the namespace"
OWN = Document.of(
    Document(MAIN, SETTINGS, lines=4),
    Document(MAIN, "no_dup_share • The setting value"),
)
OVERRIDE = Document.of(
    Document(MAIN, "The following account settings can be over-ridden in the namespace"),
    Document(MAIN, "reverse_patient_name • Value for the setting (optional)"),
    Document(MAIN, "Account settings that have been over-ridden in the namespace"),
    Document(MAIN, "Use the value __DELETE__ to delete an account-overriden setting"),
)


def test_a_namespace_setting_set_is_the_setting_got(ambra):
    namespace = ambra.namespace_id()
    before = flag(
        ok(ambra, "/namespace/settings", {"uuid": namespace}, OWN, "/namespace/settings of the suite's namespace").get("no_dup_share")
    )
    wanted = 1 - (before or 0)
    try:
        ok(ambra, "/namespace/settings", {"uuid": namespace, "no_dup_share": wanted}, OWN, f"/namespace/settings no_dup_share={wanted}")
        got = ok(ambra, "/namespace/settings", {"uuid": namespace}, OWN, "/namespace/settings after the set").get("no_dup_share")
        expect(OWN, flag(got) == wanted, f"/namespace/settings answers the no_dup_share it stored ({wanted}), not {got!r}")
    finally:
        ambra.call("/namespace/settings", {"uuid": namespace, "no_dup_share": before or 0})


def test_an_account_setting_overridden_in_the_namespace_is_listed_until_deleted(ambra):
    namespace = ambra.namespace_id()
    before = ok(ambra, "/namespace/settings", {"uuid": namespace}, OVERRIDE, "/namespace/settings of the suite's namespace")
    if "reverse_patient_name" in before:
        return  # the namespace overrides it already: not the suite's to change
    try:
        ok(ambra, "/namespace/settings", {"uuid": namespace, "reverse_patient_name": 1}, OVERRIDE, "overriding reverse_patient_name")
        got = ok(ambra, "/namespace/settings", {"uuid": namespace}, OVERRIDE, "/namespace/settings after the override")
        expect(OVERRIDE, flag(got.get("reverse_patient_name")) == 1, f"the override is among the settings answered: {got}")
    finally:
        ambra.call("/namespace/settings", {"uuid": namespace, "reverse_patient_name": "__DELETE__"})
    after = ok(ambra, "/namespace/settings", {"uuid": namespace}, OVERRIDE, "/namespace/settings after __DELETE__")
    expect(OVERRIDE, "reverse_patient_name" not in after, f"the override deleted with __DELETE__ is no longer answered: {after}")


PHR = Document(MAIN, "Permission account_edit or ownership for a PHR namespace to modify the settings")


def test_a_member_may_not_modify_the_settings_of_anothers_phr_namespace(ambra, target):
    namespaces = ok(ambra, "/session/user", {}, PHR, "/session/user of the administrator").get("namespaces")
    kinds = {ns.get("type"): ns.get("uuid") for ns in namespaces if isinstance(ns, dict)} if isinstance(namespaces, list) else {}
    personal = kinds.get("user_id")
    if not personal:
        return  # the administrator has no PHR namespace to try
    with member_session(ambra, target) as member:
        perms = json_body(
            ambra.call("/session/permissions", {"account_id": ambra.account_id()}, sid=member), PHR, "the member's permissions"
        )
        if not isinstance(perms, dict) or str(perms.get("account_edit")) == "1":
            return  # a member who may edit the account is not the case
        params = {"uuid": personal, "no_dup_share": 1}
        refused(
            ambra, "/namespace/settings", params, "NOT_PERMITTED", PHR, "the member modifying the administrator's PHR namespace", sid=member
        )
