"""Store.cached: a value read from the store lives until the store changes, whoever changes it."""

from __future__ import annotations

import threading

from mockserver.store import Store, StoreSchema


def make_store(path: str) -> Store:
    store = Store(path)
    store.register(StoreSchema("t", ["CREATE TABLE IF NOT EXISTS t (v INTEGER)"], ["t"]))
    store.initialise(1, "default")
    return store


def test_a_cached_value_lives_until_any_connection_writes(tmp_path):
    path = str(tmp_path / "cache.sqlite3")
    store, other_worker = make_store(path), make_store(path)  # two Store objects: as two worker processes
    calls: list[int] = []

    def total() -> int:
        calls.append(1)
        return int(store.query_one("SELECT COALESCE(SUM(v), 0) FROM t")[0])

    try:
        assert store.cached("sum", total) == 0
        assert store.cached("sum", total) == 0 and len(calls) == 1, "a second read is served from the cache"
        with store.write() as conn:  # this connection writes
            conn.execute("INSERT INTO t VALUES (2)")
        assert store.cached("sum", total) == 2 and len(calls) == 2
        with other_worker.write() as conn:  # another connection (another process) writes
            conn.execute("INSERT INTO t VALUES (3)")
        assert store.cached("sum", total) == 5 and len(calls) == 3

        def write_from_a_thread() -> None:  # another thread of this process: its own connection
            with store.write() as conn:
                conn.execute("INSERT INTO t VALUES (4)")

        thread = threading.Thread(target=write_from_a_thread)
        thread.start()
        thread.join()
        assert store.cached("sum", total) == 9 and len(calls) == 4
        assert store.cached("sum", total) == 9 and len(calls) == 4
        assert store.cached("other key", lambda: "x") == "x", "keys are separate"
    finally:
        store.close()
        other_worker.close()


def test_the_cache_is_bounded(tmp_path):
    store = make_store(str(tmp_path / "bounded.sqlite3"))
    try:
        for index in range(1000):
            store.cached(("k", index), lambda index=index: index)
        from mockserver.store import _CACHE_ENTRIES

        assert len(store._local.cache) == _CACHE_ENTRIES == 64
    finally:
        store.close()


def test_invalidate_cache_covers_writes_sqlite_cannot_see(tmp_path):
    store = make_store(str(tmp_path / "restore.sqlite3"))
    snapshot = None
    try:
        snapshot_source = store.connection()
        import sqlite3

        snapshot = sqlite3.connect(":memory:")
        snapshot_source.backup(snapshot)  # the empty table
        with store.write() as conn:
            conn.execute("INSERT INTO t VALUES (7)")
        count = lambda: int(store.query_one("SELECT COUNT(*) FROM t")[0])  # noqa: E731
        assert store.cached("n", count) == 1
        snapshot.backup(store.connection())  # restored through this very connection: its counters do not move
        store.invalidate_cache()
        assert store.cached("n", count) == 0
    finally:
        if snapshot is not None:
            snapshot.close()
        store.close()


def test_the_request_journal_does_not_empty_the_cache(make_app):
    """Journal batches (every 50 ms under load) go to a database file of their own: served pages stay cached."""
    app = make_app(strict=False)
    mock = app.extensions["medimock"]
    client = app.test_client()
    key = client.get("/__mock__/credentials").get_json()["clarius"]["authorization"]
    computed: list[object] = []
    cached = mock.store.cached

    def counting(cache_key, compute):
        def counted():
            computed.append(cache_key)
            return compute()

        return cached(cache_key, counted)

    mock.store.cached = counting
    for _ in range(5):
        assert client.get("/api/public/v0/exams/accessible/?limit=5", headers={"Authorization": key}).status_code == 200
        mock.journal.flush()  # a batch of journal entries committed between two polls
    pages = lambda: [k for k in computed if k[0] == "clarius.poll"]  # noqa: E731  (the API key and the fault rules are cached too)
    assert len(pages()) == 1 and len(computed) == 3, f"computed again after journal writes: {computed}"
    assert mock.journal_store.path != mock.store.path
    assert len(client.get("/__mock__/requests?limit=50").get_json()["results"]) >= 5
    with mock.store.write() as conn:  # a change to the data still empties it
        conn.execute("UPDATE medimock_meta SET value = value WHERE key = 'seeded'")
    client.get("/api/public/v0/exams/accessible/?limit=5", headers={"Authorization": key})
    assert len(pages()) == 2 and len(computed) == 6


def test_a_full_cache_forgets_its_oldest_entry_only(tmp_path):
    from mockserver.store import _CACHE_ENTRIES

    store = make_store(str(tmp_path / "full.sqlite3"))
    calls: list[int] = []

    def compute(key: int):
        def value() -> int:
            calls.append(key)
            return key

        return value

    try:
        for key in range(_CACHE_ENTRIES + 1):  # one more than fits: key 0 goes
            assert store.cached(key, compute(key)) == key
        calls.clear()
        for key in range(1, _CACHE_ENTRIES + 1):  # a round of keys that fit: every one served from the cache
            assert store.cached(key, compute(key)) == key
        assert calls == []
        assert store.cached(0, compute(0)) == 0 and calls == [0]
    finally:
        store.close()


def test_a_poll_page_kept_encoded_is_the_strict_modes_json(make_app):
    """Outside strict mode a poll page is cached as its encoded bytes (``orjson.Fragment``): the same JSON."""
    from dataclasses import replace

    app = make_app(strict=False, profile="large")
    mock = app.extensions["medimock"]
    client = app.test_client()
    key = {"Authorization": client.get("/__mock__/credentials").get_json()["clarius"]["authorization"]}
    path = "/api/public/v0/exams/accessible/?limit=40&offset=20"
    encoded = [client.get(path, headers=key).get_json() for _ in range(2)]
    mock.config = replace(mock.config, strict=True)  # the same store, the page built as a dict and validated
    assert encoded[0] == encoded[1] == client.get(path, headers=key).get_json()
    assert len(encoded[0]["results"]) == 40 and encoded[0]["count"] > 60


def test_within_a_request_other_connections_commits_are_asked_for_once(tmp_path):
    path = str(tmp_path / "cache.sqlite3")
    store, other_worker = make_store(path), make_store(path)
    statements: list[str] = []
    store.connection().set_trace_callback(statements.append)

    def total() -> int:
        return int(store.query_one("SELECT COALESCE(SUM(v), 0) FROM t")[0])

    try:
        with store.request():
            assert store.cached("sum", total) == 0
            with other_worker.write() as conn:  # another process commits during the request
                conn.execute("INSERT INTO t VALUES (3)")
            assert store.cached("sum", total) == 0, "the request sees the data as of its first cached read"
            assert store.cached("other", lambda: "x") == "x"
            with store.write() as conn:  # its own write shows at once
                conn.execute("INSERT INTO t VALUES (2)")
            assert store.cached("sum", total) == 5
            with other_worker.write() as conn:
                conn.execute("INSERT INTO t VALUES (10)")
            with store.request():  # a request inside a request (an in-process call) asks afresh, then the outer goes on
                assert store.cached("sum", total) == 15
            assert store.cached("sum", total) in (5, 15)
        assert sum("data_version" in s for s in statements) == 2, statements  # one per request, not one per read
        assert store.cached("sum", total) == 15, "after the request, another connection's commit is seen again"
        with other_worker.write() as conn:
            conn.execute("INSERT INTO t VALUES (1)")
        assert store.cached("sum", total) == 16
    finally:
        store.close()
        other_worker.close()


def test_fault_rules_set_by_another_worker_apply_at_the_next_request(make_app):
    app = make_app(apis=("tscharts",))
    client = app.test_client()
    mock = app.extensions["medimock"]
    other_worker = Store(mock.store.path)
    token = client.get("/__mock__/credentials").get_json()["tscharts"]["authorization"]
    try:
        before = client.get("/tscharts/v1/image/1/", headers={"Authorization": token}).status_code
        assert before != 503
        with other_worker.write() as conn:  # a rule written by another process (its control API)
            conn.execute("INSERT INTO fault_rules (rule) VALUES (?)", ('{"api": "tscharts", "status": 503}',))
        assert client.get("/tscharts/v1/image/1/", headers={"Authorization": token}).status_code == 503
        with other_worker.write() as conn:
            conn.execute("DELETE FROM fault_rules")
        assert client.get("/tscharts/v1/image/1/", headers={"Authorization": token}).status_code == before
    finally:
        other_worker.close()
