"""The request journal: every request the mock answered, shared by all workers, bounded in size."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from .store import Store, StoreSchema, dumps, loads

SCHEMA = StoreSchema(
    name="journal",
    ddl=[
        """CREATE TABLE IF NOT EXISTS journal (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at REAL NOT NULL,
            api TEXT,
            operation_id TEXT,
            method TEXT NOT NULL,
            path TEXT NOT NULL,
            query TEXT NOT NULL,
            status INTEGER NOT NULL,
            duration_ms REAL NOT NULL,
            fault TEXT,
            detail TEXT
        )""",
        "CREATE INDEX IF NOT EXISTS journal_api ON journal (api, id)",
    ],
    tables=["journal"],
    keep_on_reset=True,
)


@dataclass
class JournalEntry:
    api: str | None
    operation_id: str | None
    method: str
    path: str
    query: str
    status: int
    duration_ms: float
    fault: str | None = None
    detail: dict[str, Any] | None = None


class Journal:
    def __init__(self, store: Store, size: int) -> None:
        self.store = store
        self.size = size
        self._since_trim = 0

    def record(self, entry: JournalEntry) -> None:
        with self.store.write() as conn:
            conn.execute(
                "INSERT INTO journal (at, api, operation_id, method, path, query, status, duration_ms, fault, detail)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    time.time(),
                    entry.api,
                    entry.operation_id,
                    entry.method,
                    entry.path,
                    entry.query,
                    entry.status,
                    round(entry.duration_ms, 3),
                    entry.fault,
                    dumps(entry.detail) if entry.detail else None,
                ),
            )
            self._since_trim += 1
            if self._since_trim >= 100:
                self._since_trim = 0
                conn.execute("DELETE FROM journal WHERE id <= (SELECT MAX(id) FROM journal) - ?", (self.size,))

    def entries(self, *, api: str | None = None, limit: int = 100, since_id: int = 0) -> list[dict[str, Any]]:
        limit = max(1, min(limit, self.size))
        sql = "SELECT * FROM journal WHERE id > ?"
        params: list[Any] = [since_id]
        if api:
            sql += " AND api = ?"
            params.append(api)
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        rows = self.store.query(sql, tuple(params))
        out = []
        for row in reversed(rows):
            out.append(
                {
                    "id": row["id"],
                    "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(row["at"])) + f".{int(row['at'] % 1 * 1e6):06d}Z",
                    "api": row["api"],
                    "operation_id": row["operation_id"],
                    "method": row["method"],
                    "path": row["path"],
                    "query": row["query"],
                    "status": row["status"],
                    "duration_ms": row["duration_ms"],
                    "fault": row["fault"],
                    "detail": loads(row["detail"]),
                }
            )
        return out

    def clear(self) -> None:
        with self.store.write() as conn:
            conn.execute("DELETE FROM journal")
