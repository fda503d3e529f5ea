"""A thread's SQLite connection is closed when the thread ends.

The threaded server runs one thread per client connection; a store that kept every thread's
connection open ran out of file descriptors after a few thousand requests (found by the Ambra
contract suite, which sends about 5,000 to one mock: "Too many open files", then 500s).
"""

from __future__ import annotations

import gc
import os
import subprocess
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


EXIT_WHILE_A_DAEMON_THREAD_READS = """
import sys, threading
from mockserver.store import Store

store = Store(sys.argv[1])
store.query("SELECT 1")
started = threading.Event()

def reader():
    while True:  # a daemon thread inside SQLite when the interpreter exits (the journal's flusher, a webhook sender)
        store.query("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) SELECT sum(i) FROM n")
        started.set()

threading.Thread(target=reader, daemon=True).start()
started.wait(10)
print("exiting")
"""


def test_exit_while_a_daemon_thread_is_inside_sqlite_does_not_crash(tmp_path: Path) -> None:
    """A thread's connection is closed when the thread ends, not at interpreter exit: closing a running daemon
    thread's connection then crashed the process (SIGSEGV, about three exits in four of a mock used in-process)."""
    script = tmp_path / "exit.py"
    script.write_text(EXIT_WHILE_A_DAEMON_THREAD_READS)
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    for attempt in range(5):
        done = subprocess.run(
            [sys.executable, str(script), str(tmp_path / f"db{attempt}.sqlite3")], env=env, capture_output=True, text=True, timeout=60
        )
        assert (done.returncode, done.stdout.strip()) == (0, "exiting"), f"exit {done.returncode}: {done.stderr[-2000:]}"
