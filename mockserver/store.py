"""The shared state: one SQLite database that every worker process opens.

SQLite is a real, embedded database: WAL mode lets readers run beside one
writer, a busy timeout makes concurrent writers wait instead of failing, and
every write is a short ``BEGIN IMMEDIATE`` transaction so two workers never
interleave half-done changes. Each thread of each process has its own
connection (connections never cross a ``fork``).

APIs register a ``StoreSchema`` (their tables and a seeding function);
``reset()`` drops and recreates every registered table and seeds it again in
one transaction, so a reader sees either the old state or the new one.

This module imports no Flask.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from . import jsonio

SeedFunction = Callable[[sqlite3.Connection, "SeedContext"], None]


@dataclass(frozen=True)
class SeedContext:
    seed: int
    profile: str  # "default", "large" or "huge"
    seed_time: str | None = None  # ISO 8601: the moment the seeded data is relative to (None: now)

    @property
    def now(self) -> datetime:
        return parse_seed_time(self.seed_time) if self.seed_time else datetime.now(UTC)


def parse_seed_time(text: str) -> datetime:
    """``--seed-time``: an ISO 8601 moment (a date alone is its midnight; no offset is UTC). ValueError if not one."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass
class StoreSchema:
    """Tables owned by one part of the mock, and how to fill them."""

    name: str
    ddl: list[str]
    tables: list[str]
    seed: SeedFunction | None = None
    keep_on_reset: bool = False  # e.g. fault rules survive a reset of the data
    extra: dict[str, Any] = field(default_factory=dict)


class _Connection(sqlite3.Connection):
    """A connection that can be referenced weakly (``Store._all_connections``)."""


class _ThreadEnd:
    """Held by a thread's local storage beside its connection, and by nothing else: it goes when the thread ends
    (the threaded server runs one thread per client connection), and its finaliser closes the connection then.
    The connection itself cannot tell: CPython 3.11's sqlite3 connection is in a reference cycle (its statement
    cache wraps it), so without this it closed only when the garbage collector came round, and its file
    descriptors piled up meanwhile."""


def _close_at_thread_end(conn: sqlite3.Connection, pid: int) -> None:
    if os.getpid() == pid:  # never a connection a forked child inherited (SQLite's locks belong to the parent)
        try:
            conn.close()
        except sqlite3.Error:
            pass


# per thread (Store.cached): a client walking 50 downloads in turn, beside its poll page, stays in the cache
_CACHE_ENTRIES = 64
T = TypeVar("T")

_META_DDL = "CREATE TABLE IF NOT EXISTS medimock_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"


class Store:
    def __init__(self, path: str | os.PathLike[str] | None = None, *, busy_timeout_ms: int = 30_000) -> None:
        self._owned_dir: tempfile.TemporaryDirectory[str] | None = None
        if path is None:
            self._owned_dir = tempfile.TemporaryDirectory(prefix="medimock-")
            path = Path(self._owned_dir.name) / "medimock.sqlite3"
        self.path = str(path)
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._schemas: list[StoreSchema] = []
        self._all_connections: weakref.WeakSet[sqlite3.Connection] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._cache_epoch = 0

    # -- connections --------------------------------------------------------------------
    def connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn
        conn = sqlite3.connect(
            self.path, timeout=self.busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False, factory=_Connection
        )
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        self._local.conn = conn
        self._local.pid = os.getpid()
        self._local.end = end = _ThreadEnd()
        closer = weakref.finalize(end, _close_at_thread_end, conn, os.getpid())
        # not at interpreter exit: a daemon thread (the journal's flusher, a webhook sender) may still be inside
        # SQLite with this connection then, and closing it under that thread crashed the process (SIGSEGV)
        closer.atexit = False
        with self._lock:
            self._all_connections.add(conn)
        return conn

    def cached(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, remembered per thread until the database changes.

        SQLite's ``data_version`` changes when any other connection (any thread, any worker
        process) commits, and ``total_changes`` when this one writes, so a cached value never
        outlives the data it was read from. For pure reads of stored data only: not for
        answers that depend on the clock, the caller or a fault. The caller must not mutate
        the value. At most ``_CACHE_ENTRIES`` per thread (the oldest goes first), so memory stays bounded. Whoever changes the file
        behind SQLite's back (a backup restored into it) calls ``invalidate_cache``.
        """
        conn = self.connection()
        local = self._local
        seen = getattr(local, "request_seen", None)
        if seen is None:
            seen = conn.execute("PRAGMA data_version").fetchone()[0]
            if getattr(local, "in_request", False):
                local.request_seen = seen
        version = (self._cache_epoch, seen, conn.total_changes)
        cache: dict[Hashable, Any] | None = getattr(local, "cache", None)
        if cache is None or local.cache_version != version:
            cache = local.cache = {}
            local.cache_version = version
        if key in cache:
            return cast(T, cache[key])
        value = compute()
        if len(cache) >= _CACHE_ENTRIES:
            del cache[next(iter(cache))]  # the oldest entry: one that comes round again stays
        cache[key] = value
        return value

    @contextmanager
    def request(self) -> Iterator[None]:
        """One request's reads: within it, ``cached`` asks SQLite whether another connection committed only at its
        first call, so the request sees the data of that moment (this connection's own writes still show at once,
        through ``total_changes``). A request read an API key and its object through two cached reads, and the
        fault rules through a third query: one ``PRAGMA data_version`` instead of three statements (about 20 µs of
        the 380 µs a Clarius download costs the server; benchmarks/RESULTS.md)."""
        local = self._local
        outer = getattr(local, "in_request", False), getattr(local, "request_seen", None)
        local.in_request, local.request_seen = True, None
        try:
            yield
        finally:
            local.in_request, local.request_seen = outer

    def invalidate_cache(self) -> None:
        """Forget every thread's ``cached`` values (after writes SQLite cannot see, such as a backup restore)."""
        self._cache_epoch += 1

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A short write transaction taken with ``BEGIN IMMEDIATE`` (the write lock up front)."""
        conn = self.connection()
        if conn.in_transaction:  # nested: join the outer transaction
            yield conn
            return
        _begin_immediate(conn)
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot across several SELECTs."""
        conn = self.connection()
        if conn.in_transaction:
            yield conn
            return
        conn.execute("BEGIN DEFERRED")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def query(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        return self.connection().execute(sql, params).fetchall()

    def query_one(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> sqlite3.Row | None:
        return self.connection().execute(sql, params).fetchone()

    # -- schema and seeding -------------------------------------------------------------
    def register(self, schema: StoreSchema) -> None:
        self._schemas.append(schema)

    def initialise(self, seed: int, profile: str, *, bulk: bool = False, seed_time: str | None = None) -> bool:
        """Create and seed the tables unless another process already did. True when this call seeded.

        ``bulk`` (a profile of a million rows): a new, empty file is seeded with a rollback journal, so
        its pages are written once (into the file) instead of twice (into the WAL, then the file), and
        is in WAL mode again before anyone reads it. A file already in use is seeded in WAL mode."""
        conn = self.connection()
        switched = bulk and self._fresh(conn) and conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0] == "delete"
        try:
            return self._initialise(seed, profile, seed_time)
        finally:
            if switched:
                conn.execute("PRAGMA journal_mode=WAL")

    @staticmethod
    def _fresh(conn: sqlite3.Connection) -> bool:
        return not conn.in_transaction and conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0

    def _initialise(self, seed: int, profile: str, seed_time: str | None = None) -> bool:
        with self.write() as conn:
            conn.execute(_META_DDL)
            for schema in self._schemas:
                for statement in schema.ddl:
                    conn.execute(statement)
            row = conn.execute("SELECT value FROM medimock_meta WHERE key = 'seeded'").fetchone()
            wanted = f"{seed}:{profile}:{','.join(s.name for s in self._schemas)}" + (f":{seed_time}" if seed_time else "")
            if row is not None and row["value"] == wanted:
                return False
            self._seed_all(conn, SeedContext(seed, profile, seed_time), only_data=row is not None)
            conn.execute("INSERT OR REPLACE INTO medimock_meta VALUES ('seeded', ?)", (wanted,))
            conn.execute("INSERT OR REPLACE INTO medimock_meta VALUES ('generation', ?)", (str(time.time_ns()),))
            return True

    def reset(self, seed: int, profile: str, *, everything: bool = False, seed_time: str | None = None) -> None:
        """Back to the seeded data; ``everything`` also empties the tables kept across resets
        (fault rules, sessions), as in a store just created (the journal has its own file: ``Journal.clear``)."""
        with self.write() as conn:
            if everything and conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").fetchone():
                # AUTOINCREMENT counters too: ids (and what is derived from them) as in a new store
                conn.executemany(
                    "DELETE FROM sqlite_sequence WHERE name = ?", [(table,) for schema in self._schemas for table in schema.tables]
                )
            self._seed_all(conn, SeedContext(seed, profile, seed_time), only_data=not everything)
            conn.execute("INSERT OR REPLACE INTO medimock_meta VALUES ('generation', ?)", (str(time.time_ns()),))

    def _seed_all(self, conn: sqlite3.Connection, context: SeedContext, *, only_data: bool) -> None:
        for schema in self._schemas:
            if schema.keep_on_reset and only_data:
                continue
            for table in reversed(schema.tables):
                conn.execute(f"DELETE FROM {table}")
        for schema in self._schemas:
            if schema.keep_on_reset and only_data:
                continue
            if schema.seed is not None:
                schema.seed(conn, context)

    def meta(self, key: str) -> str | None:
        row = self.query_one("SELECT value FROM medimock_meta WHERE key = ?", (key,))
        return None if row is None else str(row["value"])

    def close(self) -> None:
        with self._lock:
            for conn in list(self._all_connections):
                try:
                    conn.close()
                except sqlite3.Error:  # pragma: no cover - closing a connection of a dead thread
                    pass
            self._all_connections.clear()
        self._local = threading.local()
        if self._owned_dir is not None:
            self._owned_dir.cleanup()
            self._owned_dir = None


def _begin_immediate(conn: sqlite3.Connection) -> None:
    # The busy timeout covers the wait for the lock; a second try covers the rare
    # SQLITE_BUSY that WAL returns when a checkpoint races the BEGIN.
    for attempt in range(50):
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if ("locked" not in str(exc) and "busy" not in str(exc)) or attempt == 49:
                raise
            time.sleep(0.01)


SQL_INT_MAX = 2**63 - 1


def sql_int(value: int) -> int:
    """An integer SQLite can bind: a limit or offset of 400 digits means "all" or "past the end"."""
    return max(-SQL_INT_MAX, min(SQL_INT_MAX, value))


def dumps(value: Any) -> str:
    return jsonio.dumps_text(value)


def loads(value: str | bytes | None) -> Any:
    return None if value is None else jsonio.loads(value)
