"""The request journal: every request the mock answered, shared by all workers, bounded in size."""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from .store import Store, StoreSchema, dumps, loads

log = logging.getLogger("medimock.journal")

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


def path_beside(store_path: str) -> str:
    """The journal's database file, beside the store's (``state.sqlite3`` -> ``state.sqlite3.requests``)."""
    return f"{store_path}.requests"


class Journal:
    """Entries are buffered per process and written in batches by a background thread.

    One write transaction per request would put every request behind the store's
    write lock, shared by all workers (the first profile showed it as the p99 tail).
    Batches go out every ``flush_interval`` seconds; reading or clearing the journal
    flushes this process's buffer first, so within one process it is exact, and
    across gunicorn workers an entry appears within ``flush_interval``.
    """

    def __init__(self, store: Store, size: int, flush_interval: float = 0.05) -> None:
        self.store = store
        self.size = size
        self.flush_interval = flush_interval
        self._buffer: list[tuple[Any, ...]] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()  # one flush at a time: when flush() returns, no earlier entry is still in flight
        self._wake = threading.Event()
        self._pid = 0
        self._closed = False
        self._thread: threading.Thread | None = None

    def record(self, entry: JournalEntry) -> None:
        row = (
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
        )
        with self._lock:
            self._buffer.append(row)
            if self._pid != os.getpid():  # first entry in this process (gunicorn forks workers)
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._flusher, name="medimock-journal", daemon=True)
                self._thread.start()

    def flush(self) -> None:
        with self._flush_lock:
            with self._lock:
                rows, self._buffer = self._buffer, []
            if not rows:
                return
            with self.store.write() as conn:
                conn.executemany(
                    "INSERT INTO journal (at, api, operation_id, method, path, query, status, duration_ms, fault, detail)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                conn.execute("DELETE FROM journal WHERE id <= (SELECT MAX(id) FROM journal) - ?", (self.size,))

    def _flusher(self) -> None:
        while not self._closed:
            self._wake.wait(self.flush_interval)
            try:
                self.flush()
            except Exception:
                log.exception("could not write the request journal")

    def close(self) -> None:
        """Stop the flusher (before the store closes its connections) and write what is left."""
        self._closed = True
        self._wake.set()
        if self._thread is not None and self._thread.is_alive() and self._pid == os.getpid():
            self._thread.join(10)
        try:
            self.flush()
        except Exception:
            log.exception("could not write the request journal")

    def entries(self, *, api: str | None = None, limit: int = 100, since_id: int = 0) -> list[dict[str, Any]]:
        self.flush()
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
        self.flush()
        with self.store.write() as conn:
            conn.execute("DELETE FROM journal")
