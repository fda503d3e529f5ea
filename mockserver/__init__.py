"""medimock's mock server: one Flask app serving every API from its OpenAPI spec."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

    from .config import MockConfig


def create_app(config: MockConfig | None = None) -> Flask:
    from .app import create_app as _create_app

    return _create_app(config)


def __getattr__(name: str) -> Any:
    if name == "MockConfig":
        from .config import MockConfig

        return MockConfig
    raise AttributeError(name)


__all__ = ["MockConfig", "create_app"]
