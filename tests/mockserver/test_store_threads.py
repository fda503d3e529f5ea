"""A thread's SQLite connection is closed when the thread ends.

The threaded server runs one thread per client connection; a store that kept every thread's
connection open ran out of file descriptors after a few thousand requests (found by the Ambra
contract suite, which sends about 5,000 to one mock: "Too many open files", then 500s).
"""

from __future__ import annotations

import gc
import os
import sys
import threading
from pathlib import Path

import pytest

from mockserver.store import Store


def open_descriptors(path: Path) -> int:
    count = 0
    for entry in Path("/proc/self/fd").iterdir():
        try:
            if os.readlink(entry).startswith(str(path)):
                count += 1
        except OSError:  # closed while listing
            continue
    return count


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts descriptors through /proc/self/fd")
def test_connections_of_finished_threads_are_closed(tmp_path: Path) -> None:
    # Closed when the thread ends, not when the garbage collector comes round (a connection is in a reference cycle):
    # with the collector off, the descriptors still do not grow with the threads.
    enabled = gc.isenabled()
    gc.disable()
    try:
        run_threads(tmp_path)
    finally:
        if enabled:
            gc.enable()


def run_threads(tmp_path: Path) -> None:
    store = Store(tmp_path / "threads.sqlite3")
    try:
        store.connection().execute("CREATE TABLE t (x INTEGER)")

        def work() -> None:
            with store.write() as conn:
                conn.execute("INSERT INTO t VALUES (1)")
            store.connection().execute("SELECT COUNT(*) FROM t").fetchone()

        counts = []
        for _ in range(2):
            for _ in range(300):
                thread = threading.Thread(target=work)
                thread.start()
                thread.join()
            counts.append(open_descriptors(tmp_path))
        assert store.connection().execute("SELECT COUNT(*) FROM t").fetchone()[0] == 600
        # SQLite keeps a few closed connections' descriptors for reuse (POSIX locks); they must not grow with the threads.
        assert counts[1] <= min(100, counts[0] + 5), f"descriptors after 300 and 600 threads: {counts} (one connection each would be 1,200)"
    finally:
        store.close()
