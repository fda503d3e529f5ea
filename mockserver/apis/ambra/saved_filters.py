"""Saved filters have an owner and shares: /filter/add, /filter/get, /filter/set, /filter/delete, /filter/list and
/filter/share, /filter/share/stop, /filter/share/list.

- "List the filters the user has": a filter is its owner's (whoever added it) and of those it is shared with
  ("Share a filter": "uuid of the account, location, group, user, or role to share this filter with"): a member of the
  account, location or group, the user, or a holder of the role. /filter/get of any other filter is NOT_FOUND ("The
  filter can not be found"), and /filter/list does not list it.
- /filter/get answers "owner • Flag if the user is the owner of this filter".
- /filter/set, /filter/delete, /filter/share and /filter/share/stop are the owner's: NOT_PERMITTED ("You are not the owner
  of the filter") for anyone else who sees it. /filter/share takes one destination: INVALID_PARAMETERS ("Only pass a
  account_id or a location_id or a group_id or a user_id") for several, NOT_FOUND naming the key of one that does not
  exist.
- /filter/share/list answers, per kind of destination, "A list of the account_id's [...] the filter is shared with".

A filter stored without an owner (the seeded ones) is shared with its account, as before owners were kept. A system
administrator sees and may change every filter.
"""

from __future__ import annotations

from typing import Any

from ...http import MockResponse
from .call import Call, ambra_error
from .engine import ACTIONS, VISIBLE, check_references, command, do_add, do_list, ok, output
from .shapes import new_uuid

KIND = "filter"
SHARE = "filter_share"
OWNER = "_owner"  # private: not in any reply
DESTINATIONS = ("account_id", "location_id", "group_id", "user_id", "role_id")


def _mine(call: Call) -> list[str]:
    """The share keys that reach the caller: the user, their accounts, groups, locations and roles."""
    keys = [f"user_id:{call.user_id}"]
    for membership in call.memberships():
        keys.append(f"account_id:{membership['__parent_id']}")
        if membership.get("role_id"):
            keys.append(f"role_id:{membership['role_id']}")
    for unit in call.db.objects("kind IN ('group_user', 'location_user') AND key = ?", [call.user_id]):
        keys.append(f"{unit['__kind'].split('_')[0]}_id:{unit['__parent_id']}")
    return keys


def _visible_clause(call: Call) -> tuple[str, list[Any]]:
    if call.user.get("sysadmin") == 1:
        return "1", []
    keys = _mine(call)
    marks = ",".join("?" * len(keys))
    clause = (
        f"(json_extract(data, '$.{OWNER}') IS NULL OR json_extract(data, '$.{OWNER}') = ? "
        f"OR uuid IN (SELECT parent_id FROM ambra_objects WHERE kind = '{SHARE}' AND key IN ({marks})))"
    )
    return clause, [call.user_id, *keys]


VISIBLE[KIND] = _visible_clause


def _filter(call: Call, owned: bool = False) -> dict[str, Any]:
    """The filter ``uuid`` names, if the caller sees it (NOT_FOUND otherwise); ``owned``: if the caller owns it."""
    clause, args = _visible_clause(call)
    found = call.db.objects(f"kind = ? AND uuid = ? AND {clause}", [KIND, str(call.get("uuid")), *args])
    if not found:
        raise ambra_error("NOT_FOUND", "uuid")
    owner = found[0].get(OWNER)
    if owned and owner is not None and owner != call.user_id and call.user.get("sysadmin") != 1:
        raise ambra_error("NOT_PERMITTED", "uuid")
    return found[0]


def _info(call: Call) -> Any:
    return call.catalog.resources[KIND]


@command("/filter/add")
def filter_add(call: Call) -> MockResponse:
    call.check()
    call.require_session()
    response = do_add(call, _info(call))
    if isinstance(response.body, dict) and response.body.get("uuid"):
        call.db.update(str(response.body["uuid"]), {OWNER: call.user_id})
    return response


@command("/filter/get")
def filter_get(call: Call) -> MockResponse:
    call.check()
    call.require_session()
    found = _filter(call)
    call.require_permission(found.get("__account_id"))
    return ok({**output(call, _info(call), found), "owner": _owner_flag(call, found)})


def _owner_flag(call: Call, found: dict[str, Any]) -> int:
    """ "Flag if the user is the owner of this filter" (one without an owner: its account's members')."""
    owner = found.get(OWNER)
    return int(owner == call.user_id if owner is not None else found.get("__account_id") in call.account_ids())


@command("/filter/set", "/filter/delete")
def filter_change(call: Call) -> MockResponse:
    """The owner's: the generic set or delete once the caller is found to own the filter."""
    call.check()
    call.require_session()
    _filter(call, owned=True)
    return ACTIONS[str(call.plan.action)](call, _info(call))


@command("/filter/list")
def filter_list(call: Call) -> MockResponse:
    call.check()
    call.require_session()
    response = do_list(call, _info(call))  # engine.list_scope adds _visible_clause
    rows = response.body.get("filters") if isinstance(response.body, dict) else None
    uuids = [row["uuid"] for row in rows or [] if isinstance(row, dict) and row.get("uuid")]
    if uuids:  # "the same fields as the /filter/get call": the owner flag is the caller's
        stored = {f["uuid"]: f for f in call.db.objects(f"kind = ? AND uuid IN ({','.join('?' * len(uuids))})", [KIND, *uuids])}
        for row in rows or []:
            if isinstance(row, dict) and row.get("uuid") in stored:
                row["owner"] = _owner_flag(call, stored[row["uuid"]])
    return response


def _destinations(call: Call) -> list[tuple[str, str]]:
    return [(name, str(call.get(name))) for name in DESTINATIONS if isinstance(call.get(name), str) and call.get(name)]


@command("/filter/share")
def filter_share(call: Call) -> MockResponse:
    call.check()
    call.require_session()
    found = _filter(call, owned=True)
    given = _destinations(call)
    if len(given) > 1:
        raise ambra_error("INVALID_PARAMETERS")
    check_references(call)
    [(name, target)] = given  # call.check: at least one of the alternatives
    key = f"{name}:{target}"
    if call.db.child(SHARE, found["uuid"], key) is None:
        call.db.insert(SHARE, new_uuid(), {"type": name, "target": target}, parent_id=found["uuid"], key=key)
    return ok()


@command("/filter/share/stop")
def filter_share_stop(call: Call) -> MockResponse:
    call.check()
    call.require_session()
    found = _filter(call, owned=True)
    for name, target in _destinations(call):
        share = call.db.child(SHARE, found["uuid"], f"{name}:{target}")
        if share is not None:
            call.db.delete(share["uuid"])
    return ok()


@command("/filter/share/list")
def filter_share_list(call: Call) -> MockResponse:
    call.check()
    call.require_session()
    found = _filter(call)
    shares = call.db.objects("kind = ? AND parent_id = ?", [SHARE, found["uuid"]])
    return ok({name: [s["target"] for s in shares if s.get("type") == name] for name in DESTINATIONS})
