"""Helpers shared by the contract suites (contracts/): spec paths, example budget, credentials."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from .target import Target

SPECS = Path(__file__).resolve().parent.parent / "specs"


def max_examples() -> int:
    """Examples per operation: bounded in CI (25), more with MEDIMOCK_CONTRACT_EXAMPLES (``make contract FULL=1``)."""
    return int(os.environ.get("MEDIMOCK_CONTRACT_EXAMPLES", "25"))


def require(target: Target, api: str, *names: str) -> dict[str, str]:
    """The named credentials of an API, or a clear failure: a contract run never passes without them."""
    creds = target.api(api).credentials
    missing = [name for name in names if not creds.get(name)]
    if missing:
        pytest.fail(
            f"{api}: credentials missing: {', '.join(missing)} (set them in the environment; see README 'Credentials')",
            pytrace=False,
        )
    return {name: str(creds[name]) for name in names}


class SpecSchemas:
    """Validate JSON against a named schema of a spec (``#/components/schemas/<Name>``)."""

    def __init__(self, api: str) -> None:
        with open(SPECS / api / "openapi.yaml", encoding="utf-8") as handle:
            self.document = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - the C *safe* loader
        self._uri = f"urn:medimock-contract:{api}"
        self._registry: Registry = Registry().with_resource(self._uri, DRAFT202012.create_resource(self.document))

    def errors(self, name: str, instance: Any) -> list[str]:
        validator = Draft202012Validator(
            {"$ref": f"{self._uri}#/components/schemas/{name}"}, registry=self._registry, format_checker=FormatChecker()
        )
        return sorted(f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in validator.iter_errors(instance))

    def assert_valid(self, name: str, instance: Any, what: str = "") -> None:
        problems = self.errors(name, instance)
        assert not problems, f"{what or name} does not match the spec's {name} schema:\n  " + "\n  ".join(problems[:20])


@cache
def spec_schemas(api: str) -> SpecSchemas:
    return SpecSchemas(api)
