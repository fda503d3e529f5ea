"""pytest plugin: the ``medimock`` fixture, an in-process mock per test (see ``medimock.intercept``).

::

    def test_poll(medimock):
        key = medimock.credentials["clarius"]["authorization"]
        reply = requests.get("https://cloud.clarius.com/api/public/v0/exams/accessible/", headers={"Authorization": key}, timeout=10)
        assert reply.json()["count"] == 135

Each test gets the mock as just started: the seeded data, an empty journal, no fault
rules, no OAuth sessions. Building a mock loads every spec (about a second), so one is
built per distinct configuration and session, and between tests its database is
restored from a snapshot taken after seeding (a few milliseconds; see ``MockPool``).

Options, from the closest ``@pytest.mark.medimock(...)`` marker over the
``medimock_options`` fixture (override it in a conftest for a whole directory): the
arguments of ``medimock.intercept()`` — ``apis``, ``hosts``, ``seed``, ``strict``,
``passthrough``, ``control_host``, ``profile``, ``defects``, ``webhook_timeout``,
``token_ttl``...

Registered through the ``pytest11`` entry point (or ``-p medimock.pytest_plugin``). It
imports nothing heavy until a test asks for the fixture, and defines no autouse fixture.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import sqlite3

    from flask import Flask

    from mockserver.pipeline import MockApp

    from .inprocess import Intercept

# Options that shape the mock itself (a mock is built per distinct set); the rest are per test.
_APP_KEYS = frozenset(
    {
        "apis",
        "seed",
        "db",
        "strict",
        "profile",
        "defects",
        "webhook_timeout",
        "webhook_workers",
        "journal_size",
        "max_body_bytes",
        "max_query_params",
        "control",
        "control_token",
        "token_ttl",
        "public_url",
    }
)
_TEST_KEYS = frozenset({"hosts", "passthrough", "control_host"})


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "medimock(**options): options of the medimock fixture (the arguments of medimock.intercept(): apis, hosts, seed, strict, passthrough...)",
    )


class MockPool:
    """The mocks of a session, one per configuration, each with a snapshot of its seeded database.

    Reseeding regenerates every fixture (0.1-0.3 s with all four APIs); restoring the
    snapshot with SQLite's backup API takes a few milliseconds. Fixture times are
    placed relative to the moment of seeding, so a snapshot older than
    ``snapshot_max_age`` seconds is retaken from a real reseed: a test sees data seeded
    at most that long before it starts.
    """

    snapshot_max_age = 10.0

    def __init__(self) -> None:
        self._apps: dict[tuple[tuple[str, Any], ...], Flask] = {}
        self._snapshots: dict[int, tuple[float, sqlite3.Connection]] = {}
        self._used: set[int] = set()

    def get(self, options: dict[str, Any]) -> Flask:
        """The app for these options, in the state of a mock just started."""
        from mockserver.app import create_app
        from mockserver.config import MockConfig
        from mockserver.pipeline import MockApp

        key = tuple(sorted((name, _hashable(value)) for name, value in options.items()))
        wsgi = self._apps.get(key)
        if wsgi is None:
            overrides = dict(options)
            if "apis" in overrides:
                overrides["apis"] = tuple(overrides["apis"])
            if "defects" in overrides:
                overrides["defects"] = frozenset(overrides["defects"])
            mock = MockApp(MockConfig().with_overrides(**overrides))
            wsgi = self._apps[key] = create_app(mock=mock)
            self._snapshot(mock)
        else:
            mock = wsgi.extensions["medimock"]
            if id(mock) in self._used:
                self.reset(mock)
        self._used.add(id(mock))
        return wsgi

    def reset(self, mock: MockApp) -> None:
        from .inprocess import reset_app

        taken, snapshot = self._snapshots[id(mock)]
        if time.monotonic() - taken > self.snapshot_max_age:
            reset_app(mock)
            self._snapshot(mock)
            return
        mock.webhooks.drain(timeout=max(30.0, 3 * mock.config.webhook_timeout))  # none lands after the restore
        snapshot.backup(mock.store.connection())
        mock.store.invalidate_cache()  # the backup rewrote the file behind SQLite's change counters
        mock.journal.clear()  # the journal has its own database file, which the snapshot does not hold

    def _snapshot(self, mock: MockApp) -> None:
        import sqlite3

        old = self._snapshots.pop(id(mock), None)
        if old is not None:
            old[1].close()
        snapshot = sqlite3.connect(":memory:", check_same_thread=False)
        mock.store.connection().backup(snapshot)
        self._snapshots[id(mock)] = (time.monotonic(), snapshot)

    def close(self) -> None:
        for wsgi in self._apps.values():
            wsgi.extensions["medimock"].close()
        for _, snapshot in self._snapshots.values():
            snapshot.close()
        self._apps.clear()
        self._snapshots.clear()


def _hashable(value: Any) -> Any:
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_hashable(v) for v in value]
        return tuple(sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


@pytest.fixture(scope="session")
def medimock_pool() -> Iterator[MockPool]:
    """The session's mocks (closed, with their temporary databases, when the session ends)."""
    pool = MockPool()
    yield pool
    pool.close()


@pytest.fixture
def medimock_options() -> dict[str, Any]:
    """Default options of the ``medimock`` fixture; override in a conftest, e.g. ``return {"apis": ["clarius"]}``."""
    return {}


@pytest.fixture
def medimock(request: pytest.FixtureRequest, medimock_pool: MockPool, medimock_options: dict[str, Any]) -> Iterator[Intercept]:
    """The mock, in process, for this test: ``requests`` calls to the APIs' hosts are answered by it."""
    from .inprocess import Intercept

    options = dict(medimock_options)
    for marker in reversed(list(request.node.iter_markers("medimock"))):  # the closest marker wins
        if marker.args:
            raise pytest.UsageError("@pytest.mark.medimock takes keyword options only, e.g. medimock(apis=['clarius'])")
        options.update(marker.kwargs)
    unknown = sorted(set(options) - _APP_KEYS - _TEST_KEYS)
    if unknown:
        raise pytest.UsageError(f"unknown medimock option(s): {', '.join(unknown)}; known: {', '.join(sorted(_APP_KEYS | _TEST_KEYS))}")
    wsgi = medimock_pool.get({k: v for k, v in options.items() if k in _APP_KEYS})
    with Intercept(app=wsgi, **{k: v for k, v in options.items() if k in _TEST_KEYS}) as mock:
        yield mock
