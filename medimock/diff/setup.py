"""A diff's configuration (JSON-able, so the workflow child can rebuild it) and the lockstep built from it."""

from __future__ import annotations

from typing import Any

from .engine import Lockstep, Side, pair_credentials
from .rules import load_rules


def side_settings(name: str, root: str, *, auth: str | None, credentials: dict[str, Any] | None, api: str) -> dict[str, Any]:
    """One side: its root, its credentials (a medimock's /__mock__/credentials, then the given ones on top)."""
    from medimock.target import discover

    found, _ = discover([api], target_url=root, environ={})
    served = dict(found.apis[api].credentials)
    served.update(credentials or {})
    return {"name": name, "root": root.rstrip("/"), "auth": auth, "credentials": served, "control": found.control_url}


def suite_environment(api: str, credentials: dict[str, Any]) -> dict[str, str]:
    """A side's credentials as the contract suite reads them from its environment (lists comma-joined)."""
    from medimock.target import CREDENTIAL_ENV

    env = {}
    for key, variable in CREDENTIAL_ENV.get(api, {}).items():
        value = credentials.get(key)
        if isinstance(value, list):
            env[variable] = ",".join(str(item) for item in value)
        elif isinstance(value, (str, int)) and not isinstance(value, bool) and str(value) != "":
            env[variable] = str(value)
    return env


def build_lockstep(settings: dict[str, Any], *, reference_is_a: bool) -> Lockstep:
    api = settings["api"]
    rules = load_rules(api, settings.get("rules"))
    sides = []
    for key in ("a", "b"):
        entry = settings[key]
        auth = entry.get("auth") or entry["credentials"].get("authorization")
        sides.append(Side(key.upper(), entry["root"], dict(entry["credentials"]), auth, entry.get("control")))
    a, b = sides
    lockstep = Lockstep(api, a, b, rules, reference_is_a=reference_is_a, same_data=settings.get("data") == "same")
    # A's credentials are the reference (the workflows run against A; a recording is usually made
    # against one of the two): B learns their counterparts
    if True:
        pair_credentials(a.credentials, b.credentials, rules, b)
        b.mapping.update(settings["b"].get("pairs") or {})  # paired by role (roles.py): over the credentials' positions
        b.unpaired = set(settings["b"].get("unpaired") or [])
        if a.auth and b.auth and a.auth != b.auth:
            b.mapping[a.auth] = b.auth
            scheme_a, _, secret_a = a.auth.partition(" ")
            scheme_b, _, secret_b = b.auth.partition(" ")
            if secret_a and secret_b and scheme_a == scheme_b:
                b.mapping[secret_a] = secret_b
    pair_credentials({}, a.credentials, rules, a)
    return lockstep
