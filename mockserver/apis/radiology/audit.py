"""The audit log ("detailed access logs track each retrieval and status request").

One row per token request, status request and report retrieval: who (client), which
organisation, what (operation, path, parameters), when (mock clock), and the result
(``ok`` or the error code, the status, and what was returned: order and report ids).
Refusals are logged too: an invalid or expired token (``invalid_token``), a token without
the operation's scope (``insufficient_scope``), another organisation (``access_denied``),
an unknown order (``not_found``). Requests the core rejects before the handler for a
malformed parameter are not retrievals and are not logged (the request journal has them).

Read it at ``GET /__mock__/radiology/audit`` (``?organizationId=``, ``?client_id=``,
``?operation=``, ``?limit=``).
"""

from __future__ import annotations

import logging
from typing import Any

from ...http import MockRequest
from .store import RadiologyStore

log = logging.getLogger("medimock.radiology")

_SECRET_PARAMS = {"client_secret"}


def _params(request: MockRequest) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in [*request.query, *(request.form or [])]:
        if key in _SECRET_PARAMS:
            value = "***"
        if key in out:
            existing = out[key]
            out[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            out[key] = value[:200]
    return out


def record_request(
    app: Any,
    request: MockRequest,
    operation: str | None,
    client_id: str | None,
    organization_id: str | None,
    status: int,
    result: str,
    detail: dict[str, Any] | None = None,
) -> None:
    db = RadiologyStore(app.store)
    if operation is None:
        api = app.by_name.get("radiology")
        routed = api.router.match(request.method, request.path) if api is not None else None
        operation = routed.operation.operation_id if routed is not None and routed.operation is not None else request.path
    try:
        db.audit(
            {
                "at": db.now(),
                "client_id": client_id,
                "organization_id": organization_id,
                "operation": operation,
                "method": request.method,
                "path": request.path,
                "params": _params(request),
                "status": status,
                "result": result,
                "detail": detail,
                "remote_addr": request.remote_addr,
            }
        )
    except Exception:  # the audit log must never break a response
        log.exception("could not write the radiology audit log")


def returned(body: Any) -> dict[str, Any] | None:
    """What a response handed out, for the audit row: order, report and study ids."""
    items = body if isinstance(body, list) else [body] if isinstance(body, dict) else []
    out: dict[str, list[Any]] = {}
    for item in items:
        if not isinstance(item, dict):
            continue
        for key in ("reportId", "orderId", "studyGroup", "status"):
            value = item.get(key)
            if value is not None:
                bucket = out.setdefault(key + "s" if not key.endswith("s") else key, [])
                if value not in bucket:
                    bucket.append(value)
        for key in ("orderIds", "acknowledged"):
            if key in item:
                out[key] = item[key]
    if isinstance(body, list):
        out["count"] = len(body)  # type: ignore[assignment]
    return out or None
