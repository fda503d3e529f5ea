"""pytest plugin: the garbage collector out of the contract suites' way (loaded by ``contracts/conftest.py``).

A contract run builds a large heap before its first test: the parsed specs (Ambra's 925 operations), the
schemathesis schema and its hypothesis strategies, the conformance report's spec index. CPython's collector
scans all of it again on every full collection, and a property run allocates fast enough (hypothesis draws,
requests, responses) to trigger thousands of collections: measured on the Ambra property run, about a
third of the client's CPU went to them.

After collection, everything alive is moved out of the collector's sight (``gc.freeze``: it lives as long as
the run anyway), and the youngest generation collects every 50,000 allocations instead of 700 (still
thousands of collections per run, each cheap). Nothing is left uncollected that a test could observe: cyclic
garbage made during the tests is still collected (and pytest's end-of-run collections still report
exceptions raised in ``__del__``); only the objects that exist when the tests start are never scanned again.

At the end of the run pytest collects five times over to report exceptions raised in ``__del__`` (its
unraisable-exception plugin, "constant determined experimentally by the Trio project"); over the strategies
and caches a property run leaves behind that took 2.8 s per process on the Ambra run (measured with cProfile),
at the end of each lane. One full collection finds the same garbage unless a ``__del__`` makes more, so the
suites ask for one.
``MEDIMOCK_GC=default`` keeps CPython's settings (to compare).
"""

from __future__ import annotations

import gc
import os

import pytest

GEN0_THRESHOLD = 50_000
END_OF_RUN_COLLECTIONS = 1


def _cpython_settings() -> bool:
    """``MEDIMOCK_GC=default``: leave the collector as CPython and pytest set it."""
    return os.environ.get("MEDIMOCK_GC", "").lower() == "default"


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    if _cpython_settings():
        return
    try:  # pytest's own stash key (pytester sets it the same way); absent in another pytest: its default stays
        from _pytest.unraisableexception import gc_collect_iterations_key
    except ImportError:
        return
    config.stash[gc_collect_iterations_key] = END_OF_RUN_COLLECTIONS


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    if _cpython_settings():
        return
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(max(GEN0_THRESHOLD, gc.get_threshold()[0]), gen1, gen2)
