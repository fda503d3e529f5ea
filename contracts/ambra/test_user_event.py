"""/user/event/set then /user/event for the suite's own user in the suite's namespace: "Set the users event flags for a
namespace", "Get the users event flags for a namespace" ("event_upload • Notify the user on an upload into the
namespace"). The suite flips its user's event_upload flag there, reads the new value back, and sets the flag back to
what it was, so the target keeps its user's notifications as it found them. The User-role member the target names
(AMBRA_USER_LOGIN), neither sysadmin nor support and without user_modify_others_notifications by its /session/permissions,
is refused the administrator's flags ("To set event flags of an other user you must be a sysadmin user, a support user for
the namespace or have a role with the user_modify_others_notifications permission"); a member with that standing is not a
case for the check (skipped).
"""

from __future__ import annotations

import pytest

from medimock.ambra_contract import MAIN, flag, member_session, ok, refused
from medimock.verdict import Document, expect, json_body

GET = "Description Get the users event flags for a namespace"
SET = "Description Set the users event flags for a namespace"
EVENTS = Document.of(
    Document(MAIN, SET, lines=2),
    Document(MAIN, GET, lines=2),
    Document(MAIN, "event_upload • Notify the user on an upload into the namespace (optional)", after=GET),
)


def as_hash(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def test_event_flags_set_are_the_event_flags_got(ambra):
    namespace = ambra.namespace_id()
    before = flag(ok(ambra, "/user/event", {"namespace_id": namespace}, EVENTS, "/user/event of the suite's namespace").get("event_upload"))
    if before is None:
        before = 0  # not answered: the check below says so; the flag is put back to 0 afterwards
    wanted = 1 - before
    try:
        ok(ambra, "/user/event/set", {"namespace_id": namespace, "event_upload": wanted}, EVENTS, f"/user/event/set event_upload={wanted}")
        got = ok(ambra, "/user/event", {"namespace_id": namespace}, EVENTS, "/user/event after the set").get("event_upload")
        expect(EVENTS, flag(got) == wanted, f"/user/event answers the event_upload flag /user/event/set stored ({wanted}), not {got!r}")
    finally:
        ambra.call("/user/event/set", {"namespace_id": namespace, "event_upload": before})


OTHERS = Document.of(
    Document(MAIN, "To set event flags of an other user you must be a sysadmin user", after=SET),
    Document(MAIN, "NOT_PERMITTED • You are not allowed to set user's event flags"),
)


def test_a_member_may_not_set_another_users_event_flags(ambra, target):
    namespace, account = ambra.namespace_id(), ambra.account_id()
    admin = ok(ambra, "/session/user", {}, OTHERS, "/session/user of the suite's administrator").get("uuid")
    with member_session(ambra, target) as member:
        me = as_hash(json_body(ambra.call("/session/user", sid=member), OTHERS, "/session/user of the member"))
        perms = as_hash(
            json_body(ambra.call("/session/permissions", {"account_id": account}, sid=member), OTHERS, "the member's permissions")
        )
        standing = [me.get("sysadmin"), me.get("support"), perms.get("user_modify_others_notifications")]
        if any(str(flag) not in ("0", "False", "None") for flag in standing) or not admin:
            pytest.skip(f"the member is sysadmin, support or may modify others' notifications ({standing})")
        refused(ambra, "/user/event/set", {"namespace_id": namespace, "uuid": admin, "event_upload": 1}, "NOT_PERMITTED", OTHERS,
                "/user/event/set of the administrator's flags by the member", sid=member)  # fmt: skip
