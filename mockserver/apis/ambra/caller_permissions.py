"""The caller's permission flags where a study or namespace lives: /study/permissions and /namespace/permissions.

Each documented field ("study_edit • The permission flag setting", ...) is the flag of the caller's role in the account
that holds the study or namespace (what /session/permissions answers for that account, and /study/get's
``permissions``), 0 where the role has no such flag or the caller is not a member. /namespace/permissions leaves out
``reports`` (every report is viewable in the mock) and ``oauth`` (no OAuth token is issued for a namespace here). The study or namespace must exist
(NOT_FOUND) and be one the caller sees (a study elsewhere is NOT_FOUND, as /study/get answers it).
"""

from __future__ import annotations

from typing import Any

from ...http import MockResponse
from .call import Call
from .engine import command, ok
from .studies import locate


def flags(call: Call, account_id: Any) -> dict[str, Any]:
    """The command's documented fields, each the caller's flag in the account."""
    perms = call.permissions(str(account_id)) if call.principal is not None and account_id else {}
    body = call.catalog.template(call.plan)
    documented = body if isinstance(body, dict) else {}
    # not flags: "reports" ("not returned if they can view all reports": the mock's roles do) and "oauth" (the token hash)
    return {name: perms.get(name, 0) for name, value in documented.items() if name != "status" and not isinstance(value, (dict, list))}


@command("/study/permissions")
def study_permissions(call: Call) -> MockResponse:
    call.check()
    study = locate(call)
    return ok(flags(call, study.get("account_id")))


@command("/namespace/permissions")
def namespace_permissions(call: Call) -> MockResponse:
    call.check()
    namespace_id = call.get("namespace_id")
    if namespace_id is not None:
        namespace = call.db.object(str(namespace_id), "namespace")
        if namespace is None:
            raise call.error("NOT_FOUND", subtype="namespace_id")
        account_id = call.namespace_account(namespace)  # a personal namespace: its owner's account role, as /session/permissions
    else:
        account_id = locate(call, "study_id").get("account_id")
    return ok(flags(call, account_id))
