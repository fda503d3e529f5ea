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
