"""Clarius tables, seeding, and the queries the handlers run."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

from medimock.fixtures import clarius as fixtures

from ...store import SeedContext, Store, StoreSchema, dumps, loads

DDL = [
    """CREATE TABLE IF NOT EXISTS clarius_api_keys (
        prefix TEXT PRIMARY KEY,
        secret_hash TEXT NOT NULL,
        name TEXT NOT NULL,
        created TEXT NOT NULL,
        revoked TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS clarius_customers (
        token TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        confirmed_at TEXT,
        position INTEGER NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS clarius_customers_confirmed ON clarius_customers (confirmed_at, position)",
    """CREATE TABLE IF NOT EXISTS clarius_exams (
        exam_uuid TEXT PRIMARY KEY,
        customer_id TEXT NOT NULL,
        patient TEXT NOT NULL,
        application_uuid TEXT,
        created TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS clarius_captures (
        capture_uuid TEXT PRIMARY KEY,
        exam_uuid TEXT NOT NULL,
        position INTEGER NOT NULL,
        kind TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS clarius_captures_exam ON clarius_captures (exam_uuid, position)",
    """CREATE TABLE IF NOT EXISTS clarius_download_requests (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        request_uuid TEXT NOT NULL UNIQUE,
        exam_uuid TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        submitted_at TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS clarius_requests_order ON clarius_download_requests (submitted_at DESC, seq DESC)",
    "CREATE INDEX IF NOT EXISTS clarius_requests_customer ON clarius_download_requests (customer_id, submitted_at DESC, seq DESC)",
    "CREATE INDEX IF NOT EXISTS clarius_requests_exam ON clarius_download_requests (exam_uuid, submitted_at DESC)",
    """CREATE TABLE IF NOT EXISTS clarius_reports (
        uuid TEXT PRIMARY KEY,
        request_uuid TEXT NOT NULL,
        name TEXT NOT NULL,
        file_name TEXT NOT NULL,
        content_type TEXT NOT NULL,
        size INTEGER NOT NULL,
        data BLOB NOT NULL,
        created TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS clarius_reports_request ON clarius_reports (request_uuid)",
    """CREATE TABLE IF NOT EXISTS clarius_settings (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        notification_url TEXT NOT NULL,
        token_transfer_url TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS clarius_notification_records (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        logged_at TEXT NOT NULL,
        sent_at TEXT NOT NULL,
        request TEXT NOT NULL,
        response TEXT,
        error TEXT,
        request_uuid TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS clarius_records_logged ON clarius_notification_records (logged_at DESC, id DESC)",
    """CREATE TABLE IF NOT EXISTS clarius_applications (
        uuid TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        position INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS clarius_customizations (
        application_uuid TEXT PRIMARY KEY,
        annotations TEXT NOT NULL,
        updated TEXT NOT NULL
    )""",
]
TABLES = [
    "clarius_api_keys",
    "clarius_customers",
    "clarius_exams",
    "clarius_captures",
    "clarius_download_requests",
    "clarius_reports",
    "clarius_settings",
    "clarius_notification_records",
    "clarius_applications",
    "clarius_customizations",
]

RECORD_RETENTION = timedelta(days=14)


def iso(moment: datetime) -> str:
    return fixtures.isoformat(moment)


def now_iso() -> str:
    return iso(datetime.now(UTC))


def seed(conn: sqlite3.Connection, context: SeedContext) -> None:
    data = fixtures.build(context.seed, context.profile, now=context.now)
    key = data.api_key
    conn.execute(
        "INSERT INTO clarius_api_keys (prefix, secret_hash, name, created) VALUES (?, ?, ?, ?)",
        (key.prefix, fixtures.hash_secret(key.secret), key.name, iso(key.created)),
    )
    conn.executemany(
        "INSERT INTO clarius_customers (token, name, confirmed_at, position) VALUES (?, ?, ?, ?)",
        [(c.token, c.name, iso(key.created) if c.confirmed else None, i) for i, c in enumerate(data.customers)],
    )
    conn.executemany(
        "INSERT INTO clarius_exams VALUES (?, ?, ?, ?, ?)",
        [(e.uuid, e.customer_id, dumps(e.patient), e.application, iso(e.created)) for e in data.exams],
    )
    conn.executemany(
        "INSERT INTO clarius_captures VALUES (?, ?, ?, ?)",
        [(c.uuid, e.uuid, i, c.kind) for e in data.exams for i, c in enumerate(e.captures)],
    )
    conn.executemany(
        "INSERT INTO clarius_download_requests (request_uuid, exam_uuid, customer_id, submitted_at) VALUES (?, ?, ?, ?)",
        [(r.uuid, r.exam_uuid, r.customer_id, iso(r.submitted_at)) for r in sorted(data.requests, key=lambda r: r.submitted_at)],
    )
    conn.execute("INSERT INTO clarius_settings VALUES (1, ?, ?)", (data.settings["notification_url"], data.settings["token_transfer_url"]))
    conn.executemany(
        "INSERT INTO clarius_notification_records (logged_at, sent_at, request, response, error) VALUES (?, ?, ?, ?, ?)",
        [
            (iso(r["logged_at"]), iso(r["sent_at"]), dumps(r["request"]), dumps(r["response"]) if r["response"] else None, r["error"])
            for r in data.notification_records
        ],
    )
    conn.executemany(
        "INSERT INTO clarius_applications VALUES (?, ?, ?)", [(a["uuid"], a["name"], i) for i, a in enumerate(data.applications)]
    )
    conn.executemany(
        "INSERT INTO clarius_customizations VALUES (?, ?, ?)",
        [(uuid, dumps(ann), iso(key.created)) for uuid, ann in data.customizations.items()],
    )


SCHEMA = StoreSchema(name="clarius", ddl=DDL, tables=TABLES, seed=seed)


class ClariusStore:
    """The queries of the Clarius handlers, over the shared ``Store``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- API keys -----------------------------------------------------------------------
    def key(self, prefix: str) -> sqlite3.Row | None:
        """An API key's row, read once per thread until the store changes (every request authenticates with one:
        a revoked or new key is a write, which the cache sees)."""
        return self.store.cached(
            ("clarius.key", prefix), lambda: self.store.query_one("SELECT * FROM clarius_api_keys WHERE prefix = ?", (prefix,))
        )

    def active_keys(self) -> list[dict[str, Any]]:
        rows = self.store.query("SELECT prefix, name, created FROM clarius_api_keys WHERE revoked IS NULL ORDER BY created, prefix")
        return [dict(row) for row in rows]

    def create_key(self, prefix: str, secret: str, name: str) -> dict[str, Any]:
        created = now_iso()
        with self.store.write() as conn:
            conn.execute(
                "INSERT INTO clarius_api_keys (prefix, secret_hash, name, created) VALUES (?, ?, ?, ?)",
                (prefix, fixtures.hash_secret(secret), name, created),
            )
        return {"prefix": prefix, "name": name, "created": created, "key": f"{prefix}.{secret}"}

    def revoke_key(self, prefix: str) -> bool:
        with self.store.write() as conn:
            cursor = conn.execute("UPDATE clarius_api_keys SET revoked = ? WHERE prefix = ? AND revoked IS NULL", (now_iso(), prefix))
            return cursor.rowcount == 1

    # -- exams --------------------------------------------------------------------------
    def download_requests(self, customer_id: str | None, limit: int, offset: int) -> tuple[int, list[sqlite3.Row]]:
        where, params = ("WHERE customer_id = ?", (customer_id,)) if customer_id is not None else ("", ())
        with self.store.read() as conn:
            count = conn.execute(f"SELECT COUNT(*) FROM clarius_download_requests {where}", params).fetchone()[0]
            rows = conn.execute(
                f"SELECT request_uuid, exam_uuid, customer_id, submitted_at FROM clarius_download_requests {where}"
                " ORDER BY submitted_at DESC, seq DESC LIMIT ? OFFSET ?",
                (*params, limit, offset),
            ).fetchall()
        return count, rows

    def download_request(self, request_uuid: str) -> sqlite3.Row | None:
        return self.store.query_one("SELECT * FROM clarius_download_requests WHERE request_uuid = ?", (request_uuid,))

    def exam(self, exam_uuid: str) -> tuple[dict[str, Any], list[sqlite3.Row]] | None:
        with self.store.read() as conn:
            row = conn.execute("SELECT patient FROM clarius_exams WHERE exam_uuid = ?", (exam_uuid,)).fetchone()
            if row is None:
                return None
            captures = conn.execute(
                "SELECT capture_uuid, kind FROM clarius_captures WHERE exam_uuid = ? ORDER BY position", (exam_uuid,)
            ).fetchall()
        return loads(row["patient"]), captures

    def capture(self, capture_uuid: str) -> sqlite3.Row | None:
        return self.store.query_one("SELECT capture_uuid, kind FROM clarius_captures WHERE capture_uuid = ?", (capture_uuid,))

    def download_request_count(self) -> int:
        with self.store.read() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM clarius_download_requests").fetchone()[0])

    def add_exam(self, exam: fixtures.Exam, request: fixtures.DownloadRequest, new_exam: bool) -> None:
        with self.store.write() as conn:
            if new_exam:
                conn.execute(
                    "INSERT INTO clarius_exams VALUES (?, ?, ?, ?, ?)",
                    (exam.uuid, exam.customer_id, dumps(exam.patient), exam.application, iso(exam.created)),
                )
                conn.executemany(
                    "INSERT INTO clarius_captures VALUES (?, ?, ?, ?)",
                    [(c.uuid, exam.uuid, i, c.kind) for i, c in enumerate(exam.captures)],
                )
            conn.execute(
                "INSERT INTO clarius_download_requests (request_uuid, exam_uuid, customer_id, submitted_at) VALUES (?, ?, ?, ?)",
                (request.uuid, request.exam_uuid, request.customer_id, iso(request.submitted_at)),
            )

    def exam_row(self, exam_uuid: str) -> sqlite3.Row | None:
        return self.store.query_one("SELECT * FROM clarius_exams WHERE exam_uuid = ?", (exam_uuid,))

    # -- customers ----------------------------------------------------------------------
    def customer(self, token: str) -> sqlite3.Row | None:
        return self.store.query_one("SELECT * FROM clarius_customers WHERE token = ?", (token,))

    def customers(self) -> list[sqlite3.Row]:
        return self.store.query("SELECT * FROM clarius_customers ORDER BY position")

    def confirm(self, token: str) -> bool:
        with self.store.write() as conn:
            cursor = conn.execute(
                "UPDATE clarius_customers SET confirmed_at = COALESCE(confirmed_at, ?) WHERE token = ?", (now_iso(), token)
            )
            return cursor.rowcount == 1

    def confirmed_tokens(self, limit: int, offset: int) -> tuple[int, list[str]]:
        with self.store.read() as conn:
            count = conn.execute("SELECT COUNT(*) FROM clarius_customers WHERE confirmed_at IS NOT NULL").fetchone()[0]
            rows = conn.execute(
                "SELECT token FROM clarius_customers WHERE confirmed_at IS NOT NULL ORDER BY position LIMIT ? OFFSET ?", (limit, offset)
            ).fetchall()
        return count, [row["token"] for row in rows]

    # -- reports ------------------------------------------------------------------------
    def add_report(self, report: dict[str, Any], data: bytes) -> None:
        with self.store.write() as conn:
            conn.execute(
                "INSERT INTO clarius_reports VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    report["uuid"],
                    report["request_uuid"],
                    report["name"],
                    report["file_name"],
                    report["content_type"],
                    report["size"],
                    data,
                    report["created"],
                ),
            )

    def reports(self, request_uuid: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT uuid, request_uuid, name, file_name, content_type, size, created FROM clarius_reports"
        params: tuple[Any, ...] = ()
        if request_uuid:
            sql += " WHERE request_uuid = ?"
            params = (request_uuid,)
        return [dict(row) for row in self.store.query(sql + " ORDER BY created, uuid", params)]

    def report_data(self, uuid: str) -> sqlite3.Row | None:
        return self.store.query_one("SELECT file_name, content_type, data FROM clarius_reports WHERE uuid = ?", (uuid,))

    # -- settings and records -----------------------------------------------------------
    def settings(self) -> dict[str, str]:
        row = self.store.query_one("SELECT notification_url, token_transfer_url FROM clarius_settings WHERE id = 1")
        return dict(row) if row else {"notification_url": "", "token_transfer_url": ""}

    def update_settings(self, changes: dict[str, str]) -> dict[str, str]:
        with self.store.write() as conn:
            for name in ("notification_url", "token_transfer_url"):
                if name in changes:
                    conn.execute(f"UPDATE clarius_settings SET {name} = ? WHERE id = 1", (changes[name],))
            row = conn.execute("SELECT notification_url, token_transfer_url FROM clarius_settings WHERE id = 1").fetchone()
        return dict(row)

    def add_record(self, record: dict[str, Any], request_uuid: str | None) -> None:
        with self.store.write() as conn:
            conn.execute(
                "INSERT INTO clarius_notification_records (logged_at, sent_at, request, response, error, request_uuid) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    record["logged_at"],
                    record["sent_at"],
                    dumps(record["request"]),
                    dumps(record["response"]) if record["response"] is not None else None,
                    record["error"],
                    request_uuid,
                ),
            )

    def records(self, limit: int, offset: int, *, keep_all: bool = False, base_url: str = "") -> tuple[int, list[dict[str, Any]]]:
        """Webhook records of the last 14 days (all of them with ``keep_all``, a deliberate defect), newest first;
        the seeded ones with their download URLs on ``base_url`` (the API as the client reached it)."""
        cutoff = "" if keep_all else iso(datetime.now(UTC) - RECORD_RETENTION)
        with self.store.read() as conn:
            count = conn.execute("SELECT COUNT(*) FROM clarius_notification_records WHERE logged_at >= ?", (cutoff,)).fetchone()[0]
            rows = conn.execute(
                "SELECT * FROM clarius_notification_records WHERE logged_at >= ? ORDER BY logged_at DESC, id DESC LIMIT ? OFFSET ?",
                (cutoff, limit, offset),
            ).fetchall()
        return count, [
            {
                "logged_at": row["logged_at"],
                "event": {
                    "sent_at": row["sent_at"],
                    "request": loads(row["request"].replace(fixtures.SEEDED_BASE_URL, base_url)),
                    "response": loads(row["response"]),
                    "error": row["error"],
                },
            }
            for row in rows
        ]

    # -- applications -------------------------------------------------------------------
    def applications(self) -> list[dict[str, Any]]:
        return [dict(row) for row in self.store.query("SELECT uuid, name FROM clarius_applications ORDER BY position")]

    def application(self, uuid: str) -> sqlite3.Row | None:
        return self.store.query_one("SELECT uuid, name FROM clarius_applications WHERE uuid = ?", (uuid,))

    def customizations(self) -> list[dict[str, Any]]:
        rows = self.store.query(
            "SELECT a.uuid, a.name, c.annotations FROM clarius_customizations c JOIN clarius_applications a ON a.uuid = c.application_uuid"
            " ORDER BY a.position"
        )
        return [{"uuid": row["uuid"], "name": row["name"], "annotations": loads(row["annotations"])} for row in rows]

    def customization(self, uuid: str) -> dict[str, Any] | None:
        row = self.store.query_one(
            "SELECT a.uuid, a.name, c.annotations FROM clarius_customizations c JOIN clarius_applications a ON a.uuid = c.application_uuid"
            " WHERE a.uuid = ?",
            (uuid,),
        )
        return None if row is None else {"uuid": row["uuid"], "name": row["name"], "annotations": loads(row["annotations"])}

    def put_customization(self, uuid: str, annotations: list[dict[str, Any]]) -> None:
        with self.store.write() as conn:
            conn.execute("INSERT OR REPLACE INTO clarius_customizations VALUES (?, ?, ?)", (uuid, dumps(annotations), now_iso()))

    def delete_customization(self, uuid: str) -> bool:
        with self.store.write() as conn:
            return conn.execute("DELETE FROM clarius_customizations WHERE application_uuid = ?", (uuid,)).rowcount == 1
