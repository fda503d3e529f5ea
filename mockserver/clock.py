"""The mock's clock: the wall clock plus an offset kept in the shared store.

``POST /__mock__/clock`` (``{"advance_seconds": N}``) moves it forward for every worker
(``PUT`` with ``{"offset_seconds": N}`` sets it, for a test that puts it back as it found it),
so whatever expires or progresses with time (radiology tokens and order statuses,
Clarius research links) can be tested without waiting. A reset sets the offset back
to 0. Any API reads it through ``MockClock(store)``.

This module imports no Flask.
"""

from __future__ import annotations

import sqlite3
import time

from .store import SeedContext, Store, StoreSchema

MAX_ADVANCE_SECONDS = 10 * 365 * 86400


def _seed(conn: sqlite3.Connection, context: SeedContext) -> None:
    conn.execute("INSERT INTO mock_clock VALUES (1, 0)")


SCHEMA = StoreSchema(
    name="clock",
    ddl=[
        """CREATE TABLE IF NOT EXISTS mock_clock (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            offset_seconds REAL NOT NULL
        )"""
    ],
    tables=["mock_clock"],
    seed=_seed,
)


class MockClock:
    """Epoch seconds as the mock sees them (``now``), and the offset that moves them."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def offset(self) -> float:
        row = self.store.query_one("SELECT offset_seconds FROM mock_clock WHERE id = 1")
        return float(row["offset_seconds"]) if row else 0.0

    def now(self) -> float:
        return time.time() + self.offset()

    def advance(self, seconds: float) -> float:
        """Move the clock forward (never back); returns the new offset."""
        if not 0 <= seconds <= MAX_ADVANCE_SECONDS:
            raise ValueError(f"the clock moves forward by 0 to {MAX_ADVANCE_SECONDS} seconds")
        with self.store.write() as conn:
            conn.execute("INSERT OR IGNORE INTO mock_clock VALUES (1, 0)")
            conn.execute("UPDATE mock_clock SET offset_seconds = offset_seconds + ? WHERE id = 1", (seconds,))
            return float(conn.execute("SELECT offset_seconds FROM mock_clock WHERE id = 1").fetchone()[0])

    def set_offset(self, seconds: float) -> float:
        """Set the offset (a test putting the clock back where it found it)."""
        if not 0 <= seconds <= MAX_ADVANCE_SECONDS:
            raise ValueError(f"the offset is 0 to {MAX_ADVANCE_SECONDS} seconds")
        with self.store.write() as conn:
            conn.execute("INSERT OR REPLACE INTO mock_clock VALUES (1, ?)", (seconds,))
        return seconds
