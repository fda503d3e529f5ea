"""medimock: contract tests, a stateful mock server and load tests for medical-imaging cloud APIs.

The server lives in the ``mockserver`` package; fixture data in ``medimock.fixtures``;
the helpers the contract suites use to find a target in ``medimock.target``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("medimock")
except PackageNotFoundError:  # pragma: no cover - running from a checkout without install
    __version__ = "0.0.0"

__all__ = ["__version__"]
