"""medimock: contract tests, a stateful mock server and load tests for medical-imaging cloud APIs.

The server lives in the ``mockserver`` package; fixture data in ``medimock.fixtures``;
the helpers the contract suites use to find a target in ``medimock.target``;
``medimock.intercept()`` runs the mock in process for ``requests`` clients
(``medimock.inprocess``; the pytest fixture ``medimock`` in ``medimock.pytest_plugin``).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("medimock")
except PackageNotFoundError:  # pragma: no cover - running from a checkout without install
    __version__ = "0.0.0"

if TYPE_CHECKING:
    from .inprocess import Intercept, intercept

__all__ = ["Intercept", "__version__", "intercept"]


def __getattr__(name: str) -> Any:
    # Imported on first use: ``import medimock`` (and the pytest plugin) stays light.
    if name in ("intercept", "Intercept"):
        from . import inprocess

        return getattr(inprocess, name)
    raise AttributeError(f"module 'medimock' has no attribute {name!r}")
