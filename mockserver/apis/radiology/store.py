"""Radiology tables, seeding, the mock clock, and the queries the handlers run.

Times are epoch seconds (REAL). Status is never stored: ``order_status`` derives it
from the order's timeline and its reports at the moment of the request, so it only
moves forward as time passes. Reports issued "in the future" (seeded orders still
being read) are invisible until their time comes.

The *mock clock* is the mock's shared clock (``mockserver.clock``: the wall clock plus an
offset kept in the store; ``POST /__mock__/clock`` or ``/__mock__/radiology/clock`` moves it
forward for every worker), so token expiry and status progression can be tested without sleeping.

Two schemas: ``radiology`` (the seeded data, replaced by a reset) and
``radiology_sessions`` (issued tokens and the audit log, kept across resets like the
request journal: the clients are the same after a reset, so their tokens stay valid).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from medimock.fixtures import radiology as fixtures

from ...clock import MockClock
from ...store import SeedContext, Store, StoreSchema, dumps, loads

DDL = [
    """CREATE TABLE IF NOT EXISTS radiology_organizations (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        position INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS radiology_clients (
        client_id TEXT PRIMARY KEY,
        secret_hash TEXT NOT NULL,
        organization_id TEXT NOT NULL,
        scopes TEXT NOT NULL,
        grant_types TEXT NOT NULL,
        description TEXT NOT NULL,
        position INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS radiology_orders (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        order_id TEXT NOT NULL UNIQUE,
        organization_id TEXT NOT NULL,
        study_uid TEXT NOT NULL,
        study_group TEXT,
        created_at REAL NOT NULL,
        in_progress_at REAL,
        terminal_status TEXT,
        terminal_at REAL
    )""",
    "CREATE INDEX IF NOT EXISTS radiology_orders_study ON radiology_orders (organization_id, study_uid, created_at DESC, seq DESC)",
    "CREATE INDEX IF NOT EXISTS radiology_orders_group ON radiology_orders (organization_id, study_group)",
    """CREATE TABLE IF NOT EXISTS radiology_reports (
        report_id TEXT PRIMARY KEY,
        order_id TEXT NOT NULL,
        organization_id TEXT NOT NULL,
        report_type TEXT NOT NULL,
        report_text TEXT NOT NULL,
        created_at REAL NOT NULL,
        delivered_at REAL,
        acknowledged_at REAL,
        UNIQUE (order_id, report_type)
    )""",
    "CREATE INDEX IF NOT EXISTS radiology_reports_poll ON radiology_reports (organization_id, acknowledged_at, created_at)",
    """CREATE TABLE IF NOT EXISTS radiology_group_reports (
        report_id TEXT PRIMARY KEY,
        study_group TEXT NOT NULL,
        organization_id TEXT NOT NULL,
        report_type TEXT NOT NULL,
        report_text TEXT NOT NULL,
        created_at REAL NOT NULL,
        UNIQUE (organization_id, study_group, report_type)
    )""",
]
TABLES = [
    "radiology_organizations",
    "radiology_clients",
    "radiology_orders",
    "radiology_reports",
    "radiology_group_reports",
]

SESSION_DDL = [
    """CREATE TABLE IF NOT EXISTS radiology_tokens (
        token_hash TEXT PRIMARY KEY,
        client_id TEXT NOT NULL,
        organization_id TEXT NOT NULL,
        scopes TEXT NOT NULL,
        issued_at REAL NOT NULL,
        expires_at REAL NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS radiology_tokens_expiry ON radiology_tokens (expires_at)",
    """CREATE TABLE IF NOT EXISTS radiology_audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        client_id TEXT,
        organization_id TEXT,
        operation TEXT NOT NULL,
        method TEXT NOT NULL,
        path TEXT NOT NULL,
        params TEXT NOT NULL,
        status INTEGER NOT NULL,
        result TEXT NOT NULL,
        detail TEXT,
        remote_addr TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS radiology_audit_org ON radiology_audit (organization_id, id)",
    "CREATE INDEX IF NOT EXISTS radiology_audit_client ON radiology_audit (client_id, id)",
]
SESSION_TABLES = ["radiology_tokens", "radiology_audit"]

EXPIRED_TOKENS_KEPT = 24 * 3600  # an expired token is reported as "expired" (not "unknown") for a day

RANK = {status: index for index, status in enumerate(fixtures.FORWARD)}


def ts(moment: Any) -> float:
    return moment.timestamp()


def seed(conn: sqlite3.Connection, context: SeedContext) -> None:
    data = fixtures.build(context.seed, context.profile, now=context.now)
    conn.execute("DELETE FROM sqlite_sequence WHERE name = 'radiology_orders'")
    conn.executemany("INSERT INTO radiology_organizations VALUES (?, ?, ?)", [(o.id, o.name, i) for i, o in enumerate(data.organizations)])
    conn.executemany(
        "INSERT INTO radiology_clients VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (c.client_id, fixtures.hash_secret(c.secret), c.organization_id, " ".join(c.scopes), " ".join(c.grant_types), c.description, i)
            for i, c in enumerate(data.clients)
        ],
    )
    for order in sorted(data.orders, key=lambda o: o.created_at):
        conn.execute(
            "INSERT INTO radiology_orders (order_id, organization_id, study_uid, study_group, created_at, in_progress_at, terminal_status, terminal_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                order.order_id,
                order.organization_id,
                order.study_uid,
                order.study_group,
                ts(order.created_at),
                ts(order.in_progress_at) if order.in_progress_at else None,
                order.terminal_status,
                ts(order.terminal_at) if order.terminal_at else None,
            ),
        )
        conn.executemany(
            "INSERT INTO radiology_reports (report_id, order_id, organization_id, report_type, report_text, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            [(r.report_id, order.order_id, order.organization_id, r.report_type, r.text, ts(r.created_at)) for r in order.reports],
        )
    conn.executemany(
        "INSERT INTO radiology_group_reports VALUES (?, ?, ?, ?, ?, ?)",
        [(g.report_id, g.study_group, g.organization_id, g.report_type, g.text, ts(g.created_at)) for g in data.group_reports],
    )


SCHEMA = StoreSchema(name="radiology", ddl=DDL, tables=TABLES, seed=seed)
SESSION_SCHEMA = StoreSchema(name="radiology_sessions", ddl=SESSION_DDL, tables=SESSION_TABLES, keep_on_reset=True)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class OrderView:
    """An order as the API shows it at one moment."""

    order_id: str
    organization_id: str
    study_uid: str
    study_group: str | None
    status: str
    report_types: list[str]
    created_at: float
    updated_at: float

    def status_body(self) -> dict[str, Any]:
        return {
            "orderId": self.order_id,
            "studyUid": self.study_uid,
            "studyGroup": self.study_group,
            "status": self.status,
            "reportTypes": self.report_types,
            "createdAt": fixtures.epoch_iso(self.created_at),
            "updatedAt": fixtures.epoch_iso(self.updated_at),
        }


def order_view(order: sqlite3.Row | dict[str, Any], reports: Sequence[sqlite3.Row | dict[str, Any]], now: float) -> OrderView:
    """The order's status now: the last step of its timeline that has happened."""
    visible = {r["report_type"]: r["created_at"] for r in reports if r["created_at"] <= now}
    types = [kind for kind in fixtures.REPORT_TYPES if kind in visible]
    if order["terminal_at"] is not None and order["terminal_at"] <= now:
        status, updated = order["terminal_status"], order["terminal_at"]
    elif types:
        last = max(types, key=lambda kind: RANK[fixtures.STATUS_OF_REPORT[kind]])
        status, updated = fixtures.STATUS_OF_REPORT[last], visible[last]
    elif order["in_progress_at"] is not None and order["in_progress_at"] <= now:
        status, updated = "IN_PROGRESS", order["in_progress_at"]
    else:
        status, updated = "RECEIVED", order["created_at"]
    return OrderView(
        order["order_id"], order["organization_id"], order["study_uid"], order["study_group"], status, types, order["created_at"], updated
    )


def report_body(report: sqlite3.Row | dict[str, Any], view: OrderView) -> dict[str, Any]:
    return {
        "reportId": report["report_id"],
        "orderId": view.order_id,
        "studyUid": view.study_uid,
        "studyGroup": view.study_group,
        "reportType": report["report_type"],
        "status": view.status,
        "contentType": "text/plain",
        "reportText": report["report_text"],
        "createdAt": fixtures.epoch_iso(report["created_at"]),
    }


class RadiologyStore:
    """The queries of the radiology handlers, over the shared ``Store``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- clock --------------------------------------------------------------------------
    def now(self) -> float:
        return MockClock(self.store).now()

    def offset(self) -> float:
        return MockClock(self.store).offset()

    def advance(self, seconds: float) -> float:
        return MockClock(self.store).advance(seconds)

    # -- organisations and clients ------------------------------------------------------
    def organizations(self) -> list[sqlite3.Row]:
        return self.store.query("SELECT * FROM radiology_organizations ORDER BY position")

    def organization(self, organization_id: str) -> sqlite3.Row | None:
        return self.store.query_one("SELECT * FROM radiology_organizations WHERE id = ?", (organization_id,))

    def client(self, client_id: str) -> sqlite3.Row | None:
        return self.store.query_one("SELECT * FROM radiology_clients WHERE client_id = ?", (client_id,))

    # -- tokens -------------------------------------------------------------------------
    def add_token(self, token: str, client: sqlite3.Row, scopes: list[str], now: float, ttl: int) -> None:
        with self.store.write() as conn:
            conn.execute("DELETE FROM radiology_tokens WHERE expires_at < ?", (now - EXPIRED_TOKENS_KEPT,))
            conn.execute(
                "INSERT INTO radiology_tokens VALUES (?, ?, ?, ?, ?, ?)",
                (hash_token(token), client["client_id"], client["organization_id"], " ".join(scopes), now, now + ttl),
            )

    def token(self, token: str) -> sqlite3.Row | None:
        return self.store.query_one("SELECT * FROM radiology_tokens WHERE token_hash = ?", (hash_token(token),))

    # -- orders -------------------------------------------------------------------------
    def order(self, order_id: str, org: str | None) -> sqlite3.Row | None:
        sql, params = "SELECT * FROM radiology_orders WHERE order_id = ?", [order_id]
        if org is not None:
            sql += " AND organization_id = ?"
            params.append(org)
        return self.store.query_one(sql, tuple(params))

    def study_orders(self, study_uid: str, org: str | None, *, oldest_first: bool = False) -> list[sqlite3.Row]:
        """The study's orders visible to ``org`` (None: every organisation's), most recent first."""
        sql, params = "SELECT * FROM radiology_orders WHERE study_uid = ?", [study_uid]
        if org is not None:
            sql += " AND organization_id = ?"
            params.append(org)
        sql += " ORDER BY created_at, seq" if oldest_first else " ORDER BY created_at DESC, seq DESC"
        return self.store.query(sql, tuple(params))

    def reports_of(self, order_ids: list[str]) -> dict[str, list[sqlite3.Row]]:
        out: dict[str, list[sqlite3.Row]] = {order_id: [] for order_id in order_ids}
        for start in range(0, len(order_ids), 500):
            chunk = order_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.store.query(f"SELECT * FROM radiology_reports WHERE order_id IN ({marks})", tuple(chunk)):
                out[row["order_id"]].append(row)
        return out

    def view(self, order: sqlite3.Row, now: float) -> tuple[OrderView, list[sqlite3.Row]]:
        reports = self.reports_of([order["order_id"]])[order["order_id"]]
        return order_view(order, reports, now), reports

    def group_orders(self, study_group: str, org: str | None) -> list[sqlite3.Row]:
        sql, params = "SELECT * FROM radiology_orders WHERE study_group = ?", [study_group]
        if org is not None:
            sql += " AND organization_id = ?"
            params.append(org)
        return self.store.query(sql + " ORDER BY created_at, seq", tuple(params))

    def group_report(self, study_group: str, organization_id: str, report_type: str, now: float) -> sqlite3.Row | None:
        return self.store.query_one(
            "SELECT * FROM radiology_group_reports WHERE study_group = ? AND organization_id = ? AND report_type = ? AND created_at <= ?",
            (study_group, organization_id, report_type, now),
        )

    # -- batch poll and acknowledgement ---------------------------------------------------
    def poll(self, org: str, now: float) -> list[dict[str, Any]]:
        """Every issued, unacknowledged report of ``org``, oldest first; marks them delivered."""
        with self.store.write() as conn:
            reports = conn.execute(
                "SELECT * FROM radiology_reports WHERE organization_id = ? AND acknowledged_at IS NULL AND created_at <= ?"
                " ORDER BY created_at, report_id",
                (org, now),
            ).fetchall()
            if not reports:
                return []
            conn.execute(
                "UPDATE radiology_reports SET delivered_at = ? WHERE organization_id = ? AND acknowledged_at IS NULL"
                " AND created_at <= ? AND delivered_at IS NULL",
                (now, org, now),
            )
            order_ids = sorted({r["order_id"] for r in reports})
            orders = {}
            all_reports: dict[str, list[Any]] = {order_id: [] for order_id in order_ids}
            for start in range(0, len(order_ids), 500):
                chunk = order_ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for row in conn.execute(f"SELECT * FROM radiology_orders WHERE order_id IN ({marks})", tuple(chunk)):
                    orders[row["order_id"]] = row
                for row in conn.execute(
                    f"SELECT order_id, report_type, created_at FROM radiology_reports WHERE order_id IN ({marks})", tuple(chunk)
                ):
                    all_reports[row["order_id"]].append(row)
        views = {order_id: order_view(orders[order_id], all_reports[order_id], now) for order_id in order_ids}
        return [report_body(report, views[report["order_id"]]) for report in reports]

    def acknowledge(self, org: str, order_ids: list[str] | None, now: float, *, dry_run: bool = False) -> tuple[int, list[str]] | None:
        """Mark delivered, unacknowledged reports received. None when an order id is not the organisation's."""
        with self.store.write() as conn:
            where = "organization_id = ? AND delivered_at IS NOT NULL AND acknowledged_at IS NULL"
            params: list[Any] = [org]
            if order_ids is not None:
                marks = ",".join("?" * len(order_ids))
                known = conn.execute(
                    f"SELECT COUNT(*) FROM radiology_orders WHERE organization_id = ? AND order_id IN ({marks})", (org, *order_ids)
                ).fetchone()[0]
                if known != len(set(order_ids)):
                    return None
                where += f" AND order_id IN ({marks})"
                params.extend(order_ids)
            rows = conn.execute(f"SELECT report_id, order_id FROM radiology_reports WHERE {where}", tuple(params)).fetchall()
            if rows and not dry_run:
                conn.execute(f"UPDATE radiology_reports SET acknowledged_at = ? WHERE {where}", (now, *params))
        acknowledged_orders = sorted({row["order_id"] for row in rows})
        return len(rows), acknowledged_orders

    # -- creation (control API) -----------------------------------------------------------
    def order_count(self) -> int:
        with self.store.read() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM radiology_orders").fetchone()[0])

    def add_order(self, order: dict[str, Any], reports: list[dict[str, Any]]) -> None:
        with self.store.write() as conn:
            conn.execute(
                "INSERT INTO radiology_orders (order_id, organization_id, study_uid, study_group, created_at, in_progress_at, terminal_status, terminal_at)"
                " VALUES (:order_id, :organization_id, :study_uid, :study_group, :created_at, :in_progress_at, :terminal_status, :terminal_at)",
                order,
            )
            self._add_reports(conn, order, reports)

    def advance_order(self, order: sqlite3.Row, changes: dict[str, Any], reports: list[dict[str, Any]], now: float) -> None:
        """Move an order forward: drop its reports not yet issued, set the new steps, add the new reports."""
        with self.store.write() as conn:
            conn.execute("DELETE FROM radiology_reports WHERE order_id = ? AND created_at > ?", (order["order_id"], now))
            conn.execute(
                "UPDATE radiology_orders SET in_progress_at = ?, terminal_status = ?, terminal_at = ? WHERE order_id = ?",
                (changes["in_progress_at"], changes["terminal_status"], changes["terminal_at"], order["order_id"]),
            )
            self._add_reports(conn, dict(order), reports)

    def _add_reports(self, conn: sqlite3.Connection, order: dict[str, Any], reports: list[dict[str, Any]]) -> None:
        for report in reports:
            conn.execute(
                "INSERT INTO radiology_reports (report_id, order_id, organization_id, report_type, report_text, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    report["report_id"],
                    order["order_id"],
                    order["organization_id"],
                    report["report_type"],
                    report["report_text"],
                    report["created_at"],
                ),
            )
            if order.get("study_group"):
                conn.execute(
                    "INSERT OR IGNORE INTO radiology_group_reports VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        report["report_id"].replace("RPT-", "GRP-RPT-", 1),
                        order["study_group"],
                        order["organization_id"],
                        report["report_type"],
                        report["report_text"],
                        report["created_at"],
                    ),
                )

    def group_owner(self, study_group: str) -> str | None:
        row = self.store.query_one("SELECT organization_id FROM radiology_orders WHERE study_group = ? LIMIT 1", (study_group,))
        return None if row is None else str(row["organization_id"])

    # -- audit --------------------------------------------------------------------------
    def audit(self, entry: dict[str, Any]) -> None:
        with self.store.write() as conn:
            conn.execute(
                "INSERT INTO radiology_audit (at, client_id, organization_id, operation, method, path, params, status, result, detail, remote_addr)"
                " VALUES (:at, :client_id, :organization_id, :operation, :method, :path, :params, :status, :result, :detail, :remote_addr)",
                {**entry, "params": dumps(entry["params"]), "detail": dumps(entry["detail"]) if entry.get("detail") is not None else None},
            )

    def audit_entries(
        self, *, organization_id: str | None, client_id: str | None, operation: str | None, limit: int
    ) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM radiology_audit WHERE 1 = 1", []
        for column, value in (("organization_id", organization_id), ("client_id", client_id), ("operation", operation)):
            if value is not None:
                sql += f" AND {column} = ?"
                params.append(value)
        rows = self.store.query(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))
        return [
            {
                "id": row["id"],
                "time": fixtures.epoch_iso(row["at"]),
                "client_id": row["client_id"],
                "organizationId": row["organization_id"],
                "operation": row["operation"],
                "method": row["method"],
                "path": row["path"],
                "params": loads(row["params"]),
                "status": row["status"],
                "result": row["result"],
                "detail": loads(row["detail"]),
                "remote_addr": row["remote_addr"],
            }
            for row in rows
        ]

    def clear_audit(self) -> None:
        with self.store.write() as conn:
            conn.execute("DELETE FROM radiology_audit")
