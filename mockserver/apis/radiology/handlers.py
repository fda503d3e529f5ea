"""Radiology operation handlers, one per operationId of specs/radiology/openapi.yaml.

The core has already checked the Bearer token and its scope (401, 403) and validated
the parameters (400, including ``x-medimock-one-of-params``). What is left, in the
README's order: a repeated parameter (400), the organisation (403 ``access_denied`` on
``/reports``), then the lookups (404, where another organisation's data looks unknown).
Every call is written to the audit log.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from medimock.fixtures import radiology as fixtures

from ...api import Context
from ...http import MockResponse, Problem, json_response
from . import API
from .audit import record_request, returned
from .store import RadiologyStore, report_body


def db(ctx: Context) -> RadiologyStore:
    return RadiologyStore(ctx.store)


def not_found(message: str) -> Problem:
    return Problem("not_found", 404, message)


def caller_org(ctx: Context) -> str | None:
    """The organisation whose data the caller may see (None: every one, under a defect)."""
    if ctx.defect("radiology.other_org_visible") or ctx.principal is None:
        return None
    org = ctx.principal.data.get("organization_id")
    return str(org) if org is not None else None


Audit = dict[str, Any]
Handler = Callable[[Context, Audit], MockResponse]


def endpoint(operation_id: str) -> Callable[[Handler], Handler]:
    """Register a handler that refuses repeated parameters and writes the audit log.

    The handler gets the audit row's ``who`` (``client_id``, ``organization_id``: the
    token's, or the client a token request names) and may fill in what it learns.
    """

    def register(function: Handler) -> Handler:
        def run(ctx: Context) -> MockResponse:
            audit: Audit = {"client_id": None, "organization_id": None}
            if ctx.principal is not None:
                audit = {"client_id": ctx.principal.identity, "organization_id": ctx.principal.data.get("organization_id")}
            try:
                _refuse_repeated(ctx)
                response = function(ctx, audit)
            except Problem as problem:
                refusal = {"error_description": problem.message[:300]}
                record_request(
                    ctx.app, ctx.request, operation_id, audit["client_id"], audit["organization_id"], problem.status, problem.kind, refusal
                )
                raise
            detail = audit.get("detail", returned(response.body))
            record_request(ctx.app, ctx.request, operation_id, audit["client_id"], audit["organization_id"], response.status, "ok", detail)
            return response

        run.__name__ = function.__name__
        run.__doc__ = function.__doc__
        API.handler(operation_id)(run)
        return function

    return register


def _refuse_repeated(ctx: Context) -> None:
    """RFC 6749 §3.1 / README: a parameter sent more than once is an invalid_request."""
    declared = {p.name for p in ctx.operation.parameters}
    pairs = list(ctx.request.query)
    if ctx.request.form and ctx.operation.body is not None:
        media = ctx.operation.body.content.get("application/x-www-form-urlencoded")
        if media is not None:
            declared |= set(media.schema.get("properties") or {})
            pairs += list(ctx.request.form)
    repeated = sorted(name for name, count in Counter(name for name, _ in pairs).items() if count > 1 and name in declared)
    if repeated:
        raise Problem("invalid_request", 400, f"parameter {', '.join(repeated)} must not be repeated")


# -- token endpoint ----------------------------------------------------------------------
def _issue(ctx: Context, audit: Audit, client_id: str, client_secret: str, scope: str | None, basic: bool) -> MockResponse:
    store = db(ctx)
    audit["client_id"] = client_id
    client = store.client(client_id)
    secret_ok = client is not None and hmac.compare_digest(client["secret_hash"], fixtures.hash_secret(client_secret))
    if client is None or not secret_ok:
        raise Problem("invalid_client", 401, "client authentication failed", extra={"basic": basic})
    audit["organization_id"] = client["organization_id"]
    if fixtures.GRANT not in client["grant_types"].split():
        raise Problem("unauthorized_client", 400, "this client may not use the client_credentials grant")
    allowed = client["scopes"].split()
    requested = allowed if scope is None else sorted(set(scope.split()))
    refused = [s for s in requested if s not in allowed]
    if refused or not requested:
        raise Problem("invalid_scope", 400, f"scope {' '.join(refused) or '(none)'} is not allowed for this client")
    token = secrets.token_urlsafe(32)
    ttl = int(ctx.app.config.token_ttl)
    store.add_token(token, client, requested, store.now(), ttl)
    body = {"access_token": token, "token_type": "Bearer", "expires_in": ttl, "scope": " ".join(requested)}
    audit["detail"] = {"scope": body["scope"], "expires_in": ttl}
    return json_response(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


@endpoint("getTokenGet")
def get_token_get(ctx: Context, audit: Audit) -> MockResponse:
    query = ctx.query
    return _issue(ctx, audit, query["client_id"], query["client_secret"], query.get("scope"), basic=False)


@endpoint("getToken")
def get_token(ctx: Context, audit: Audit) -> MockResponse:
    body = ctx.body if isinstance(ctx.body, dict) else {}
    keyword, _, encoded = ctx.request.header("Authorization").strip().partition(" ")
    in_body = [name for name in ("client_id", "client_secret") if name in body]
    if keyword.lower() == "basic":
        if in_body:
            raise Problem(
                "invalid_request", 400, "use one client authentication method: HTTP Basic or client_id/client_secret in the body, not both"
            )
        client_id, client_secret = _basic(encoded.strip())
        return _issue(ctx, audit, client_id, client_secret, body.get("scope"), basic=True)
    if not in_body:
        raise Problem("invalid_client", 401, "client authentication is required (HTTP Basic, or client_id and client_secret in the body)")
    missing = [name for name in ("client_id", "client_secret") if name not in body]
    if missing:
        raise Problem("invalid_request", 400, f"{missing[0]} is required")
    return _issue(ctx, audit, str(body["client_id"]), str(body["client_secret"]), body.get("scope"), basic=False)


def _basic(encoded: str) -> tuple[str, str]:
    """RFC 6749 §2.3.1: base64 of ``urlencoded(id):urlencoded(secret)``."""
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise Problem("invalid_client", 401, "malformed HTTP Basic credentials", extra={"basic": True}) from exc
    client_id, colon, client_secret = decoded.partition(":")
    if not colon or not client_id:
        raise Problem("invalid_client", 401, "malformed HTTP Basic credentials", extra={"basic": True})
    return unquote(client_id.replace("+", " ")), unquote(client_secret.replace("+", " "))


# -- status ------------------------------------------------------------------------------
def _order_for(ctx: Context) -> Any:
    """The order named by ``order_id``, or the most recent of ``study_uid`` (of the caller's organisation)."""
    org = caller_org(ctx)
    if ctx.query.get("order_id") is not None:
        order = db(ctx).order(ctx.query["order_id"], org)
        if order is None:
            raise not_found(f"no order {ctx.query['order_id']}")
        return order
    uid = ctx.query["study_uid"]
    orders = db(ctx).study_orders(uid, org, oldest_first=ctx.defect("radiology.status_not_most_recent"))
    if not orders:
        raise not_found(f"no order for study {uid}")
    return orders[0]


@endpoint("getStatus")
def get_status(ctx: Context, audit: Audit) -> MockResponse:
    view, _ = db(ctx).view(_order_for(ctx), db(ctx).now())
    return json_response(view.status_body())


@endpoint("getOrderIds")
def get_order_ids(ctx: Context, audit: Audit) -> MockResponse:
    uid = ctx.query["study_uid"]
    orders = db(ctx).study_orders(uid, caller_org(ctx))
    if not orders:
        raise not_found(f"no order for study {uid}")
    return json_response({"studyUid": uid, "orderIds": [row["order_id"] for row in orders]})


# -- reports -----------------------------------------------------------------------------
@endpoint("getResults")
def get_results(ctx: Context, audit: Audit) -> MockResponse:
    report_type = ctx.query["report_type"]
    view, reports = db(ctx).view(_order_for(ctx), db(ctx).now())
    found = next((r for r in reports if r["report_type"] == report_type and report_type in view.report_types), None)
    if found is None:
        raise not_found(f"order {view.order_id} has no {report_type} report (yet)")
    return json_response(report_body(found, view))


@endpoint("getGroupReport")
def get_group_report(ctx: Context, audit: Audit) -> MockResponse:
    group, report_type = ctx.query["study_group"], ctx.query["report_type"]
    orders = db(ctx).group_orders(group, caller_org(ctx))
    if not orders:
        raise not_found(f"no study group {group}")
    org = orders[0]["organization_id"]
    orders = [o for o in orders if o["organization_id"] == org]
    report = db(ctx).group_report(group, org, report_type, db(ctx).now())
    if report is None:
        raise not_found(f"study group {group} has no {report_type} report (yet)")
    uids = list(dict.fromkeys(o["study_uid"] for o in orders))
    return json_response(
        {
            "reportId": report["report_id"],
            "studyGroup": group,
            "reportType": report_type,
            "studyUids": uids,
            "orderIds": [o["order_id"] for o in orders],
            "contentType": "text/plain",
            "reportText": report["report_text"],
            "createdAt": fixtures.epoch_iso(report["created_at"]),
        }
    )


# -- batch poll and acknowledgement --------------------------------------------------------
def _polled_org(ctx: Context) -> str:
    wanted = ctx.query["organizationId"]
    own = ctx.principal.data.get("organization_id") if ctx.principal is not None else None
    if own is not None and wanted != own and not ctx.defect("radiology.other_org_visible"):
        raise Problem("access_denied", 403, "organizationId does not match the client's organisation")
    return str(wanted)


@endpoint("pollReports")
def poll_reports(ctx: Context, audit: Audit) -> MockResponse:
    org = _polled_org(ctx)
    return json_response(db(ctx).poll(org, db(ctx).now()))


@endpoint("acknowledgeReports")
def acknowledge_reports(ctx: Context, audit: Audit) -> MockResponse:
    org = _polled_org(ctx)
    body = ctx.body if isinstance(ctx.body, dict) else {}
    order_ids = body.get("orderIds")
    outcome = db(ctx).acknowledge(org, order_ids, db(ctx).now(), dry_run=ctx.defect("radiology.ack_ignored"))
    if outcome is None:
        unknown = ", ".join(order_ids or [])
        raise not_found(f"not every order is known to organisation {org}: {unknown[:200]}")
    count, acknowledged = outcome
    return json_response({"acknowledged": count, "orderIds": acknowledged})
