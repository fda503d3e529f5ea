"""Ambra contract fixtures: the v3 Services API of the target, with a session of its own.

Credentials come from the environment or from a medimock target's ``/__mock__/credentials``:

    AMBRA_LOGIN, AMBRA_PASSWORD                 an administrator (required)
    AMBRA_USER_LOGIN, AMBRA_USER_PASSWORD       a member with the User role (the permission workflow)
    AMBRA_PHR_LOGIN, AMBRA_PHR_PASSWORD         a spare user: the property tests log it in over and over
    AMBRA_OAUTH_CLIENT_ID, AMBRA_OAUTH_CLIENT_SECRET   client credentials for /session/oauth/token
    AMBRA_ACCOUNT_ID, AMBRA_NAMESPACE_ID        the administrator's account and its namespace (else derived
                                                from /session/user)

Every call is a form POST (or a GET with the same parameters) to ``<base>/<group>/<command>``;
errors are HTTP 412 hashes, a bad session a 401. The suite keeps one administrator session for
its whole run: nothing the suite sends may end it (logout, /user/delete and the calls that
change the caller's own account run with throw-away sessions, see ``Ambra.throwaway_sid``).

Every session id and OAuth token the suite obtains is registered as a credential, so a failure's curl
shows ``${AMBRA_SID}`` (with the /session/login curl that sets it) instead of the value. The run ends
by comparing what the account lists (users, groups, locations, customfields, webhooks, roles, and the
studies the administrator sees) with what it listed before: anything the suite left, or removed that
was not its own, fails the run (``medimock.suite.Inventory``).
"""

from __future__ import annotations

import itertools
import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis

from medimock.conformance.curl import register_secret
from medimock.suite import SPECS, Inventory, check_base_url, coin, is_negative, load_spec, require, shared_key
from medimock.target import ApiTarget, Target
from medimock.verdict import Document, expect, field, json_body

SPEC = SPECS / "ambra" / "openapi.yaml"
_DEFAULT = object()
PREAMBLE = "ambra-v3-services-api-preamble.txt"
DOCUMENT = "ambra-v3-services-api.txt"
STATUS_FIELD = Document(PREAMBLE, "Every returned data structure has a status field that holds either OK or ERROR")
LOGIN = Document(DOCUMENT, "Returns status • OK", 3, after="URL /session/login")  # status, sid, uuid

# which shell variable stands for the session of which configured user, and the variables of its login
SID_VARIABLES = {
    "login": ("AMBRA_SID", "AMBRA_LOGIN", "AMBRA_PASSWORD"),
    "user_login": ("AMBRA_USER_SID", "AMBRA_USER_LOGIN", "AMBRA_USER_PASSWORD"),
    "phr_login": ("AMBRA_PHR_SID", "AMBRA_PHR_LOGIN", "AMBRA_PHR_PASSWORD"),
}
# what the run compares before and after: (kind, list command, its collection, the parameter naming the
# account (None: every study the administrator sees), the id field, whether the list is paged)
INVENTORY = (
    ("user", "/account/user/list", "users", "uuid", "user_id", True),
    ("group", "/group/list", "groups", "account_id", "uuid", True),
    ("location", "/location/list", "locations", "account_id", "uuid", True),
    ("customfield", "/customfield/list", "customfields", "account_id", "uuid", True),
    ("webhook", "/webhook/list", "webhooks", "account_id", "uuid", False),
    ("role", "/role/list", "roles", "account_id", "uuid", True),
    ("study", "/study/list", "studies", None, "uuid", True),
)
INVENTORY_PAGES = 40  # of 5000 rows each


def load_document() -> dict[str, Any]:
    return load_spec("ambra")


def parsed(response: requests.Response) -> Any:
    """The JSON of a reply, or None: for the suite's own bookkeeping, which must never fail a check or crash."""
    try:
        return json.loads(response.content) if response.content else None
    except ValueError:
        return None


class Ambra:
    """The Ambra API of the target and the suite's administrator session."""

    def __init__(self, api: ApiTarget, session: requests.Session, login: str, password: str) -> None:
        self.api = api
        self.base_url = api.base_url
        self.session = session
        self.login_name = login
        self.password = password
        self.sid = self.login(login, password)
        self._throwaway = itertools.count(1)
        self.throwaway_users: list[tuple[str, str]] = []  # (email, password) of users the suite created
        self._account: dict[str, str] = {}
        self._listable: set[str] | None = None  # the kinds of INVENTORY the target listed before the run

    @property
    def credentials(self) -> dict[str, Any]:
        return self.api.credentials

    def url(self, path: str) -> str:
        return self.api.url(path)

    def call(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        method: str = "POST",
        sid: Any = _DEFAULT,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """One command: a form POST (or a GET with the same parameters as a query), with the suite's sid unless told."""
        values = {k: form_value(v) for k, v in (params or {}).items()}
        sid = self.sid if sid is _DEFAULT else sid
        if sid is not None:
            values.setdefault("sid", sid)
        if method == "GET":
            return self.session.get(self.url(path), params=values, headers=headers, timeout=60, **kwargs)
        return self.session.post(self.url(path), data=values, headers=headers, timeout=60, **kwargs)

    def ok(self, path: str, params: dict[str, Any] | None = None, *, source: Any = STATUS_FIELD, **kwargs: Any) -> dict[str, Any]:
        """A command that must succeed: HTTP 200 and a hash with status OK (else a failure through ``source``)."""
        response = self.call(path, params, **kwargs)
        expect(source, response.status_code == 200, f"{path} succeeds (HTTP 200, status OK); it answered {response.status_code}", response)
        body = json_body(response, source, f"the {path} reply")
        expect(STATUS_FIELD, isinstance(body, dict) and body.get("status") == "OK", f"a 200 reply of {path} holds status OK", response)
        return body if isinstance(body, dict) else {}

    def login(self, login: str, password: str) -> str:
        """A new session of ``login`` (its sid is registered as a credential: curls show it as a shell variable)."""
        response = self.session.post(self.url("/session/login"), data={"login": login, "password": password}, timeout=60)
        what = f"/session/login as {login}"
        expect(
            LOGIN,
            response.status_code == 200,
            f"{what} succeeds (HTTP 200) with a session id; it answered {response.status_code}",
            response,
        )
        sid = field(json_body(response, LOGIN, f"the reply of {what}"), "sid", LOGIN, response, f"the reply of {what}")
        expect(LOGIN, isinstance(sid, str) and bool(sid), f"{what}: the reply's sid is a session id, not {sid!r}", response)
        self.register_sid(str(sid), login)
        return str(sid)

    def register_sid(self, sid: str, login: str) -> None:
        """Show ``sid`` as ``${AMBRA_SID}`` (or the variable of whichever configured user it belongs to) in curls."""
        names = [name for name in SID_VARIABLES if self.credentials.get(name) == login or (name == "login" and login == self.login_name)]
        if names:
            variable, login_var, password_var = SID_VARIABLES[names[0]]
            how = (
                f'export {variable}=$(curl -s --data-urlencode "login=${{{login_var}}}" --data-urlencode "password=${{{password_var}}}" '
                f"{self.url('/session/login')} | jq -r .sid)"
            )
        else:
            variable, how = "AMBRA_THROWAWAY_SID", "a session of a user the suite created for the run (and deleted): use any user's sid"
        register_secret(sid, variable, how)

    def register_token(self, token: Any) -> None:
        """Show an OAuth access token the suite obtained as ``${AMBRA_TOKEN}`` in curls."""
        how = (
            'export AMBRA_TOKEN=$(curl -s -d grant_type=client_credentials --data-urlencode "client_id=${AMBRA_OAUTH_CLIENT_ID}" '
            f'--data-urlencode "client_secret=${{AMBRA_OAUTH_CLIENT_SECRET}}" {self.url("/session/oauth/token")} | jq -r .access_token)'
        )
        register_secret(token, "AMBRA_TOKEN", how)

    # -- what the suite needs to know about the target ------------------------------------------
    def account_id(self) -> str:
        if self.credentials.get("account_id"):
            return str(self.credentials["account_id"])
        return str(self.namespace_of("account_id").get("type_uuid"))

    def namespace_id(self) -> str:
        if self.credentials.get("namespace_id"):
            return str(self.credentials["namespace_id"])
        return str(self.namespace_of("account_id").get("uuid"))

    def namespace_of(self, kind: str) -> dict[str, str]:
        if kind not in self._account:
            namespaces = self.ok("/session/user").get("namespaces") or []
            found = [ns for ns in namespaces if isinstance(ns, dict) and ns.get("type") == kind]
            if not found:
                pytest.fail(f"ambra: the administrator belongs to no {kind} namespace; set AMBRA_ACCOUNT_ID and AMBRA_NAMESPACE_ID")
            self._account[kind] = found[0]
        return dict(self._account[kind])

    def throwaway_sid(self) -> str | None:
        """A session of a new user of the account, for calls that end or change the caller (logout, /user/delete...).

        None when the target refuses to create users (the call then runs with an unknown sid: a 401).
        """
        email = f"contract-{uuid.uuid4().hex[:12]}-{next(self._throwaway)}@example.org"
        password = f"Contract-{uuid.uuid4().hex[:10]}-1"
        params = {"account_id": self.account_id(), "first": "Contract", "last": "Throwaway", "password": password, "email": email}
        created = self.call("/user/add", {**params, "mobile_phone": "+15550100000"})
        if created.status_code != 200:
            return None
        self.throwaway_users.append((email, password))
        response = self.session.post(self.url("/session/login"), data={"login": email, "password": password}, timeout=60)
        sid = (parsed(response) or {}).get("sid") if response.status_code == 200 else None
        if not isinstance(sid, str):
            return None
        self.register_sid(sid, email)
        return sid

    def delete_user(self, email: str, password: str) -> None:
        """Delete a user the suite created: it logs in and deletes itself (/user/delete), as the document has it."""
        response = self.session.post(self.url("/session/login"), data={"login": email, "password": password}, timeout=60)
        sid = (parsed(response) or {}).get("sid") if response.status_code == 200 else None
        if isinstance(sid, str):
            self.register_sid(sid, email)
            self.call("/user/delete", sid=sid)

    def remove_throwaway_users(self) -> None:
        for email, password in self.throwaway_users:
            self.delete_user(email, password)
        self.throwaway_users.clear()

    # -- nothing left behind -----------------------------------------------------------------------
    def inventory(self) -> set[str] | None:
        """What the account lists (``INVENTORY``), one string per object; None when it cannot be listed.

        A kind the target does not list before the run (not permitted, not served) is left out of the
        comparison; a kind it listed before and cannot list after makes the whole inventory unknown.
        """
        account = self.credentials.get("account_id") or self._quiet_account_id()
        if not account:
            return None
        found: set[str] = set()
        listed: set[str] = set()
        for kind, path, collection, account_param, key, paged in INVENTORY:
            if self._listable is not None and kind not in self._listable:
                continue
            items = self._list_quietly(path, collection, {account_param: account} if account_param else {}, paged)
            if items is None:
                if self._listable is None:
                    continue
                return None
            listed.add(kind)
            for item in items:
                if isinstance(item, dict):
                    name = item.get("name") or item.get("user_email") or item.get("patient_name")
                    found.add(f"{kind} {item.get(key)}" + (f" ({name})" if name else ""))
        if self._listable is None:
            self._listable = listed
        return found

    def _quiet_account_id(self) -> str | None:
        body = parsed(self.call("/session/user"))
        namespaces = body.get("namespaces") if isinstance(body, dict) else None
        for namespace in namespaces if isinstance(namespaces, list) else []:
            if isinstance(namespace, dict) and namespace.get("type") == "account_id" and namespace.get("type_uuid"):
                return str(namespace["type_uuid"])
        return None

    def _list_quietly(self, path: str, collection: str, params: dict[str, Any], paged: bool) -> list[Any] | None:
        items: list[Any] = []
        for number in range(1, INVENTORY_PAGES + 1):
            response = self.call(path, {**params, **({"page.rows": 5000, "page.number": number} if paged else {})})
            body = parsed(response)
            found = body.get(collection) if isinstance(body, dict) and response.status_code == 200 else None
            if not isinstance(found, list):
                return None
            items += found
            page = body.get("page") if paged else None
            if not isinstance(page, dict) or page.get("more") != 1 or not found:
                return items
        return None


def form_value(value: Any) -> str:
    """A form value as Ambra reads it: flags 0/1, lists and hashes as JSON strings."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


@pytest.fixture(scope="session")
def ambra(target: Target, http: requests.Session, request: pytest.FixtureRequest) -> Iterator[Ambra]:
    """The target's Ambra API; the run ends by checking the account lists what it listed before."""
    creds = require(target, "ambra", "login", "password")
    api = target.api("ambra")
    # an unknown login is refused with the documented 412 INVALID_CREDENTIALS, never a 404 where the API is
    # (an unknown login, so that no real user's failed attempts count towards a LOCKOUT)
    probe = http.post(
        api.url("/session/login"), data={"login": f"nobody-{uuid.uuid4().hex[:12]}@example.invalid", "password": "Wrong-11"}, timeout=60
    )
    check_base_url(target, "ambra", probe, "POST /session/login with an unknown login (a 412 INVALID_CREDENTIALS)")
    client = Ambra(api, http, creds["login"], creds["password"])
    # a part of the property run may run on another pytest-xdist worker (contracts/conftest.py): one inventory for both
    inventory = Inventory("ambra", client.inventory, shared=shared_key(request.config, api.url("")))
    yield client
    client.remove_throwaway_users()
    try:
        inventory.check()
    finally:
        client.call("/session/logout")


# -- property tests: steering generated cases -------------------------------------------------------


# Commands that end, lock or change the *calling* user or session: with the suite's sid they would log
# the suite out, delete the administrator or change its password. They run with a throw-away session.
OWN_SESSION_COMMANDS = frozenset(
    {
        "/session/logout",
        "/session/csrf/enable",
        "/session/pin",
        "/session/sign",
        "/user/delete",
        "/user/set",
        "/user/token",
        "/user/device/clear",
        "/user/signature",
        "/user/join/request",
        "/user/invite/accept",
    }
)
READ_ACTIONS = frozenset({"get", "list", "count"})
PARENTS = ("account_id", "namespace_id", "study_id", "phi_namespace", "storage_namespace")  # what an add is added to
# A parameter that names an object, and the resource whose known uuid it takes.
REFERENCES = {
    "account_id": "account", "namespace_id": "namespace", "user_id": "user", "group_id": "group", "location_id": "location",
    "role_id": "role", "node_id": "node", "destination_id": "destination", "route_id": "route", "webhook_id": "webhook",
    "customfield_id": "customfield", "patient_id": "patient", "order_id": "order", "dictionary_id": "dictionary",
    "filter_id": "filter", "link_id": "link", "study_id": "study", "radreport_id": "radreport", "site_id": "site",
}  # fmt: skip


class Command:
    """What the suite reads from the spec about one command (its POST operation)."""

    def __init__(self, path: str, post: dict[str, Any]) -> None:
        schema = form_schema(post)
        extension = post.get("x-medimock") or {}
        self.path = path
        self.action = str(extension.get("action") or "custom")
        self.resource = str(extension.get("resource") or path.strip("/").split("/")[0])
        self.collection = extension.get("collection")
        self.required: list[str] = schema["required"]
        self.properties: dict[str, Any] = schema["properties"]
        self.alternatives: list[list[list[str]]] = list(post.get("x-ambra-alternatives") or [])

    def needed(self, values: dict[str, Any]) -> list[str]:
        """The required parameters, and the first option of each alternative group that ``values`` do not satisfy."""
        names = [n for n in self.required if n != "sid"]
        for group in self.alternatives:
            if not any(all(values.get(n) not in (None, "") for n in option) for option in group):
                names += [n for n in group[0] if n not in names and n != "sid"]
        return names


def form_schema(operation: dict[str, Any]) -> dict[str, Any]:
    content = (operation.get("requestBody") or {}).get("content") or {}
    schema = (content.get("application/x-www-form-urlencoded") or {}).get("schema") or {}
    return {"required": list(schema.get("required") or ()), "properties": dict(schema.get("properties") or {})}


class World:
    """Identifiers that exist on the target, and scratch objects the property tests may change and delete."""

    def __init__(self, ambra: Ambra, document: dict[str, Any]) -> None:
        self.ambra = ambra
        self.commands = {path: Command(path, item["post"]) for path, item in document["paths"].items() if "post" in item}
        self.account_id = ambra.account_id()
        self.namespace_id = ambra.namespace_id()
        user = ambra.ok("/session/user")
        self.known: dict[str, str] = {"account": self.account_id, "namespace": self.namespace_id}
        if isinstance(user.get("uuid"), str):
            self.known["user"] = user["uuid"]
        studies = ambra.ok("/study/list", {"page.rows": 1, "filter.phi_namespace.equals": self.namespace_id}).get("studies")
        first = studies[0] if isinstance(studies, list) and studies else None
        self.study: dict[str, Any] = first if isinstance(first, dict) and isinstance(first.get("uuid"), str) else {}
        if self.study:
            self.known["study"] = str(self.study["uuid"])
        self._discover()
        self.scratch: dict[str, str] = {}
        self.created: list[tuple[str, dict[str, Any], str]] = []  # (add command, its parameters, the new uuid)
        self.map_case: Any = None  # the steering hook (the test applies it to the examples phase, which hooks do not see)

    def _discover(self) -> None:
        """The first object of every resource a list command can show with what the suite already knows."""
        for command in self.commands.values():
            if command.action != "list" or not command.collection or command.resource in self.known:
                continue
            params: dict[str, Any] = {}
            for name in command.needed({}):
                value = self.value_for(name, None)
                if value is None:
                    break
                params[name] = value
            else:
                if "page.rows" in command.properties:
                    params["page.rows"] = 1
                response = self.ambra.call(command.path, params)
                body = parsed(response) if response.status_code == 200 else None
                items = body.get(command.collection) if isinstance(body, dict) else None
                if isinstance(items, list) and items and isinstance(items[0], dict) and isinstance(items[0].get("uuid"), str):
                    self.known[command.resource] = items[0]["uuid"]

    def make_scratch(self) -> None:
        """Objects of the suite's own that sets, deletes and other commands may act on (deleted after the run)."""
        account, namespace = self.account_id, self.namespace_id
        tag = uuid.uuid4().hex[:8]
        plans = {
            "study": ("/study/add", {"study_uid": f"2.25.{uuid.uuid4().int}", "phi_namespace": namespace, "storage_namespace": namespace,
                                     "patient_name": "CONTRACT^SCRATCH", "modality": "CT", "study_date": "20240101"}),
            "group": ("/group/add", {"account_id": account, "name": f"contract scratch {tag}"}),
            "location": ("/location/add", {"account_id": account, "name": f"contract scratch {tag}"}),
            "role": ("/role/add", {"account_id": account, "name": f"contract scratch {tag}"}),
            "customfield": ("/customfield/add", {"account_id": account, "name": f"contract scratch {tag}", "object": "Study",
                                                 "type": "text"}),
            "webhook": ("/webhook/add", {"account_id": account, "name": f"contract scratch {tag}", "event": "STUDY_UPLOAD",
                                         "url": "http://127.0.0.1:9/contract", "method": "POST_JSON"}),
        }  # fmt: skip
        for resource, (path, params) in plans.items():
            response = self.ambra.call(path, params)
            body = parsed(response) if response.status_code == 200 else None
            if isinstance(body, dict) and isinstance(body.get("uuid"), str):
                self.scratch[resource] = body["uuid"]

    def remove_scratch(self) -> None:
        for resource, uuid_ in self.scratch.items():
            self.ambra.call(f"/{resource}/delete", {"uuid": uuid_})

    def remember(self, path: str, sent: dict[str, Any], response: requests.Response) -> None:
        """An object a property test added (``/x/add`` answered a uuid), to delete after the run."""
        if not path.endswith("/add") or response.status_code != 200:
            return
        body = parsed(response)
        if isinstance(body, dict) and isinstance(body.get("uuid"), str):
            self.created.append((path, {k: v for k, v in sent.items() if isinstance(v, str)}, body["uuid"]))

    def remove_created(self) -> None:
        """Delete what the property tests added, through each ``/x/add``'s ``/x/delete``, newest first."""
        for path, sent, uuid_ in reversed(self.created):
            if path == "/user/add" and sent.get("email") and sent.get("password"):
                self.ambra.delete_user(sent["email"], sent["password"])  # a user deletes itself (/user/delete)
                continue
            delete = self.commands.get(path[: -len("add")] + "delete")
            if delete is None or "uuid" not in delete.properties:
                continue
            params = {n: sent[n] for n in delete.needed(sent) if n in sent and n != "uuid"}
            self.ambra.call(delete.path, {**params, "uuid": uuid_})
        self.created.clear()

    def value_for(self, name: str, resource: str | None) -> str | None:
        """An identifier of an existing object for the parameter ``name`` of a command about ``resource``."""
        if name == "uuid":
            return self.known.get(resource or "")
        if name in REFERENCES:
            return self.known.get(REFERENCES[name])
        if name in ("study_uid", "storage_namespace", "phi_namespace") and self.study.get(name):
            return str(self.study[name])
        return None

    def filler(self, name: str, command: Command) -> str:
        """A non-empty stand-in for a required parameter the generator left empty (Ambra reads "" as missing)."""
        schema = command.properties.get(name) or {}
        if name == "uuid" or name.endswith("_id"):
            return self.scratch.get(command.resource if name == "uuid" else REFERENCES.get(name, ""), str(uuid.uuid4()))
        if "email" in name:
            return f"contract-{uuid.uuid4().hex[:8]}@example.org"
        if schema.get("contentMediaType") == "application/json":
            return "{}" if (schema.get("contentSchema") or {}).get("type") == "object" else "[]"
        if schema.get("type") == "integer" or "$ref" in schema:
            return "1"
        return "contract"


def security_needs_sid(operation: dict[str, Any]) -> bool:
    """Whether the operation accepts a sid at all (anonymous-only commands and /bundle take none)."""
    security = operation.get("security")
    return bool(security) and any("sid" in requirement for requirement in security)


def _query_requires_sid(operation: dict[str, Any]) -> bool:
    return any(isinstance(p, dict) and p.get("name") == "sid" and p.get("required") for p in operation.get("parameters") or ())


def known_values_hook(ambra: Ambra, world: World) -> Any:
    """Put a valid sid in every case, and steer *positive* cases to well-formed calls about objects that exist.

    * sid: generated sids never exist, so without one every call would be a 401; a positive case
      always gets the suite's sid (in the form body of a POST, the query of a GET). A negative case
      gets it too unless the generated sid may be what makes it negative (sid is required and was
      left out, or was generated): then it is left alone.
    * Calls that end or change the caller (``OWN_SESSION_COMMANDS``) get a throw-away session instead.
    * Ambra reads an empty value as missing (MISSING_FIELDS), and the generator likes empty strings:
      a positive case's empty required parameters (and an unsatisfied alternative) get a value.
    * Reads (get/list/count): identifiers are steered half of the time to objects that exist, so
      answers other than NOT_FOUND get checked. Adds: the parent account/namespace/study is steered
      (new objects, never the target's own, are created). Sets, deletes and other commands are steered
      only to the suite's scratch objects (``World.make_scratch``), otherwise they keep identifiers that
      name nothing: the property tests never change or delete the target's own objects.
    * /bundle: half of the positive bundles start with two real calls chained by a template.
    """
    creds = ambra.credentials
    spare = (creds.get("phr_login"), creds.get("phr_password"))
    oauth = (creds.get("oauth_client_id"), creds.get("oauth_client_secret"))

    def sid_for(path: str) -> str:
        if path in OWN_SESSION_COMMANDS:
            return ambra.throwaway_sid() or f"unknown-{uuid.uuid4()}"
        return ambra.sid

    def steer(values: dict[str, Any], command: Command) -> None:
        if command.path == "/session/login":
            if all(spare) and coin(sorted(values.items())):
                for name in ("email", "account_name", "account_login", "use_pkey", "validate_session", "vanity", "new_password"):
                    values.pop(name, None)
                values.update(login=spare[0], password=spare[1])
            return
        if command.path == "/session/oauth/token":
            if all(oauth) and coin(sorted(values.items())):
                values.update(client_id=oauth[0], client_secret=oauth[1])
            return

        def candidate(name: str) -> str | None:
            if command.action in READ_ACTIONS or (command.action == "add" and name in PARENTS):
                return world.value_for(name, command.resource)  # an object of the target: only read, or added to
            if command.action != "add" and name in ("uuid", "study_id"):
                return world.scratch.get(command.resource if name == "uuid" else "study")  # the suite's own object
            return None

        for name in command.needed(values):
            if values.get(name) in (None, ""):
                values[name] = candidate(name) or world.filler(name, command)
        for name in list(values):
            known = candidate(name)
            if known is not None and coin((name, values[name])):
                values[name] = known

    def map_case(context: Any, case: Any) -> Any:
        operation = case.operation
        method, path = operation.method.upper(), operation.path
        raw = operation.definition.raw
        if path == "/bundle":
            if isinstance(case.body, list) and not is_negative(case, "body") and coin(case.body):
                lead = [
                    {"URL": "/study/list", "sid": ambra.sid, "page.rows": "1"},
                    {"URL": "/study/get", "sid": ambra.sid, "uuid": "{{studies.[0].uuid}}"},
                ]
                case.body = lead + case.body
            return case
        command = world.commands.get(path)
        location = "body" if method == "POST" and isinstance(case.body, dict) else "query"
        values = dict((case.body if location == "body" else case.query) or {})
        negative = is_negative(case, "query") or (method == "POST" and is_negative(case, "body"))
        sid_may_be_the_fault = "sid" in values or "sid" in form_schema(raw)["required"] or _query_requires_sid(raw)
        if security_needs_sid(raw) and (not negative or not sid_may_be_the_fault):
            values["sid"] = sid_for(path)
        if not negative and command is not None and not (method == "GET" and set(raw.get("responses") or {}) == {"405"}):
            steer(values, command)
        if location == "body":
            case.body = values
        else:
            case.query = values
        return case

    return map_case


@pytest.fixture(scope="session")
def ambra_document() -> dict[str, Any]:
    return load_document()


@pytest.fixture(scope="module")
def ambra_world(ambra: Ambra, ambra_document: dict[str, Any]) -> Iterator[World]:
    """What the property tests know and make; what they made is deleted when their module ends (before the workflows)."""
    world = World(ambra, ambra_document)
    yield world
    world.remove_created()
    world.remove_scratch()
    ambra.remove_throwaway_users()


@pytest.fixture(scope="module")
def ambra_schema(ambra: Ambra, ambra_world: World, ambra_document: dict[str, Any]) -> Any:
    ambra_world.make_scratch()
    schema = schemathesis.openapi.from_dict(ambra_document)
    schema.config.update(base_url=ambra.base_url)
    # Ambra rejects bad input with its own status: HTTP 412 and an error hash.
    rejection = schema.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "412"]
    ambra_world.map_case = known_values_hook(ambra, ambra_world)
    schema.hook("map_case")(ambra_world.map_case)
    if os.environ.get("MEDIMOCK_AMBRA_COVERAGE", "0") != "1":
        schema.config.phases.update(phases=["examples", "fuzzing"])
    return schema
