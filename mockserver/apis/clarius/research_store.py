"""Clarius Research API tables, seeding, and the queries its handlers and control routes run.

Two schemas: ``clarius_research`` (research users, and each exam's numeric id and whether
it is still being processed; re-seeded by a reset) and ``clarius_research_tokens`` (the auth
tokens, kept across resets as the users are the same after one, like radiology's tokens).
The research schema is seeded after the Clarius one and reads the exams and customers it
wrote, so the fixtures are built once.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from medimock.fixtures import clarius as fixtures

from ...store import SeedContext, Store, StoreSchema, loads

DDL = [
    """CREATE TABLE IF NOT EXISTS clarius_research_users (
        username TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        name TEXT NOT NULL,
        institution TEXT NOT NULL,
        research_bundle INTEGER NOT NULL,
        position INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS clarius_research_exams (
        id INTEGER PRIMARY KEY,
        exam_uuid TEXT NOT NULL UNIQUE,
        processing INTEGER NOT NULL DEFAULT 0
    )""",
]
TABLES = ["clarius_research_users", "clarius_research_exams"]

TOKEN_DDL = [
    """CREATE TABLE IF NOT EXISTS clarius_research_tokens (
        token TEXT PRIMARY KEY,
        username TEXT NOT NULL,
        created TEXT NOT NULL,
        revoked TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS clarius_research_tokens_user ON clarius_research_tokens (username, revoked)",
]


def seed(conn: sqlite3.Connection, context: SeedContext) -> None:
    customers = [
        fixtures.Customer(row["token"], row["name"], row["confirmed_at"] is not None)
        for row in conn.execute("SELECT token, name, confirmed_at FROM clarius_customers ORDER BY position")
    ]
    exams = [
        fixtures.Exam(row["exam_uuid"], row["customer_id"], {}, "", datetime.min)
        for row in conn.execute("SELECT exam_uuid, customer_id FROM clarius_exams ORDER BY rowid")
    ]
    sizes = fixtures.PROFILES.get(context.profile, fixtures.PROFILES["default"])
    users, processing = fixtures.research(context.seed, customers, exams, sizes["processing"])
    conn.executemany(
        "INSERT INTO clarius_research_users VALUES (?, ?, ?, ?, ?, ?)",
        [(u.username, fixtures.hash_secret(u.password), u.name, u.institution, int(u.research_bundle), i) for i, u in enumerate(users)],
    )
    conn.executemany(
        "INSERT INTO clarius_research_exams (id, exam_uuid, processing) VALUES (?, ?, ?)",
        [(i + 1, e.uuid, int(e.uuid in processing)) for i, e in enumerate(exams)],
    )


SCHEMA = StoreSchema(name="clarius_research", ddl=DDL, tables=TABLES, seed=seed)
TOKENS = StoreSchema(name="clarius_research_tokens", ddl=TOKEN_DDL, tables=["clarius_research_tokens"], keep_on_reset=True)


@dataclass(frozen=True)
class ResearchExam:
    """An exam as the Research API sees it: its numeric id, owner, patient and captures."""

    id: int
    exam_uuid: str
    processing: bool
    customer_id: str
    institution_name: str
    patient: dict[str, Any] = field(compare=False, hash=False)  # fixed for an exam: its uuid identifies it
    application: str = ""
    created: str = ""  # ISO 8601 UTC, as the Service API shows times
    captures: tuple[tuple[str, str], ...] = ()  # (capture_uuid, kind) in order


class ResearchStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    # -- users and tokens ---------------------------------------------------------------
    def user(self, username: str) -> sqlite3.Row | None:
        return self.store.query_one("SELECT * FROM clarius_research_users WHERE username = ?", (username,))

    def users(self) -> list[sqlite3.Row]:
        return self.store.query("SELECT * FROM clarius_research_users ORDER BY position")

    def set_bundle(self, username: str, granted: bool) -> bool:
        with self.store.write() as conn:
            return (
                conn.execute("UPDATE clarius_research_users SET research_bundle = ? WHERE username = ?", (int(granted), username)).rowcount
                == 1
            )

    def token_user(self, token: str) -> sqlite3.Row | None:
        """The user an active token belongs to."""
        return self.store.query_one(
            "SELECT u.* FROM clarius_research_tokens t JOIN clarius_research_users u ON u.username = t.username"
            " WHERE t.token = ? AND t.revoked IS NULL",
            (token,),
        )

    def token_for(self, username: str, new_token: str, now: str) -> str:
        """The user's active token, or ``new_token`` issued now (one token per user until it is revoked, as DRF's authtoken)."""
        with self.store.write() as conn:
            row = conn.execute(
                "SELECT token FROM clarius_research_tokens WHERE username = ? AND revoked IS NULL ORDER BY created LIMIT 1", (username,)
            ).fetchone()
            if row is not None:
                return str(row["token"])
            conn.execute("INSERT INTO clarius_research_tokens VALUES (?, ?, ?, NULL)", (new_token, username, now))
            return new_token

    def revoke(self, now: str, *, token: str | None = None, username: str | None = None) -> int:
        with self.store.write() as conn:
            if token is not None:
                cursor = conn.execute("UPDATE clarius_research_tokens SET revoked = ? WHERE token = ? AND revoked IS NULL", (now, token))
            else:
                cursor = conn.execute(
                    "UPDATE clarius_research_tokens SET revoked = ? WHERE username = ? AND revoked IS NULL", (now, username)
                )
            return int(cursor.rowcount)

    # -- exams --------------------------------------------------------------------------
    def exam(self, exam_id: int) -> ResearchExam | None:
        with self.store.read() as conn:
            row = conn.execute(
                "SELECT r.id, r.exam_uuid, r.processing, e.customer_id, e.patient, e.created, c.name AS institution_name,"
                " a.name AS application FROM clarius_research_exams r JOIN clarius_exams e ON e.exam_uuid = r.exam_uuid"
                " LEFT JOIN clarius_customers c ON c.token = e.customer_id LEFT JOIN clarius_applications a ON a.uuid = e.application_uuid"
                " WHERE r.id = ?",
                (exam_id,),
            ).fetchone()
            if row is None:
                return None
            captures = conn.execute(
                "SELECT capture_uuid, kind FROM clarius_captures WHERE exam_uuid = ? ORDER BY position", (row["exam_uuid"],)
            ).fetchall()
        return ResearchExam(
            id=int(row["id"]),
            exam_uuid=row["exam_uuid"],
            processing=bool(row["processing"]),
            customer_id=row["customer_id"],
            institution_name=row["institution_name"] or "",
            patient=loads(row["patient"]) or {},
            application=row["application"] or "",
            created=row["created"],
            captures=tuple((c["capture_uuid"], c["kind"]) for c in captures),
        )

    def exam_id(self, exam_uuid: str) -> int | None:
        row = self.store.query_one("SELECT id FROM clarius_research_exams WHERE exam_uuid = ?", (exam_uuid,))
        return None if row is None else int(row["id"])

    def exams(self, institution: str | None = None) -> list[dict[str, Any]]:
        sql = (
            "SELECT r.id, r.exam_uuid, r.processing, e.customer_id,"
            " (SELECT COUNT(*) FROM clarius_captures c WHERE c.exam_uuid = r.exam_uuid) AS captures,"
            " (SELECT COUNT(*) FROM clarius_captures c WHERE c.exam_uuid = r.exam_uuid AND c.kind = 'mp4') AS cines"
            " FROM clarius_research_exams r JOIN clarius_exams e ON e.exam_uuid = r.exam_uuid"
        )
        params: tuple[Any, ...] = ()
        if institution is not None:
            sql += " WHERE e.customer_id = ?"
            params = (institution,)
        rows = self.store.query(sql + " ORDER BY r.id", params)
        return [
            {
                "id": r["id"],
                "exam_uuid": r["exam_uuid"],
                "institution": r["customer_id"],
                "processing": bool(r["processing"]),
                "captures": r["captures"],
                "cines": r["cines"],
            }
            for r in rows
        ]

    def register(self, exam_uuid: str, processing: bool) -> int:
        """Give an exam (new or submitted again) its numeric id, and say whether it is being processed."""
        with self.store.write() as conn:
            conn.execute(
                "INSERT INTO clarius_research_exams (exam_uuid, processing) VALUES (?, ?)"
                " ON CONFLICT (exam_uuid) DO UPDATE SET processing = excluded.processing",
                (exam_uuid, int(processing)),
            )
            return int(conn.execute("SELECT id FROM clarius_research_exams WHERE exam_uuid = ?", (exam_uuid,)).fetchone()[0])

    def set_processing(self, exam_id: int, processing: bool) -> bool:
        """Processing is done (False: the exam's raw data and DICOM can be had), or starts again (True)."""
        with self.store.write() as conn:
            return conn.execute("UPDATE clarius_research_exams SET processing = ? WHERE id = ?", (int(processing), exam_id)).rowcount == 1
