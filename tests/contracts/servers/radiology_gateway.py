"""A radiology report retrieval server behind an API-gateway-style front end, with other habits than medimock.

Written from the vendor document (specs/sources/radiology-report-retrieval-api.txt: "AWS KMS-protected
storage", so an AWS-style gateway in front of a function), not from the mock, with bugs on purpose, so that
the suite's verdict on it can be asserted:

- the gateway's own answers are ``{"message": "..."}``: 401 ``Unauthorized`` without ``WWW-Authenticate``
  for a missing token; **403** (where medimock says 401) for an ``Authorization`` header that is not a
  Bearer token and for an expired token; 403 ``Missing Authentication Token`` for a route or method it
  does not know; 413 ``Request Too Long`` over 16 KiB; 501 for a method no HTTP front end knows (QUERY);
- the function's errors: an unknown order, study, group or report is a **plain-text** 404 ``Not Found``;
  token errors are ``{"error": "<code>"}`` without a description, and a wrong client secret is a 400
  ``invalid_client`` (RFC 6749 allows it); another organisation on ``/reports`` is 403 ``Forbidden``;
- it does not validate ``report_type`` or the form of ``study_uid`` (an unknown value finds nothing: 404),
  uses ``order_id`` when both ids are sent, crashes (a gateway 502 ``Internal server error``) on a
  ``study_uid`` over 64 characters, omits ``studyGroup`` when an order has none, names the scope of a
  token only when one was asked for, silently narrows a scope the client is not allowed (RFC 6749 §3.3),
  lists the poll newest first, and answers an acknowledgement with ``{"status": "OK", "count": n}``;
- bugs (the document's): ``/orderId`` lists only the most recent order of a study ("order ID(s)");
  ``/results`` by ``study_uid`` uses the study's *oldest* order ("only the most recent is returned");
  ``/orderId`` does not check the token's scope (a report-retrieval token is enough).

It has no medimock control API. Seeded (see ``SEEDS`` for the environment a suite run needs):
organisation ``org-northwind`` with client ``northwind-ris`` (both scopes) and ``northwind-reports``
(report retrieval only); a study with two orders, an order with a FINAL report, a study group with a FINAL
group report, every report pending; organisation ``org-contoso`` with one order; an expired token.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import secrets
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import respond, serve

ORG, OTHER_ORG = "org-northwind", "org-contoso"
CLIENTS = {
    "northwind-ris": ("ris-secret-7f3a9c", ORG, ("reports:read", "status:read")),
    "northwind-reports": ("reports-secret-21be", ORG, ("reports:read",)),
    "contoso-ris": ("contoso-secret-0c44", OTHER_ORG, ("reports:read", "status:read")),
}
EXPIRED_TOKEN = "expired-0f6c2a1b9d8e7f60"
MULTI_STUDY = "1.2.840.10008.5.1.4.1.77.1"
SEEDS = {
    "RADIOLOGY_CLIENT_ID": "northwind-ris",
    "RADIOLOGY_CLIENT_SECRET": CLIENTS["northwind-ris"][0],
    "RADIOLOGY_ORGANIZATION_ID": ORG,
    "RADIOLOGY_SINGLE_SCOPE_CLIENT_ID": "northwind-reports",
    "RADIOLOGY_SINGLE_SCOPE_CLIENT_SECRET": CLIENTS["northwind-reports"][0],
    "RADIOLOGY_EXPIRED_TOKEN": EXPIRED_TOKEN,
    "RADIOLOGY_OTHER_ORDER_ID": "ORD-CT-9001",
    "RADIOLOGY_MULTI_ORDER_STUDY_UID": MULTI_STUDY,
    "RADIOLOGY_STUDY_GROUP": "GRP-NW-7",
    "RADIOLOGY_ORDER_ID": "ORD-NW-2001",
    "RADIOLOGY_STUDY_UID": "1.2.840.10008.5.1.4.1.77.2",
}
MAX_BODY = 16 * 1024
KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
SCOPE_OF = {"/status": "status:read", "/results": "reports:read", "/report": "reports:read", "/reports": "reports:read"}

_lock = threading.Lock()
_report_ids = itertools.count(5000)
_tokens: dict[str, tuple[str, tuple[str, ...], float]] = {EXPIRED_TOKEN: ("northwind-ris", CLIENTS["northwind-ris"][2], 0.0)}


def _order(order_id: str, org: str, uid: str, created: str, kinds: tuple[str, ...], group: str | None = None) -> dict[str, Any]:
    status = {(): "IN_PROGRESS", ("PRELIMINARY",): "PRELIMINARY"}.get(kinds, "FINAL")
    return {"orderId": order_id, "org": org, "studyUid": uid, "studyGroup": group, "status": status, "createdAt": created, "kinds": kinds}


ORDERS = [
    _order("ORD-NW-1001", ORG, MULTI_STUDY, "2025-06-20T08:00:00Z", ("PRELIMINARY", "FINAL")),
    _order("ORD-NW-1002", ORG, MULTI_STUDY, "2025-06-22T09:30:00Z", ("PRELIMINARY",)),
    _order("ORD-NW-2001", ORG, SEEDS["RADIOLOGY_STUDY_UID"], "2025-06-21T10:00:00Z", ("FINAL",)),
    _order("ORD-NW-3001", ORG, "1.2.840.10008.5.1.4.1.77.31", "2025-06-19T07:00:00Z", ("FINAL",), "GRP-NW-7"),
    _order("ORD-NW-3002", ORG, "1.2.840.10008.5.1.4.1.77.32", "2025-06-19T07:05:00Z", ("FINAL",), "GRP-NW-7"),
    _order("ORD-CT-9001", OTHER_ORG, "1.2.840.10008.5.1.4.1.88.1", "2025-06-18T12:00:00Z", ("FINAL",), "GRP-CT-1"),
]
REPORTS: list[dict[str, Any]] = []  # also "acknowledged": bool
for _o in ORDERS:
    for _index, _kind in enumerate(_o["kinds"]):
        REPORTS.append(
            {
                "reportId": f"RPT-{next(_report_ids)}",
                "orderId": _o["orderId"],
                "org": _o["org"],
                "reportType": _kind,
                "createdAt": _o["createdAt"].replace("00Z", f"{10 + _index}Z"),
                "reportText": f"FINDINGS: unremarkable.\nIMPRESSION: {_kind.lower()} read of {_o['studyUid']}.",
                "delivered": False,
                "acknowledged": False,
            }
        )
GROUP_REPORT = {"reportId": "RPT-G-7", "studyGroup": "GRP-NW-7", "reportType": "FINAL", "createdAt": "2025-06-19T09:00:00Z"}


def _gateway(start_response: Any, status: str, message: str) -> list[bytes]:
    return respond(start_response, status, json.dumps({"message": message}).encode(), "application/json")


def _json(start_response: Any, status: str, value: Any, **headers: str) -> list[bytes]:
    return respond(start_response, status, json.dumps(value).encode(), "application/json", **headers)


def _not_found(start_response: Any) -> list[bytes]:
    return respond(start_response, "404 Not Found", b"Not Found", "text/plain")


def _oauth_error(start_response: Any, status: str, code: str) -> list[bytes]:
    return _json(start_response, status, {"error": code})


class Crash(Exception):
    """An uncaught error in the function: the gateway's 502."""


# -- token endpoint -----------------------------------------------------------------------------------


def _token(environ: dict[str, Any], start_response: Any, method: str, body: bytes) -> list[bytes]:
    fields = parse_qs(environ.get("QUERY_STRING", "") if method == "GET" else body.decode("utf-8", "replace"))
    values = {name: items[-1] for name, items in fields.items()}
    header = environ.get("HTTP_AUTHORIZATION", "")
    if method == "POST" and header.lower().startswith("basic "):  # Basic wins; credentials in the body as well are ignored
        try:
            client_id, _, secret = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return _oauth_error(start_response, "400 Bad Request", "invalid_request")
        values["client_id"], values["client_secret"] = unquote(client_id), unquote(secret)
    if not values.get("grant_type") or not values.get("client_id") or not values.get("client_secret"):
        return _oauth_error(start_response, "400 Bad Request", "invalid_request")
    if values["grant_type"] != "client_credentials":
        return _oauth_error(start_response, "400 Bad Request", "unsupported_grant_type")
    client = CLIENTS.get(values["client_id"])
    if client is None:
        return _oauth_error(start_response, "401 Unauthorized", "invalid_client")
    if not secrets.compare_digest(client[0], values["client_secret"]):
        return _oauth_error(start_response, "400 Bad Request", "invalid_client")
    asked = values.get("scope")
    allowed = client[2]
    if asked is not None and any(scope not in ("reports:read", "status:read") for scope in asked.split()):
        return _oauth_error(start_response, "400 Bad Request", "invalid_scope")
    granted = tuple(s for s in allowed if asked is None or s in asked.split()) or allowed  # narrowed, never widened
    token = secrets.token_hex(24)
    with _lock:
        _tokens[token] = (values["client_id"], granted, time.time() + 3600)
    reply = {"access_token": token, "token_type": "Bearer", "expires_in": 3600}
    if asked is not None:
        reply["scope"] = " ".join(granted)
    return _json(start_response, "200 OK", reply, Cache_Control="no-store")


# -- the function behind the gateway ------------------------------------------------------------------


def _public_order(order: dict[str, Any]) -> dict[str, Any]:
    body = {k: order[k] for k in ("orderId", "studyUid", "status", "createdAt")}
    body["reportTypes"] = list(order["kinds"])
    body["updatedAt"] = order["createdAt"]
    if order["studyGroup"]:
        body["studyGroup"] = order["studyGroup"]
    return body


def _public_report(report: dict[str, Any]) -> dict[str, Any]:
    order = next(o for o in ORDERS if o["orderId"] == report["orderId"])
    body = {k: report[k] for k in ("reportId", "orderId", "reportType", "reportText", "createdAt")}
    body.update(studyUid=order["studyUid"], status=order["status"], contentType="text/plain")
    if order["studyGroup"]:
        body["studyGroup"] = order["studyGroup"]
    return body


def _orders_of(org: str, uid: str) -> list[dict[str, Any]]:
    if len(uid) > 64:
        raise Crash("value too long for type character varying(64)")
    return sorted((o for o in ORDERS if o["org"] == org and o["studyUid"] == uid), key=lambda o: o["createdAt"])


def _resource(path: str, query: dict[str, str], org: str, start_response: Any) -> list[bytes]:
    if path in ("/status", "/results"):
        if query.get("order_id"):  # both ids: order_id wins
            order = next((o for o in ORDERS if o["org"] == org and o["orderId"] == query["order_id"]), None)
        elif query.get("study_uid"):
            found = _orders_of(org, query["study_uid"])
            # the bug: /results takes the oldest order of the study, /status the most recent
            order = (found[0] if path == "/results" else found[-1]) if found else None
        else:
            return _gateway(start_response, "400 Bad Request", "order_id or study_uid is required")
        if order is None:
            return _not_found(start_response)
        if path == "/status":
            return _json(start_response, "200 OK", _public_order(order))
        if not query.get("report_type"):
            return _gateway(start_response, "400 Bad Request", "report_type is required")
        report = next((r for r in REPORTS if r["orderId"] == order["orderId"] and r["reportType"] == query["report_type"]), None)
        return _json(start_response, "200 OK", _public_report(report)) if report else _not_found(start_response)
    if path == "/orderId":
        if not query.get("study_uid"):
            return _gateway(start_response, "400 Bad Request", "study_uid is required")
        found = _orders_of(org, query["study_uid"])
        if not found:
            return _not_found(start_response)
        return _json(start_response, "200 OK", {"studyUid": query["study_uid"], "orderIds": [found[-1]["orderId"]]})  # the bug: one
    if path == "/report":
        if not query.get("study_group") or not query.get("report_type"):
            return _gateway(start_response, "400 Bad Request", "study_group and report_type are required")
        members = [o for o in ORDERS if o["org"] == org and o["studyGroup"] == query["study_group"]]
        if not members or query["study_group"] != GROUP_REPORT["studyGroup"] or query["report_type"] != GROUP_REPORT["reportType"]:
            return _not_found(start_response)
        body = {**GROUP_REPORT, "studyUids": [o["studyUid"] for o in members], "orderIds": [o["orderId"] for o in members]}
        return _json(start_response, "200 OK", {**body, "contentType": "text/plain", "reportText": "GROUP READ: unremarkable."})
    return _gateway(start_response, "403 Forbidden", "Missing Authentication Token")


def _batch(method: str, query: dict[str, str], org: str, body: bytes, start_response: Any) -> list[bytes]:
    if query.get("organizationId") != org:
        return _gateway(start_response, "403 Forbidden", "Forbidden")
    with _lock:
        pending = [r for r in REPORTS if r["org"] == org and not r["acknowledged"]]
        if method == "GET":
            for report in pending:
                report["delivered"] = True
            return _json(start_response, "200 OK", [_public_report(r) for r in sorted(pending, key=lambda r: r["createdAt"], reverse=True)])
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            return _gateway(start_response, "400 Bad Request", "Invalid request body")
        wanted = data.get("orderIds") if isinstance(data, dict) else None
        if wanted is not None:
            if not isinstance(wanted, list) or not wanted or set(data) != {"orderIds"}:
                return _gateway(start_response, "400 Bad Request", "Invalid request body")
            known = {o["orderId"] for o in ORDERS if o["org"] == org}
            if not set(map(str, wanted)) <= known:
                return _not_found(start_response)
        chosen = [r for r in pending if r["delivered"] and (wanted is None or r["orderId"] in wanted)]
        for report in chosen:
            report["acknowledged"] = True
    return _json(start_response, "200 OK", {"status": "OK", "count": len(chosen)})


def _caller(environ: dict[str, Any], start_response: Any, path: str) -> tuple[str | None, list[bytes] | None]:
    header = environ.get("HTTP_AUTHORIZATION", "")
    if not header:
        return None, _gateway(start_response, "401 Unauthorized", "Unauthorized")
    scheme, _, token = header.partition(" ")
    if scheme != "Bearer" or not token.strip():
        return None, _gateway(
            start_response, "403 Forbidden", f"Invalid key=value pair (missing equal-sign) in Authorization header: '{header[:40]}'"
        )
    with _lock:
        found = _tokens.get(token.strip())
    if found is None:
        return None, _gateway(start_response, "401 Unauthorized", "Unauthorized")
    client_id, scopes, expires = found
    if expires < time.time():
        return None, _gateway(start_response, "403 Forbidden", "The incoming token has expired")
    needed = SCOPE_OF.get(path)  # the bug: /orderId is not in the table, so any token will do
    if needed is not None and needed not in scopes:
        return None, _gateway(start_response, "403 Forbidden", "User is not authorized to access this resource")
    return CLIENTS[client_id][1], None


ROUTES = {"/oauth2/token": ("GET", "POST"), "/status": ("GET",), "/orderId": ("GET",), "/results": ("GET",), "/report": ("GET",)}
ROUTES["/reports"] = ("GET", "POST")


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    method, path = environ["REQUEST_METHOD"].upper(), environ.get("PATH_INFO", "")
    if method not in KNOWN_METHODS:
        return respond(start_response, "501 Not Implemented", b"<html><body><h1>501 Not Implemented</h1></body></html>")
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length > MAX_BODY:
        environ["wsgi.input"].read(length)
        return _gateway(start_response, "413 Request Entity Too Large", "Request Too Long")
    body = environ["wsgi.input"].read(length) if length else b""
    if method not in ROUTES.get(path, ()):
        return _gateway(start_response, "403 Forbidden", "Missing Authentication Token")
    try:
        if path == "/oauth2/token":
            return _token(environ, start_response, method, body)
        org, refused = _caller(environ, start_response, path)
        if refused is not None or org is None:
            return refused or []
        query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
        if path == "/reports":
            return _batch(method, query, org, body, start_response)
        return _resource(path, query, org, start_response)
    except Crash:
        return _gateway(start_response, "502 Bad Gateway", "Internal server error")


if __name__ == "__main__":
    serve(app)
