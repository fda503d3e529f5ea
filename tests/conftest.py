"""Shared fixtures: an in-process mock (strict mode on) per test, on its own SQLite file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from mockserver.app import create_app
from mockserver.config import MockConfig
from mockserver.pipeline import MockApp


@pytest.fixture
def make_app(tmp_path) -> Iterator[Callable[..., Flask]]:
    """Build an app; strict mode is on unless a test says otherwise. Every app is closed after the test."""
    built: list[MockApp] = []

    def build(**overrides: Any) -> Flask:
        options = {"apis": ("clarius",), "strict": True, "db": str(tmp_path / f"mock{len(built)}.sqlite3"), "webhook_timeout": 2.0}
        options.update(overrides)
        mock = MockApp(MockConfig(**options))
        built.append(mock)
        return create_app(mock=mock)

    yield build
    for mock in built:
        mock.close()


# -- make test under pytest-xdist (-n): which tests must share a worker ------------------------------------------
# Each worker is a process of its own (its own embedded mock, ports, tmp dirs, conformance report), so what must run
# together goes to one worker as one xdist group (``--dist loadgroup``; the Makefile's test target):
# - the contract suites: contracts/conftest.py groups them (two lanes, as `medimock contract` runs them);
# - tests/packaging: one sdist, wheel and virtual environment for both files;
# - any other file: its module and session fixtures are built once, not on every worker.
# Files whose tests are independent runs of a whole suite in a subprocess are spread test by test.
SPREAD = ("tests/contracts/test_suite_catches_defects.py", "tests/contracts/test_ambra_catch_defects.py",
          "tests/contracts/test_tscharts_radiology_catch_defects.py", "tests/contracts/test_clarius_research_catches_defects.py",
          "tests/contracts/test_verdict_ambra.py", "tests/contracts/test_verdict_tscharts.py",
          "tests/contracts/test_verdict_clarius.py", "tests/diff/test_diff.py")  # fmt: skip


def xdist_group(nodeid: str) -> str | None:
    """The xdist group of a test (by its node id), or None where it may run on any worker."""
    path = nodeid.split("::", 1)[0]
    parts = path.split("/")
    if parts[:2] == ["tests", "packaging"]:
        return "tests/packaging"
    if path in SPREAD:
        return None
    return path


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own, which reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        if item.nodeid.startswith("tests/") and item.get_closest_marker("xdist_group") is None:
            group = xdist_group(item.nodeid)
            if group is not None:
                item.add_marker(pytest.mark.xdist_group(group))
