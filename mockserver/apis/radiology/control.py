"""Radiology control routes (``/__mock__/radiology/...``) and the credentials it hands out.

    POST   /__mock__/radiology/orders  simulate a finished study/report (201), or move an
                                       existing order forward (``orderId``, 200)
    GET    /__mock__/radiology/audit   the audit log (?organizationId=, ?client_id=, ?operation=, ?limit=)
    DELETE /__mock__/radiology/audit   clear it
    GET    /__mock__/radiology/clock   the mock clock (wall clock + offset; the same as /__mock__/clock)
    POST   /__mock__/radiology/clock   move it forward: {"advance_seconds": N} (tokens expire,
                                       seeded orders move on, their reports appear)

``POST /__mock__/radiology/orders`` takes an optional JSON object:

    organizationId  the order's organisation (default: the first one)
    study_uid       a DICOM UID (default: a new one); an existing study gets one more order,
                    which becomes its most recent
    study_group     join (or start) a study group of that organisation
    status          RECEIVED, IN_PROGRESS, PRELIMINARY, FINAL (default), ADDENDED, CANCELLED, FAILED
    report_type     PRELIMINARY, FINAL or ADDENDUM: the report the finished read produced; alone
                    it sets the status (ADDENDUM -> ADDENDED), with ``status`` it must not be
                    later than the status
    orderId         instead of creating: move this existing order forward to ``status``
                    (forward only; CANCELLED/FAILED only before FINAL)

Reports issued: PRELIMINARY -> PRELIMINARY; FINAL -> FINAL; ADDENDED -> FINAL and ADDENDUM;
plus ``report_type``. They are issued now, so the next batch poll returns them.
"""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, datetime
from typing import Any

from medimock.fixtures import radiology as fixtures
from medimock.fixtures import seeded

from ...control import json_body, query_int
from ...http import MockRequest, MockResponse, Problem, json_response, no_content
from . import API
from .store import RANK, RadiologyStore, order_view, report_body

_FIELDS = {"organizationId", "study_uid", "study_group", "status", "report_type", "orderId"}
_MINIMAL_REPORTS = {"PRELIMINARY": ["PRELIMINARY"], "FINAL": ["FINAL"], "ADDENDED": ["FINAL", "ADDENDUM"]}
_STAGE_OF_REPORT = {"PRELIMINARY": RANK["PRELIMINARY"], "FINAL": RANK["FINAL"], "ADDENDUM": RANK["ADDENDED"]}
_ORDER_ID_CHARS = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def _bad(message: str) -> Problem:
    return Problem("invalid_request", 400, message)


def _string(options: dict[str, Any], name: str, pattern_check: Any = None) -> str | None:
    value = options.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > 64:
        raise _bad(f"{name} must be a non-empty string of at most 64 characters.")
    if pattern_check is not None and not pattern_check(value):
        raise _bad(f"{name} {value!r} is malformed.")
    return value


def _is_uid(value: str) -> bool:
    parts = value.split(".")
    return all(part.isascii() and part.isdigit() and (part == "0" or not part.startswith("0")) for part in parts)


def _is_id(value: str) -> bool:
    return value[0].isascii() and value[0].isalnum() and all(ch.isascii() and (ch.isalnum() or ch in "._-") for ch in value)


def _reports_for(status: str, report_type: str | None) -> list[str]:
    if status in fixtures.TERMINAL:
        wanted = [report_type] if report_type else []
        if report_type and _STAGE_OF_REPORT[report_type] >= RANK["FINAL"]:
            raise _bad(f"{status} follows only states before FINAL: it cannot come with a {report_type} report.")
        return wanted
    wanted = list(_MINIMAL_REPORTS.get(status, []))
    if report_type:
        if _STAGE_OF_REPORT[report_type] > RANK[status]:
            raise _bad(f"a {report_type} report means the order is at least {fixtures.STATUS_OF_REPORT[report_type]}, not {status}.")
        if report_type not in wanted:
            wanted.append(report_type)
    return [kind for kind in fixtures.REPORT_TYPES if kind in wanted]


def _new_reports(app: Any, kinds: list[str], now: float, rng: random.Random) -> list[dict[str, Any]]:
    fake, _ = seeded(app.config.seed, f"order:{rng.random()}")
    exam = rng.randrange(len(fixtures.EXAMS))
    issued = datetime.fromtimestamp(now, UTC)
    out: list[dict[str, Any]] = []
    final_text = None
    for index, kind in enumerate(kinds):
        text = fixtures.report_text(fake, rng, exam, kind, issued, final_text)
        if kind == "FINAL":
            final_text = text
        # Issued just before now, microseconds apart, so that "oldest first" keeps the reading order.
        created = now - (len(kinds) - index) * 1e-6
        out.append({"report_id": f"RPT-{rng.getrandbits(40):010X}", "report_type": kind, "report_text": text, "created_at": created})
    return out


@API.control("POST", "/radiology/orders", "simulate a finished study/report (or move an order forward)")
def simulate_order(app: Any, request: MockRequest) -> MockResponse:
    options = json_body(request, required=False) or {}
    if not isinstance(options, dict):
        raise _bad("The body is a JSON object (or empty).")
    unknown = set(options) - _FIELDS
    if unknown:
        raise _bad(f"Unknown fields: {', '.join(sorted(unknown))}; known: {', '.join(sorted(_FIELDS))}.")
    status = options.get("status")
    if status is not None and status not in RANK and status not in fixtures.TERMINAL:
        raise _bad(f"status must be one of {', '.join((*fixtures.FORWARD, *fixtures.TERMINAL))}.")
    report_type = options.get("report_type")
    if report_type is not None and report_type not in fixtures.REPORT_TYPES:
        raise _bad(f"report_type must be one of {', '.join(fixtures.REPORT_TYPES)}.")
    if status is None:
        status = fixtures.STATUS_OF_REPORT[report_type] if report_type else "FINAL"
    kinds = _reports_for(status, report_type)
    db = RadiologyStore(app.store)
    now = db.now()
    existing = _string(options, "orderId", _is_id)
    if existing is not None:
        extra = set(options) & {"organizationId", "study_uid", "study_group"}
        if extra:
            raise _bad(f"With orderId, only status and report_type apply (not {', '.join(sorted(extra))}).")
    for attempt in range(20):
        # deterministic from the seed and the orders so far: two mocks seeded alike that are sent the same calls make
        # the same orders and reports (``medimock diff`` between them compares every value); a call that raced
        # another one to the same identifiers draws again (the other's order is counted now)
        rng = random.Random(f"{app.config.seed}:order:{db.order_count()}:{existing}:{status}:{report_type}:{attempt}")
        try:
            if existing is not None:
                return _advance(app, db, existing, status, kinds, now, rng)
            return _new_order(app, db, options, status, kinds, now, rng)
        except sqlite3.IntegrityError:
            continue
    raise Problem("conflict", 409, "Too many simultaneous simulated orders; try again.")


def _new_order(
    app: Any, db: RadiologyStore, options: dict[str, Any], status: str, kinds: list[str], now: float, rng: random.Random
) -> MockResponse:
    org = _string(options, "organizationId", _is_id)
    organizations = [row["id"] for row in db.organizations()]
    if org is None:
        org = organizations[0]
    elif org not in organizations:
        raise Problem("not_found", 404, f"No organisation {org!r}; see GET /__mock__/credentials.")
    uid = _string(options, "study_uid", _is_uid) or fixtures.study_uid(rng)
    group = _string(options, "study_group", _is_id)
    if group is not None:
        owner = db.group_owner(group)
        if owner is not None and owner != org:
            raise _bad(f"study_group {group} belongs to another organisation.")
    order_id = _new_order_id(db, rng)
    order: dict[str, Any] = {
        "order_id": order_id,
        "organization_id": org,
        "study_uid": uid,
        "study_group": group,
        "created_at": now - 1e-3,
        "in_progress_at": None if status == "RECEIVED" else now,
        "terminal_status": status if status in fixtures.TERMINAL else None,
        "terminal_at": now if status in fixtures.TERMINAL else None,
    }
    if status in fixtures.TERMINAL and not kinds:
        order["in_progress_at"] = None if rng.random() < 0.5 else now
    reports = _new_reports(app, kinds, now, rng)
    db.add_order(order, reports)
    return json_response(_created(db, order_id, now), status=201)


def _advance(app: Any, db: RadiologyStore, order_id: str, status: str, kinds: list[str], now: float, rng: random.Random) -> MockResponse:
    order = db.order(order_id, None)
    if order is None:
        raise Problem("not_found", 404, f"No order {order_id}.")
    view, reports = db.view(order, now)
    current = view.status
    if current in fixtures.TERMINAL or current == "ADDENDED":
        raise _bad(f"order {order_id} is {current}: a terminal state.")
    if status in fixtures.TERMINAL:
        if RANK[current] >= RANK["FINAL"]:
            raise _bad(f"order {order_id} is {current}: {status} follows only states before FINAL.")
    elif RANK[status] <= RANK[current]:
        raise _bad(f"order {order_id} is {current}: status only moves forward ({' -> '.join(fixtures.FORWARD)}).")
    issued = {r["report_type"] for r in reports if r["created_at"] <= now}
    missing = [kind for kind in kinds if kind not in issued]
    changes = {
        "in_progress_at": order["in_progress_at"] if order["in_progress_at"] is not None and order["in_progress_at"] <= now else now,
        "terminal_status": status if status in fixtures.TERMINAL else None,
        "terminal_at": now if status in fixtures.TERMINAL else None,
    }
    if status in fixtures.TERMINAL and current == "RECEIVED":
        changes["in_progress_at"] = None
    db.advance_order(order, changes, _new_reports(app, missing, now, rng), now)
    return json_response(_created(db, order_id, now))


def _created(db: RadiologyStore, order_id: str, now: float) -> dict[str, Any]:
    order = db.order(order_id, None)
    assert order is not None
    reports = db.reports_of([order_id])[order_id]
    view = order_view(order, reports, now)
    visible = sorted((r for r in reports if r["created_at"] <= now), key=lambda r: r["created_at"])
    return {"organizationId": order["organization_id"], **view.status_body(), "reports": [report_body(r, view) for r in visible]}


def _new_order_id(db: RadiologyStore, rng: random.Random) -> str:
    while True:
        candidate = "ORD-" + "".join(rng.choice(_ORDER_ID_CHARS) for _ in range(10))
        if db.order(candidate, None) is None:
            return candidate


@API.control("GET", "/radiology/audit", "the radiology audit log (?organizationId=, ?client_id=, ?operation=, ?limit=)")
def audit_log(app: Any, request: MockRequest) -> MockResponse:
    query = dict(request.query)
    entries = RadiologyStore(app.store).audit_entries(
        organization_id=query.get("organizationId"),
        client_id=query.get("client_id"),
        operation=query.get("operation"),
        limit=query_int(request, "limit", 100, 1, 10_000),
    )
    return json_response({"count": len(entries), "results": entries})


@API.control("DELETE", "/radiology/audit", "clear the radiology audit log")
def clear_audit_log(app: Any, request: MockRequest) -> MockResponse:
    RadiologyStore(app.store).clear_audit()
    return no_content()


def _clock(db: RadiologyStore) -> dict[str, Any]:
    now = db.now()
    return {"now": fixtures.epoch_iso(now), "offset_seconds": db.offset()}


@API.control("GET", "/radiology/clock", "the mock clock (as /__mock__/clock)")
def get_clock(app: Any, request: MockRequest) -> MockResponse:
    return json_response(_clock(RadiologyStore(app.store)))


@API.control("POST", "/radiology/clock", 'move the mock clock forward (as /__mock__/clock): {"advance_seconds": N}')
def advance_clock(app: Any, request: MockRequest) -> MockResponse:
    options = json_body(request)
    seconds = options.get("advance_seconds") if isinstance(options, dict) else None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds <= 10 * 365 * 86400:
        raise _bad('The body is {"advance_seconds": N} with 0 <= N <= 10 years: the clock only moves forward.')
    db = RadiologyStore(app.store)
    db.advance(float(seconds))
    return json_response(_clock(db))


# -- credentials ---------------------------------------------------------------------------
def _examples(db: RadiologyStore, org: str, now: float) -> dict[str, Any]:
    """Identifiers a contract suite can use: an order with a FINAL report, a study with several orders, a group."""
    rows = db.store.query("SELECT * FROM radiology_orders WHERE organization_id = ? ORDER BY created_at, seq", (org,))
    reports = db.reports_of([row["order_id"] for row in rows])
    views = [order_view(row, reports[row["order_id"]], now) for row in rows]
    final = next((v for v in views if "FINAL" in v.report_types and v.study_group is None), None)
    per_study: dict[str, int] = {}
    for view in views:
        per_study[view.study_uid] = per_study.get(view.study_uid, 0) + 1
    several = next((uid for uid, count in per_study.items() if count > 1), None)
    group = db.store.query_one(
        "SELECT study_group FROM radiology_group_reports WHERE organization_id = ? AND report_type = 'FINAL' AND created_at <= ?"
        " ORDER BY created_at LIMIT 1",
        (org, now),
    )
    return {
        "order_id": final.order_id if final else None,
        "study_uid": final.study_uid if final else None,
        "report_type": "FINAL",
        "study_uid_with_several_orders": several,
        "study_group": group["study_group"] if group else None,
    }


def credentials(app: Any, base_url: str) -> dict[str, Any]:
    data = fixtures.build(app.config.seed, app.config.profile)
    db = RadiologyStore(app.store)
    now = db.now()
    organizations = []
    for org in data.organizations:
        organizations.append(
            {
                "organization_id": org.id,
                "name": org.name,
                "clients": [
                    {
                        "client_id": c.client_id,
                        "client_secret": c.secret,
                        "scopes": list(c.scopes),
                        "grant_types": list(c.grant_types),
                        "description": c.description,
                    }
                    for c in org.clients
                ],
                "examples": _examples(db, org.id, now),
            }
        )
    main = data.organizations[0].main_client
    other = organizations[1] if len(organizations) > 1 else None
    return {
        "client_id": main.client_id,
        "client_secret": main.secret,
        "organization_id": main.organization_id,
        "scope": " ".join(main.scopes),
        "token_url": f"{base_url}{API.mount}/oauth2/token",
        "token_ttl": app.config.token_ttl,
        "examples": organizations[0]["examples"],
        "other_organization_id": other["organization_id"] if other else None,
        "other_organization_examples": other["examples"] if other else None,
        "organizations": organizations,
        "note": "Each organisation has a client with both scopes (-ris), one with reports:read (-reports) and one with "
        "status:read (-status); -legacy may not use the client-credentials grant.",
    }
