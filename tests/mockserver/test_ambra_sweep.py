"""Every one of the 925 Ambra operations answers a well-formed, authenticated call with a
documented status — never 404 or 500, and never a strict-mode violation (strict is on).

The requests are built from the spec: required parameters and the first set of each
alternative, filled with plausible values (ids of seeded objects where the name says
what it points to). Operations run in an order that creates before it deletes; logout
and /user/delete get a session of their own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from mockserver.api import SPECS_DIR
from mockserver.app import create_app
from mockserver.config import MockConfig
from mockserver.spec import ApiSpec, read_document

SPEC = read_document(SPECS_DIR / "ambra" / "openapi.yaml")
DESTRUCTIVE = ("delete", "remove", "reject", "merge", "archive", "split", "detach", "undeploy", "revive", "stop")
RANK = {"add": 0, "get": 1, "list": 1, "count": 1, "custom": 2, "set": 3, "delete": 5}
LAST = ("session_logout", "user_delete")
REFERENCES = {"account_id": "account", "user_id": "user", "group_id": "group", "location_id": "location", "namespace_id": "namespace",
              "role_id": "role", "node_id": "node", "destination_id": "destination", "route_id": "route", "webhook_id": "webhook",
              "customfield_id": "customfield", "patient_id": "patient", "order_id": "order", "rule_set_id": "rule_set", "site_id": "site",
              "link_id": "link", "filter_id": "filter", "dictionary_id": "dictionary", "meeting_id": "meeting", "radreport_id": "radreport",
              "query_id": "query"}  # fmt: skip


def operations() -> list[tuple[str, str, str, dict[str, Any]]]:
    found = []
    for path, item in SPEC["paths"].items():
        for method in ("post", "get"):
            if method not in item:  # /bundle is POST only
                continue
            operation = item[method]
            extension = operation.get("x-medimock") or {}
            command = path.rsplit("/", 1)[-1]
            rank = 5 if command in DESTRUCTIVE else RANK.get(extension.get("action", "custom"), 2)
            found.append((operation["operationId"], method.upper(), path, {"rank": rank, **operation}))
    found.sort(key=lambda o: (o[0].startswith(LAST), o[3]["rank"], o[0]))
    return found


OPERATIONS = operations()


@pytest.fixture(scope="module")
def mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    app = create_app(MockConfig(apis=("ambra",), strict=True, db=str(tmp_path_factory.mktemp("sweep") / "db.sqlite3")))
    yield app
    app.extensions["medimock"].close()


@pytest.fixture(scope="module")
def world(mock: Any) -> dict[str, Any]:
    client = mock.test_client()
    credentials = client.get("/__mock__/credentials").get_json()["ambra"]
    sid = client.post("/api/v3/session/login", data={"login": credentials["login"], "password": credentials["password"]}).get_json()["sid"]
    store = mock.extensions["medimock"].store
    ids: dict[str, str] = {}
    for row in store.query("SELECT kind, uuid FROM ambra_objects ORDER BY seq"):
        ids.setdefault(row["kind"], row["uuid"])
    study = dict(store.query_one("SELECT * FROM ambra_studies ORDER BY seq LIMIT 1"))
    node = json.loads(store.query_one("SELECT data FROM ambra_objects WHERE kind = 'node' ORDER BY seq LIMIT 1")["data"])
    return {"client": client, "sid": sid, "ids": ids, "study": study, "node": node, "credentials": credentials}


def value(world: dict[str, Any], operation: dict[str, Any], path: str, name: str, schema: dict[str, Any]) -> str:
    ids, study = world["ids"], world["study"]
    group = path.strip("/").split("/")[0]
    resource = (operation.get("x-medimock") or {}).get("resource") or group
    if name == "sid":
        return world["sid"]
    if schema.get("enum") == [0, 1]:
        return "1"
    if schema.get("type") == "integer":
        return "1"
    if schema.get("contentMediaType") == "application/json":
        return "{}" if (schema.get("contentSchema") or {}).get("type") == "object" else "[]"
    if schema.get("enum"):
        return str(schema["enum"][0])
    if name == "uuid":
        if group == "study":
            return study["uuid"]
        if group == "node" or "serial_no" in str(operation.get("requestBody", "")):
            return world["node"]["uuid"]
        return ids.get(resource) or ids.get(resource.split("_")[0]) or ids.get(group) or study["uuid"]
    if name == "study_id":
        return study["uuid"]
    if name in REFERENCES:
        return ids.get(REFERENCES[name], study["uuid"])
    if name in ("study_uid", "storage_namespace", "phi_namespace"):
        return study[name]
    if name == "serial_no":
        return world["node"]["serial_no"]
    if "email" in name:
        return "someone@example.org"
    return "x"


def build(world: dict[str, Any], method: str, path: str, operation: dict[str, Any]) -> dict[str, str]:
    post = SPEC["paths"][path]["post"]
    body = post.get("requestBody", {}).get("content", {}).get("application/x-www-form-urlencoded", {}).get("schema", {})
    properties = body.get("properties") or {}
    names = list(body.get("required") or [])
    for group in post.get("x-ambra-alternatives") or []:
        names += [n for n in group[0] if n not in names]
    params = {n: value(world, operation, path, n, properties.get(n) or {}) for n in names}
    if operation.get("security") and "sid" not in params:
        params["sid"] = world["sid"]
    return params


def own_session(world: dict[str, Any]) -> str:
    """A new user with a session of their own (for logout and /user/delete)."""
    client, credentials = world["client"], world["credentials"]
    email = f"sweep{len(world)}-{id(world) % 1000}-{client.application.extensions['medimock'].store.query_one('SELECT COUNT(*) FROM ambra_objects')[0]}@example.org"
    reply = client.post("/api/v3/user/add", data={"sid": world["sid"], "account_id": credentials["account_id"], "first": "Sweep", "last": "User",
                                                  "password": "Sweep-pass-1", "email": email, "mobile_phone": "+15550000000"})  # fmt: skip
    assert reply.status_code == 200, reply.get_json()
    return client.post("/api/v3/session/login", data={"login": email, "password": "Sweep-pass-1"}).get_json()["sid"]


@pytest.mark.parametrize(("operation_id", "method", "path", "operation"), OPERATIONS, ids=[o[0] for o in OPERATIONS])
def test_every_operation_answers_a_documented_status(
    world: dict[str, Any], operation_id: str, method: str, path: str, operation: dict[str, Any]
) -> None:
    client = world["client"]
    if path == "/bundle":
        reply = client.post("/api/v3/bundle", json=[{"URL": "/session/uuid"}])
        assert reply.status_code == 200 and reply.get_json()[0]["HTTP_STATUS_CODE"] == 200
        return
    params = build(world, method, path, operation)
    if operation_id.startswith(LAST):
        params["sid"] = own_session(world)
    reply = client.get("/api/v3" + path, query_string=params) if method == "GET" else client.post("/api/v3" + path, data=params)
    body = reply.get_json(silent=True)
    assert reply.status_code not in (404, 500), (operation_id, reply.status_code, body, params)
    assert str(reply.status_code) in operation["responses"], (operation_id, reply.status_code, body)
    if set(operation["responses"]) == {"405"}:
        assert reply.status_code == 405
    else:
        assert reply.status_code != 401, (operation_id, body, params)
    if reply.status_code == 412:
        assert body["status"] == "ERROR" and body["error_type"]
    if reply.status_code == 200:  # namespaces are one truth: whatever a reply names exists
        store = client.application.extensions["medimock"].store
        for name, named in namespace_references(body):
            found = store.query_one("SELECT 1 FROM ambra_objects WHERE uuid = ? AND kind = 'namespace'", (named,))
            assert found is not None, f"{operation_id}: {name}={named} names no namespace"


NAMESPACE_KEYS = ("namespace_id", "phi_namespace", "storage_namespace", "namespace")


def namespace_references(node: Any, depth: int = 0) -> list[tuple[str, str]]:
    """(key, uuid) of every namespace a reply names, at any depth."""
    found: list[tuple[str, str]] = []
    if isinstance(node, dict) and depth < 6:
        for key, item in node.items():
            if key in NAMESPACE_KEYS and isinstance(item, str) and len(item) == 36:
                found.append((key, item))
            else:
                found += namespace_references(item, depth + 1)
    elif isinstance(node, list) and depth < 6:
        for item in node:
            found += namespace_references(item, depth + 1)
    return found


def test_the_spec_has_925_operations() -> None:
    """The document's 462 commands (POST and GET) and /bundle; /account/add and /account/delete beyond it."""
    undocumented = [o for o in OPERATIONS if o[3].get("x-medimock-undocumented")]
    assert len(OPERATIONS) - len(undocumented) == 925 and {o[2] for o in undocumented} == {"/account/add", "/account/delete"}
    spec = ApiSpec("ambra", SPECS_DIR / "ambra" / "openapi.yaml", SPEC)
    assert len(spec.operations) == 925 + len(undocumented)


HOSTILE = ["' OR '1'='1'; DROP TABLE ambra_studies; --", "\u0000\u2603" * 5, "9" * 30, "[]", "{}", ""]


def test_hostile_values_everywhere_get_documented_errors(world: dict[str, Any]) -> None:
    """Every parameter of every operation (and a filter, and sort_by) set to hostile values: never a 500 or a 401."""
    client, failures = world["client"], []
    for index, (operation_id, method, path, operation) in enumerate(OPERATIONS):
        if path == "/bundle" or operation_id.startswith(LAST):
            continue
        value = HOSTILE[index % len(HOSTILE)]
        post = SPEC["paths"][path]["post"]
        body = post.get("requestBody", {}).get("content", {}).get("application/x-www-form-urlencoded", {}).get("schema", {})
        params = {name: value for name in body.get("properties") or {}}
        params.update({"sid": world["sid"], "filter.x'y.equals": value, "filter.modality.in": value})
        if "sort_by" in params:
            params["sort_by"] = value + "-asc"
        reply = client.get("/api/v3" + path, query_string=params) if method == "GET" else client.post("/api/v3" + path, data=params)
        if reply.status_code >= 500 or reply.status_code == 401:
            failures.append((operation_id, repr(value), reply.status_code, reply.get_data(as_text=True)[:200]))
    assert failures == []
    assert world["client"].post("/api/v3/study/count", data={"sid": world["sid"]}).get_json()["count"] > 0
