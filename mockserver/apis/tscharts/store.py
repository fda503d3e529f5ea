"""tscharts tables, seeding, and the queries the handlers run.

Images keep their base64 text as it was sent (several megabytes are fine: SQLite
stores a TEXT value of up to 1 GB); ``timestamp`` is a fixed-width ISO string, so
``ORDER BY timestamp DESC, id DESC`` is "most recent first, ties by highest id".
Image ids come from ``AUTOINCREMENT``: a deleted id is never handed out again.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any

from medimock.fixtures import tscharts as fixtures

from ...store import SeedContext, Store, StoreSchema

DDL = [
    """CREATE TABLE IF NOT EXISTS tscharts_users (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        token TEXT NOT NULL UNIQUE,
        active INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS tscharts_patients (
        id INTEGER PRIMARY KEY,
        first_name TEXT NOT NULL,
        last_name TEXT NOT NULL,
        dob TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS tscharts_clinics (
        id INTEGER PRIMARY KEY,
        location TEXT NOT NULL,
        start TEXT NOT NULL,
        "end" TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS tscharts_stations (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS tscharts_images (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        patient INTEGER NOT NULL,
        clinic INTEGER NOT NULL,
        station INTEGER NOT NULL,
        type TEXT NOT NULL,
        data TEXT NOT NULL,
        timestamp TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS tscharts_images_patient ON tscharts_images (patient, timestamp DESC, id DESC)",
]
TABLES = ["tscharts_users", "tscharts_patients", "tscharts_clinics", "tscharts_stations", "tscharts_images"]

IMAGE_COLUMNS = "id, patient, clinic, station, type, data, timestamp"


def now_iso() -> str:
    return fixtures.isoformat(datetime.now(UTC))


def seed(conn: sqlite3.Connection, context: SeedContext) -> None:
    data = fixtures.build(context.seed, context.profile, now=context.now)
    # A reset starts the image ids again where a fresh database would.
    conn.execute("DELETE FROM sqlite_sequence WHERE name = 'tscharts_images'")
    conn.executemany(
        "INSERT INTO tscharts_users VALUES (?, ?, ?, ?, ?)",
        [(u.id, u.username, fixtures.hash_password(u.password), u.token, int(u.active)) for u in data.users],
    )
    conn.executemany("INSERT INTO tscharts_patients VALUES (?, ?, ?, ?)", [(p.id, p.first_name, p.last_name, p.dob) for p in data.patients])
    conn.executemany("INSERT INTO tscharts_clinics VALUES (?, ?, ?, ?)", [(c.id, c.location, c.start, c.end) for c in data.clinics])
    conn.executemany("INSERT INTO tscharts_stations VALUES (?, ?)", [(s.id, s.name) for s in data.stations])
    conn.executemany(
        f"INSERT INTO tscharts_images ({IMAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(i.id, i.patient, i.clinic, i.station, i.type, i.data, fixtures.isoformat(i.timestamp)) for i in data.images],
    )


SCHEMA = StoreSchema(name="tscharts", ddl=DDL, tables=TABLES, seed=seed)

_KINDS = {"patient": "tscharts_patients", "clinic": "tscharts_clinics", "station": "tscharts_stations"}


class TschartsStore:
    """The queries of the tscharts handlers, over the shared ``Store``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- users --------------------------------------------------------------------------
    def user_by_token(self, token: str) -> sqlite3.Row | None:
        return self.store.query_one("SELECT id, username, active FROM tscharts_users WHERE token = ?", (token,))

    def user_by_name(self, username: str) -> sqlite3.Row | None:
        return self.store.query_one("SELECT * FROM tscharts_users WHERE username = ?", (username,))

    def users(self) -> list[sqlite3.Row]:
        return self.store.query("SELECT id, username, token, active FROM tscharts_users ORDER BY id")

    # -- patients, clinics, stations ----------------------------------------------------
    def exists(self, kind: str, ident: int) -> bool:
        table = _KINDS[kind]
        return self.store.query_one(f"SELECT 1 FROM {table} WHERE id = ?", (ident,)) is not None

    def missing(self, **ids: int | None) -> list[str]:
        """Which of the given patient/clinic/station ids are unknown."""
        return [kind for kind, ident in ids.items() if ident is not None and not self.exists(kind, ident)]

    def ids(self, kind: str) -> list[int]:
        return [row["id"] for row in self.store.query(f"SELECT id FROM {_KINDS[kind]} ORDER BY id")]

    # -- images -------------------------------------------------------------------------
    def add_image(self, patient: int, clinic: int, station: int, image_type: str, data: str) -> int:
        with self.store.write() as conn:
            cursor = conn.execute(
                "INSERT INTO tscharts_images (patient, clinic, station, type, data, timestamp) VALUES (?, ?, ?, ?, ?, ?)",
                (patient, clinic, station, image_type, data, now_iso()),
            )
            return int(cursor.lastrowid or 0)

    def image(self, image_id: int) -> dict[str, Any] | None:
        row = self.store.query_one(f"SELECT {IMAGE_COLUMNS} FROM tscharts_images WHERE id = ?", (image_id,))
        return None if row is None else dict(row)

    def delete_image(self, image_id: int) -> bool:
        with self.store.write() as conn:
            return conn.execute("DELETE FROM tscharts_images WHERE id = ?", (image_id,)).rowcount == 1

    def image_ids(self, patient: int, filters: dict[str, Any], *, sort: bool, ascending: bool = False) -> list[int]:
        where, params = _where(patient, filters)
        order = "timestamp DESC, id DESC" if sort else "id"
        if sort and ascending:
            order = "timestamp, id"
        rows = self.store.query(f"SELECT id FROM tscharts_images WHERE {where} ORDER BY {order}", params)
        return [row["id"] for row in rows]

    def newest_image(self, patient: int, filters: dict[str, Any]) -> dict[str, Any] | None:
        where, params = _where(patient, filters)
        row = self.store.query_one(
            f"SELECT {IMAGE_COLUMNS} FROM tscharts_images WHERE {where} ORDER BY timestamp DESC, id DESC LIMIT 1",
            params,
        )
        return None if row is None else dict(row)


def _where(patient: int, filters: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
    clauses = ["patient = ?"]
    params: list[Any] = [patient]
    for column in ("type", "clinic", "station"):
        if filters.get(column) is not None:
            clauses.append(f"{column} = ?")
            params.append(filters[column])
    return " AND ".join(clauses), tuple(params)
