"""Ambra v3 Services API: every one of the 462 commands (POST form and GET query) under
``/api/v3``, stateful, in Ambra's wire format.

Modules:

* ``catalog`` — per-operation plans derived once from the spec (parameter kinds, required
  fields and alternatives, documented error types, permission flags, resource/action,
  the documented-shape success reply); ``shapes`` — samples and schema conformance.
* ``dialect`` — 412 error hashes (401 ``NO_SESSION``, 405 for GETs of POST-only commands).
* ``auth`` — sids, OAuth tokens, basic authentication, session expiry and the 10-session cap.
* ``call`` — one call: merged query/form values, the shared checks, role permissions.
* ``engine`` — the generic stateful engine (add/get/set/delete/list/count of every
  resource) and the documented-shape answer of every other command; ``filters`` —
  ``filter.*``/``sort_by``/``page.*`` to SQL.
* ``columns`` (what a filter or sort field names: secondary tables, hstore keys, custom fields,
  timestamps) and ``selection`` (``fields.OBJECT`` / ``fields._top`` on every reply).
* hand-written commands: ``session``, ``studies``, ``sharing`` (shares, approval, tags,
  audit), ``accounts`` (users, memberships, units with namespaces, the undocumented
  /account/add and /account/delete), ``storage`` (/namespace/engine/fqdn, custom code zips), ``bundle``.
* ``store`` (tables, seeding from ``medimock.fixtures.ambra``, queries), ``control``
  (``/__mock__/ambra/...``), ``defects``.
"""

from __future__ import annotations

from typing import Any

from ...api import SPECS_DIR, ApiDefinition
from . import auth, engine
from . import store as ambra_store
from .catalog import install
from .dialect import AmbraDialect

DIALECT = AmbraDialect()


def on_start(app: Any) -> None:
    install(app.by_name["ambra"].spec)
    DIALECT.empty_missing_subtype = "ambra.missing_fields_subtype_empty" in app.config.defects
    DIALECT.not_found_ok = frozenset(defects.NOT_FOUND_OK) if "ambra.not_found_answers_200" in app.config.defects else frozenset()


def credentials(app: Any, base_url: str) -> dict[str, Any]:
    stored = ambra_store.AmbraStore(app.store).kv("credentials") or {}
    return {
        **stored,
        "note": "login/password: an admin (sysadmin) of the main account; user_login/user_password: a User-role member; "
        "phr_login/phr_password: a PHR-role member; oauth_client_id/oauth_client_secret: POST /session/oauth/token "
        "with grant_type=client_credentials.",
    }


API = ApiDefinition(
    name="ambra",
    title="Ambra v3 Services API",
    spec_file=SPECS_DIR / "ambra" / "openapi.yaml",
    mount="/api/v3",
    dialect=DIALECT,
    authenticate=auth.authenticate,
    store_schemas=[ambra_store.SCHEMA],
    credentials=credentials,
    fallback=engine.handler_for,
    on_start=on_start,
)

from . import (  # noqa: E402,F401 - register commands, control routes, defects
    account_settings,
    accounts,
    bundle,
    caller_permissions,
    control,
    defects,
    dictionaries,
    links,
    namespace_settings,
    nodes,
    saved_filters,
    session,
    sharing,
    storage,
    studies,
    study_status,
    user_events,
    user_settings,
    viewer,
)
from . import docs as _docs  # noqa: E402,F401 - what GET / and /docs show of this API: a first call, seeded "Try it out" values
