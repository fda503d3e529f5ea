"""The caller's permission flags where a study or namespace lives: /study/permissions and /namespace/permissions.

Each documented field ("study_edit • The permission flag setting", ...) is the flag of the caller's role in the account
that holds the study or namespace (what /session/permissions answers for that account, and /study/get's
``permissions``), 0 where the role has no such flag or the caller is not a member. /namespace/permissions leaves out
``reports`` ("not returned if they can view all reports": every role of the mock can). With ``oauth`` ("Flag to return
the OAuth token information for the user") it answers "oauth • A JSON hash containing the the OAuth token and ttl": a new
OAuth token of the caller's, as /session/oauth/token issues with its default duration. The hash's keys are a medimock
convention, since the document names none: ``access_token`` (/session/oauth/token's name, usable as its Bearer value)
and ``ttl`` (its seconds to live). The study or namespace must exist (NOT_FOUND) and be one the caller sees (a study
elsewhere is NOT_FOUND, as /study/get answers it).
"""

from __future__ import annotations

from typing import Any

from ...http import MockResponse
from .auth import Sessions
from .call import Call
from .engine import command, ok
from .session import TOKEN_DEFAULT_SECONDS
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
    answer = flags(call, account_id)
    if call.get("oauth") in (1, "1", True, "true") and call.principal is not None:  # a user's, not a node's
        token = Sessions(call.ctx.store).create(call.user_id, "oauth", TOKEN_DEFAULT_SECONDS)
        answer["oauth"] = {"access_token": token["sid"], "ttl": TOKEN_DEFAULT_SECONDS}
    return ok(answer)
