"""Helpers shared by the contract suites (contracts/): spec paths, example budget, credentials,
the schemathesis checks every property run applies, and deterministic steering of generated cases."""

from __future__ import annotations

import os
import zlib
from functools import cache
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from schemathesis import checks

from .resources import specs_dir
from .target import Target

SPECS = specs_dir()

# The schemathesis checks of every property run (each suite adds checks of its own).
SCHEMA_CHECKS: tuple[Any, ...] = (
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
    checks.negative_data_rejection,
    checks.ignored_auth,
    checks.unsupported_method,
)


def coin(value: Any) -> bool:
    """A deterministic coin toss from a generated value (so a run reproduces)."""
    return zlib.crc32(repr(value).encode()) % 2 == 0


def is_negative(case: Any, location: str) -> bool:
    """Whether schemathesis generated that part of the case in negative mode (then it is left alone)."""
    meta = getattr(case, "meta", None)
    if meta is None:
        return True
    return any(str(getattr(loc, "value", loc)) == location and info.mode.is_negative for loc, info in meta.components.items())


def max_examples() -> int:
    """Examples per operation: bounded in CI (25), more with MEDIMOCK_CONTRACT_EXAMPLES (``make contract FULL=1``)."""
    return int(os.environ.get("MEDIMOCK_CONTRACT_EXAMPLES", "25"))


def ambra_examples() -> int:
    """Examples per Ambra operation: Ambra has 925 operations (37 times Clarius's 25), so a smaller budget.

    ``MEDIMOCK_AMBRA_EXAMPLES`` when set; otherwise the common budget (``MEDIMOCK_CONTRACT_EXAMPLES``,
    default 25, 200 with ``make contract FULL=1``) scaled by 3/25: 3 by default, 24 with FULL=1, at least 1.
    """
    explicit = os.environ.get("MEDIMOCK_AMBRA_EXAMPLES")
    if explicit:
        return max(1, int(explicit))
    return max(1, max_examples() * 3 // 25)


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
        return self._violations(f"/components/schemas/{name}", instance)

    def _violations(self, pointer: str, instance: Any) -> list[str]:
        """Violations of ``instance`` against the schema at a JSON pointer of the spec."""
        validator = Draft202012Validator({"$ref": f"{self._uri}#{pointer}"}, registry=self._registry, format_checker=FormatChecker())
        return sorted(f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in validator.iter_errors(instance))

    def reply_errors(self, path: str, method: str, status: int, instance: Any) -> list[str]:
        """Violations of ``instance`` against the JSON schema of the documented ``status`` reply of an operation."""
        pointer = f"/paths/{path.replace('~', '~0').replace('/', '~1')}/{method.lower()}/responses/{status}"
        node = self._node(pointer)
        if node is None:
            return [f"{method.upper()} {path} documents no {status} reply"]
        if "$ref" in node:
            pointer = node["$ref"].lstrip("#")
            node = self._node(pointer) or {}
        if "application/json" not in (node.get("content") or {}):
            return [f"{method.upper()} {path} documents no JSON body for its {status} reply"]
        return self._violations(f"{pointer}/content/application~1json/schema", instance)

    def _node(self, pointer: str) -> Any:
        node: Any = self.document
        for part in pointer.strip("/").split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node

    def assert_valid(self, name: str, instance: Any, what: str = "") -> None:
        problems = self.errors(name, instance)
        assert not problems, f"{what or name} does not match the spec's {name} schema:\n  " + "\n  ".join(problems[:20])


@cache
def spec_schemas(api: str) -> SpecSchemas:
    return SpecSchemas(api)
