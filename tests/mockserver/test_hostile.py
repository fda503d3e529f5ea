"""Hostile input against every operation of every API: always a documented error, never a 500.

Strict mode is on, so an answer whose status (or body) the spec does not document is
itself a 500 here: "below 500" means "documented". After the battery the server still
serves, and the data is intact.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

import pytest

APIS = ("clarius", "tscharts", "radiology")
SQL = "' OR '1'='1'; DROP TABLE clarius_exams; --"
TRAVERSAL = ["..%2F..%2Fetc%2Fpasswd", "....//....//etc", "%2e%2e%2f%2e%2e%2f", "..\\..\\windows"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from mockserver.app import create_app
    from mockserver.config import MockConfig
    from mockserver.pipeline import MockApp

    mock = MockApp(MockConfig(apis=APIS, strict=True, db=str(tmp_path_factory.mktemp("hostile") / "db.sqlite3"), max_body_bytes=64_000))
    app = create_app(mock=mock)
    yield app
    mock.close()


@pytest.fixture(scope="module")
def client(server):
    return server.test_client()


@pytest.fixture(scope="module")
def auth(client) -> dict[str, dict[str, str]]:
    creds = client.get("/__mock__/credentials").get_json()
    radiology = creds["radiology"]
    token = client.post(
        "/radiology/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": radiology["client_id"], "client_secret": radiology["client_secret"]},
    ).get_json()["access_token"]
    return {
        "clarius": {"Authorization": creds["clarius"]["authorization"]},
        "tscharts": {"Authorization": creds["tscharts"]["authorization"]},
        "radiology": {"Authorization": f"Bearer {token}"},
    }


def operations(server) -> list[tuple[str, Any]]:
    mock = server.extensions["medimock"]
    return [(api.name, operation) for api in mock.apis for operation in api.spec.operations]


def sample(schema: dict[str, Any]) -> str:
    kinds = schema.get("type")
    if schema.get("enum"):
        return str(schema["enum"][0])
    if kinds == "integer":
        return "1"
    if schema.get("format") == "uuid":
        return str(uuid.uuid4())
    return "x"


def url_for(server, api: str, operation: Any, override: dict[str, str] | None = None) -> str:
    mock = server.extensions["medimock"]
    path = mock.by_name[api].definition.mount + operation.path
    for param in operation.parameters:
        if param.location == "path":
            value = (override or {}).get(param.name, quote(sample(param.schema), safe=""))
            path = path.replace("{" + param.name + "}", value)
    return path


def all_operations():
    from mockserver.config import MockConfig
    from mockserver.pipeline import MockApp

    mock = MockApp(MockConfig(apis=APIS))
    try:
        return [
            pytest.param(api.name, op.operation_id, id=f"{api.name}:{op.operation_id}") for api in mock.apis for op in api.spec.operations
        ]
    finally:
        mock.close()


OPERATIONS = all_operations()


def operation(server, api: str, operation_id: str) -> Any:
    return server.extensions["medimock"].by_name[api].spec.by_id[operation_id]


def check(response, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code} {response.get_data(as_text=True)[:400]}"
    if response.status_code >= 400:
        assert response.is_json, f"{what}: an error is JSON in the API's dialect"


@pytest.mark.parametrize(("api", "operation_id"), OPERATIONS)
def test_missing_and_forged_credentials(server, client, api, operation_id):
    op = operation(server, api, operation_id)
    if not op.security or any(not requirement for requirement in op.security):
        pytest.skip("anonymous operation")
    url = url_for(server, api, op)
    for headers in (
        {},
        {"Authorization": "Bearer forged"},
        {"Authorization": "Token 0000"},
        {"Authorization": "Service-API-Key AAAAAAAA.forged"},
    ):
        response = client.open(url, method=op.method, headers=headers)
        check(response, f"{op.method} {url} with {headers}")
        assert response.status_code == 401, f"{op.method} {url} with {headers}: {response.status_code}"


@pytest.mark.parametrize(("api", "operation_id"), OPERATIONS)
def test_hostile_bodies(server, client, auth, api, operation_id):
    op = operation(server, api, operation_id)
    if op.body is None:
        pytest.skip("no request body")
    url = url_for(server, api, op)
    headers = auth[api]
    cases = [
        ("malformed JSON", b'{"a": [1, 2', "application/json"),
        ("invalid UTF-8", b'{"name": "\xff\xfe\xfa"}', "application/json"),
        ("wrong content type", b"<xml/>", "application/xml"),
        ("no content type", b"name=x", ""),
        ("deeply nested JSON", b"[" * 100_000 + b"]" * 100_000, "application/json"),
        ("huge body", b"{" + b'"x": "' + b"a" * 200_000 + b'"}', "application/json"),
        ("broken multipart", b"--xyz\r\nContent-Disposition: form-data\r\n\r\n", "multipart/form-data; boundary=xyz"),
        ("form with invalid UTF-8", b"name=%ff%fe&file=%00", "application/x-www-form-urlencoded"),
    ]
    for what, body, content_type in cases:
        response = client.open(
            url, method=op.method, data=body, headers={**headers, **({"Content-Type": content_type} if content_type else {})}
        )
        check(response, f"{what}: {op.method} {url}")
    assert (
        client.open(url, method=op.method, data=b"x" * 70_000, headers={**headers, "Content-Type": "application/json"}).status_code == 413
    )


@pytest.mark.parametrize(("api", "operation_id"), OPERATIONS)
def test_hostile_parameters(server, client, auth, api, operation_id):
    op = operation(server, api, operation_id)
    headers = auth[api]
    for value in TRAVERSAL:
        overrides = {p.name: value for p in op.parameters if p.location == "path"}
        if overrides:
            url = url_for(server, api, op, overrides)
            check(client.open(url, method=op.method, headers=headers), f"traversal {url}")
    url = url_for(server, api, op)
    query_params = [p for p in op.parameters if p.location == "query"]
    hostile_values = [SQL, "%", "_", "\x00", "\U0001d518\U0001d52b\u202e\u0301", "9" * 400, "-1e309", "[]", "{}", "null"]
    for value in hostile_values:
        query = "&".join(f"{p.name}={quote(value)}" for p in query_params) or f"x={quote(value)}"
        check(client.open(f"{url}?{query}", method=op.method, headers=headers), f"{value!r} in the query of {url}")
    many = "&".join(f"p{i}=1" for i in range(10_000))
    check(client.open(f"{url}?{many}", method=op.method, headers=headers), f"10,000 query parameters on {url}")
    check(client.open(f"{url}?a=%ff%fe%fd", method=op.method, headers=headers), f"invalid UTF-8 in the query of {url}")


def test_still_serving_and_data_intact(client, auth):
    page = client.get("/api/public/v0/exams/accessible/", headers=auth["clarius"])
    assert page.status_code == 200 and page.get_json()["count"] >= 120, "the SQL in the battery changed nothing"
    assert client.get("/__mock__/health").status_code == 200
