"""What a newcomer sees of Ambra (``GET /`` and ``/docs``): a first call, and seeded values for "Try it out"."""

from __future__ import annotations

from typing import Any

from ...api import DocsExamples
from . import API, credentials
from . import store as ambra_store
from .catalog import plan_for

API.quickstart = """\
SID=$(curl -s -d login={login} -d password={password} {base_url}/session/login \\
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["sid"])')
curl -s {base_url}/study/list -d sid=$SID -d page.rows=5 -d filter.modality.equals=CT -d sort_by=study_date-desc
curl -s -u {login}:{password} "{base_url}/session/user\""""

_IDENTIFIED = ("get", "set", "delete")  # actions on one object, named by its uuid
_ENOUGH = frozenset({"sid", "uuid"})  # a command that needs more (account/user/get: uuid and user_id) keeps its fields empty


def docs_examples(app: Any) -> DocsExamples:
    """The administrator's login, account and namespace; for each command on one object that only needs its uuid,
    an object of that kind in the administrator's account (a seeded study for the study commands)."""
    seeded = credentials(app, "")
    values: dict[str, Any] = {"account_id": seeded.get("account_id"), "namespace_id": seeded.get("namespace_id")}
    for operation_id in ("session_login", "session_login_get"):
        values.update({f"{operation_id}.login": seeded.get("login"), f"{operation_id}.password": seeded.get("password")})
    for operation_id in ("session_oauth_token", "session_oauth_token_get"):
        values.update(
            {
                f"{operation_id}.client_id": seeded.get("oauth_client_id"),
                f"{operation_id}.client_secret": seeded.get("oauth_client_secret"),
                f"{operation_id}.grant_type": "client_credentials",
            }
        )
    db = ambra_store.AmbraStore(app.store)
    study = app.store.query_one(
        "SELECT uuid FROM ambra_studies WHERE phi_namespace = ? ORDER BY seq LIMIT 1", (seeded.get("namespace_id"),)
    )
    first: dict[str, str | None] = {
        "study": study["uuid"] if study else None,
        "user": seeded.get("user_uuid"),
        "account": seeded.get("account_id"),
        "namespace": seeded.get("namespace_id"),
    }
    for operation in app.by_name["ambra"].spec.operations:
        meta = operation.extensions.get("x-medimock") or {}
        resource = meta.get("resource")
        plan = plan_for(operation.operation_id)
        if not resource or meta.get("action") not in _IDENTIFIED or plan is None or not set(plan.required) <= _ENOUGH:
            continue
        if resource not in first:
            found = db.objects("kind = ? AND account_id = ?", [resource, seeded.get("account_id")], limit=1) or db.objects(
                "kind = ? AND namespace_id = ?", [resource, seeded.get("namespace_id")], limit=1
            )
            first[resource] = found[0].get("uuid") if found else None
        if first[resource]:
            values[f"{operation.operation_id}.uuid"] = first[resource]
    return DocsExamples({key: value for key, value in values.items() if value is not None})


API.docs_examples = docs_examples
