"""Helpers shared by the contract suites (contracts/): spec paths, example budget, credentials,
the schemathesis checks every property run applies, and deterministic steering of generated cases."""

from __future__ import annotations

import os
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import requests
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from .resources import specs_dir
from .target import Target

SPECS = specs_dir()

# The schemathesis checks of every property run, tiered (each suite adds checks of its own).
from .checks import SCHEMA_CHECKS  # noqa: E402 - checks imports verdict, which reads SPECS from here

__all__ = [
    "SCHEMA_CHECKS",
    "SPECS",
    "coin",
    "is_negative",
    "load_spec",
    "max_body",
    "note_target_limits",
    "register_credentials",
    "require",
    "spec_schemas",
]


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


DEFAULT_MAX_BODY = 1024 * 1024
_announced_max_body: list[int] = []


def max_body() -> int:
    """The largest request body the suites send (``MEDIMOCK_MAX_BODY``; else what a medimock target
    announces in ``/__mock__/health``; else 1 MiB).

    1 MiB stays under the limits HTTP front ends and frameworks ship with (Django's 2.5 MiB,
    nginx's 1 MiB ``client_max_body_size``). Tests that need more (the large round trip) say how
    much and skip when this is lower.
    """
    if os.environ.get("MEDIMOCK_MAX_BODY"):
        return int(os.environ["MEDIMOCK_MAX_BODY"])
    return _announced_max_body[0] if _announced_max_body else DEFAULT_MAX_BODY


def note_target_limits(target: Target) -> None:
    """Take a medimock target's own body limit as the suites' bound (its health route states it)."""
    _announced_max_body.clear()
    if target.control_url is None:
        return
    import requests

    try:
        health = requests.get(target.control_url + "/__mock__/health", timeout=10).json()
    except (requests.RequestException, ValueError):
        return
    limit = health.get("max_body_bytes") if isinstance(health, dict) else None
    if isinstance(limit, int) and limit > 0:
        _announced_max_body.append(limit)


def ambra_examples() -> int:
    """Examples per Ambra operation: Ambra has 925 operations (37 times Clarius's 25), so a smaller budget.

    ``MEDIMOCK_AMBRA_EXAMPLES`` when set; otherwise the common budget (``MEDIMOCK_CONTRACT_EXAMPLES``,
    default 25, 200 with ``make contract FULL=1``) scaled by 3/25: 3 by default, 24 with FULL=1, at least 1.
    """
    explicit = os.environ.get("MEDIMOCK_AMBRA_EXAMPLES")
    if explicit:
        return max(1, int(explicit))
    return max(1, max_examples() * 3 // 25)


# Credentials in a failure's curl: the shell variable standing for each, and how to set it.
CREDENTIAL_VARIABLES = {
    ("clarius", "api_key"): ("CLARIUS_API_KEY", "<prefix>.<secret> of a Clarius service key (README: Credentials)"),
    ("clarius", "research_password"): ("CLARIUS_RESEARCH_PASSWORD", "the password of CLARIUS_RESEARCH_USERNAME"),
    ("clarius", "research_no_bundle_password"): (
        "CLARIUS_RESEARCH_NO_BUNDLE_PASSWORD",
        "the password of CLARIUS_RESEARCH_NO_BUNDLE_USERNAME",
    ),
    ("tscharts", "token"): ("TSCHARTS_TOKEN", "a tscharts token (README: Credentials)"),
    ("tscharts", "password"): ("TSCHARTS_PASSWORD", "the password of TSCHARTS_USERNAME"),
    ("radiology", "client_secret"): ("RADIOLOGY_CLIENT_SECRET", "the secret of RADIOLOGY_CLIENT_ID"),
    ("radiology", "single_scope_client_secret"): ("RADIOLOGY_SINGLE_SCOPE_CLIENT_SECRET", "the secret of the single-scope client"),
    ("ambra", "password"): ("AMBRA_PASSWORD", "the password of AMBRA_LOGIN"),
    ("ambra", "user_password"): ("AMBRA_USER_PASSWORD", "the password of AMBRA_USER_LOGIN"),
    ("ambra", "phr_password"): ("AMBRA_PHR_PASSWORD", "the password of AMBRA_PHR_LOGIN"),
    ("ambra", "oauth_client_secret"): ("AMBRA_OAUTH_CLIENT_SECRET", "the secret of AMBRA_OAUTH_CLIENT_ID"),
}


class Session(requests.Session):
    """The suites' HTTP session: a ``requests.Session`` that reads the environment's proxy and CA settings once
    per origin instead of on every request.

    requests asks the environment (``HTTP_PROXY``, ``NO_PROXY``, ``REQUESTS_CA_BUNDLE``...) again for each
    request it sends; a property run sends thousands, and those scans of ``os.environ`` took about 2% of the
    Ambra run's client CPU (cProfile: ``getproxies_environment``). The environment does not change during a run,
    so the answer for one origin and one set of arguments is kept; what requests does with it is unchanged.
    """

    def __init__(self) -> None:
        super().__init__()
        self._environment: dict[tuple[Any, ...], Any] = {}  # requests' own settings (a TypedDict of its stubs)

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        if proxies or isinstance(cert, list) or not isinstance(url, str):  # per-request proxies, an unhashable argument
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        scheme, _, rest = url.partition("://")
        key = (scheme, rest.split("/", 1)[0], self.trust_env, stream, verify, cert, tuple(sorted(self.proxies.items())))
        found = self._environment.get(key)
        if found is None:
            found = self._environment[key] = super().merge_environment_settings(url, proxies, stream, verify, cert)
        return {**found, "proxies": dict(found["proxies"])}


def register_credentials(target: Target) -> None:
    """Show the target's configured credentials as shell variables in every failure's curl."""
    from .conformance.curl import register_secret

    for (api, name), (variable, how) in CREDENTIAL_VARIABLES.items():
        if api in target.apis:
            value = target.apis[api].credentials.get(name)
            if isinstance(value, str):
                register_secret(value, variable, f"export {variable}=... ({how}; a medimock serves its own at /__mock__/credentials)")


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


def load_spec(api: str) -> dict[str, Any]:
    """An API's spec document (a new copy each call), read through the mock's JSON cache of the YAML.

    libyaml takes seconds for Ambra's 925 operations (about 2 s on a quiet machine, 7 s on a busy one), the
    cache (``mockserver.spec.read_document``, keyed by the file's hash, filled by ``make install`` and by any
    mock's start) a tenth of that. The document is the YAML's, through JSON: the same for every spec the suites
    read (tests/specs/test_spec_cache.py).
    """
    from mockserver.spec import read_document

    return read_document(SPECS / api / "openapi.yaml")


class SpecSchemas:
    """Validate JSON against a named schema of a spec (``#/components/schemas/<Name>``)."""

    def __init__(self, api: str) -> None:
        self.document = load_spec(api)
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


# -- the target as a whole: its base URL, and what a suite leaves on it --------------------------------


def check_base_url(target: Target, api: str, response: Any, what: str) -> None:
    """Stop the run with one clear message when ``response`` (a request whose documented answer is never
    404) is a 404: the API is not at this base URL, and every test would fail the same way."""
    if getattr(response, "status_code", None) != 404:
        return
    from .target import MOUNTS

    base = target.api(api).base_url
    if target.control_url is not None:
        mounted = target.control_url.rstrip("/") + MOUNTS.get(api, "")
        hint = f"the target is a medimock, which serves {api} at {mounted}" + (
            "" if mounted.rstrip("/") != base.rstrip("/") else " (and answered 404 there: is the API switched off with --api?)"
        )
    else:
        hint = f"is TARGET {api}'s base URL? ({what} must not be a 404 at {base})"
    pytest.exit(f"medimock contracts: {api}: {response.request.method} {response.request.url} answered 404. {hint}", returncode=2)


class LeftoverError(AssertionError):
    """A suite left objects on the target, or removed objects it did not create."""


class Inventory:
    """What a target lists, taken before a suite runs and compared after it.

    ``listing()`` returns one string per listable object (``"image 17 (patient 4)"``), or None when
    the target cannot be listed (then nothing is compared, and the report says so). Objects that
    appear were created and not deleted; objects that disappear were the target's own and must not
    have been touched. Another client changing the target during the run shows up here too.

    Under pytest-xdist one API's tests may run on several workers at once (a part of Ambra's property
    run beside the other suites, contracts/conftest.py): ``shared`` names the run and the target
    (``shared_key``), and the workers of one run share one inventory (a file under a lock): the first
    takes it before any of them changes the target, and the last to finish compares, when none of
    them is still changing it.
    """

    def __init__(self, api: str, listing: Any, shared: str | None = None) -> None:
        self.api = api
        self.listing = listing
        self._shared = _shared_inventory(api, shared) if shared else None
        if self._shared is None:
            self.before: set[str] | None = listing()
            return
        with _locked(self._shared) as state:
            if not state.get("users"):
                state["before"] = _listed(listing())
            state["users"] = state.get("users", 0) + 1
            self.before = set(state["before"]) if state["before"] is not None else None

    def check(self) -> None:
        if self._shared is not None:
            with _locked(self._shared) as state:
                state["users"] -= 1
                if state["users"] > 0:  # another worker still runs this API's tests: the last one compares
                    return
                self._shared.unlink(missing_ok=True)
        if self.before is None:
            return
        after = self.listing()
        if after is None:
            raise LeftoverError(f"{self.api}: the target could not be listed after the run, so what the suite left is unknown")
        left, gone = sorted(after - self.before), sorted(self.before - after)
        if left or gone:
            parts = []
            if left:
                parts.append(f"{len(left)} object(s) the suite created are still there: {', '.join(left[:20])}")
            if gone:
                parts.append(f"{len(gone)} object(s) that existed before the run are gone: {', '.join(gone[:20])}")
            raise LeftoverError(f"{self.api}: the suite did not leave the target as it found it: {'; '.join(parts)}")


def shared_key(config: pytest.Config, target_url: str) -> str | None:
    """The key of an inventory the workers of one pytest-xdist run share for one target (None outside xdist: the
    worker's own ``workerinput``, never an environment a child process inherits)."""
    run = (getattr(config, "workerinput", None) or {}).get("testrunuid")
    return f"{run} {target_url}" if run else None


def _shared_inventory(api: str, key: str) -> Path:
    import hashlib

    return Path(tempfile.gettempdir()) / f"medimock-inventory-{api}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"


def _listed(found: set[str] | None) -> list[str] | None:
    return sorted(found) if found is not None else None


@contextmanager
def _locked(path: Path) -> Iterator[dict[str, Any]]:
    """The shared inventory's state, read and written back under an exclusive lock (the file's own)."""
    import fcntl
    import json

    with open(path, "a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            handle.seek(0)
            text = handle.read()
            state: dict[str, Any] = json.loads(text) if text.strip() else {}
            yield state
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps(state))
            handle.flush()
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class SetupStep:
    """A piece of set-up several tests share (a module fixture), whose failure is reported once.

    ``SetupStep("places", make)``: the first test that needs the value runs ``make()``; when it fails
    with a contract violation, that test fails with it, and every later test that needs the value is
    skipped, naming the step and the test that reported it, instead of N copies of one error that hide
    everything else.
    """

    def __init__(self, name: str, make: Any) -> None:
        self.name = name
        self.make = make
        self._done = False
        self._value: Any = None
        self._failed_in: str | None = None

    def get(self, request: pytest.FixtureRequest) -> Any:
        from .verdict import ContractViolation, conventions_warn

        if self._failed_in is not None:
            pytest.skip(f"set-up step {self.name!r} failed on this target; the failure is reported once, by {self._failed_in}")
        if not self._done:
            try:
                with conventions_warn():  # the tests check the conventions; set-up stops only on the document
                    self._value = self.make()
            except ContractViolation:
                self._failed_in = request.node.nodeid
                raise
            self._done = True
        return self._value
