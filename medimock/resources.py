"""Where the folders that medimock's commands read at run time are: the specs and the contract suites.

Installed from a wheel, the repository's top-level ``specs/`` and ``contracts/`` live inside this
package (``medimock/specs``, ``medimock/contracts``: ``setup.py`` maps them, as it maps
``fixtures/`` to ``medimock.fixtures`` and ``loadtests/`` to ``medimock.loadtests``). In a
checkout (``make install``: an editable install) they sit beside the package. Every path to a
spec or a suite comes from here, so the two layouts behave the same; the test in
``tests/packaging/`` proves the installed one.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
FOLDERS = ("specs", "contracts")


@cache
def folder(name: str) -> Path:
    """``specs`` or ``contracts``: inside the installed package, else in the checkout the package sits in."""
    if name not in FOLDERS:
        raise ValueError(f"unknown medimock folder {name!r}; known: {', '.join(FOLDERS)}")
    installed = PACKAGE / name
    if installed.is_dir():
        return installed
    checkout = PACKAGE.parent / name
    if checkout.is_dir() and (PACKAGE.parent / "pyproject.toml").is_file():
        return checkout
    raise FileNotFoundError(f"medimock's {name}/ folder is missing (looked in {installed} and {checkout}): a broken installation?")


def specs_dir() -> Path:
    return folder("specs")


def spec_file(api: str) -> Path:
    """``specs/<api>/openapi.yaml``."""
    return specs_dir() / api / "openapi.yaml"


def contracts_dir() -> Path:
    return folder("contracts")
