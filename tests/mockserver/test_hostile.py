"""Hostile input against every operation of every API: always a documented error, never a 500.

Strict mode is on, so an answer whose status (or body) the spec does not document is
itself a 500 here: "below 500" means "documented". After the battery the server still
serves, and the data is intact.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any
from urllib.parse import quote

import pytest

APIS = ("clarius", "tscharts", "radiology", "ambra")
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
    ambra = base64.b64encode(f"{creds['ambra']['login']}:{creds['ambra']['password']}".encode()).decode()
    return {
        "ambra": {"Authorization": f"Basic {ambra}"},
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


def keep_credentials(client, auth, api: str) -> None:
    """Ambra commands may legitimately change the admin's password to a hostile string (it is a valid
    password); the battery then restores the fixtures, so later cases still run authenticated."""
    if api == "ambra" and client.post("/api/v3/session/user", headers=auth["ambra"]).status_code != 200:
        assert client.post("/__mock__/reset").status_code == 200


def check(response, what: str, op: Any = None) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code} {response.get_data(as_text=True)[:400]}"
    if response.status_code >= 400:
        documented = op.responses.get(str(response.status_code)) if op is not None else None
        if documented is not None and not documented.content and not response.get_data():
            return  # a reply the spec documents without a body (Ambra's malformed /bundle: a bare 400)
        assert response.is_json, f"{what}: an error is JSON in the API's dialect"


@pytest.mark.parametrize(("api", "operation_id"), OPERATIONS)
def test_missing_and_forged_credentials(server, client, api, operation_id):
    op = operation(server, api, operation_id)
    if not op.security or any(not requirement for requirement in op.security):
        pytest.skip("anonymous operation")
    if op.extensions.get("x-ambra-post-only"):
        pytest.skip("POST-only Ambra command: its GET is 405 whoever asks")
    url = url_for(server, api, op)
    for headers in (
        {},
        {"Authorization": "Bearer forged"},
        {"Authorization": "Token 0000"},
        {"Authorization": "Service-API-Key AAAAAAAA.forged"},
        {"Authorization": "Basic " + base64.b64encode(b"nobody@example.org:forged").decode()},
    ):
        response = client.open(url, method=op.method, headers=headers)
        check(response, f"{op.method} {url} with {headers}")
        assert response.status_code == 401, f"{op.method} {url} with {headers}: {response.status_code}"
    if api == "ambra":  # Ambra's own credential: a session id, in the query or (POST) the form
        for where in ("query", "form"):
            if where == "form" and op.method != "POST":
                continue
            response = (
                client.open(f"{url}?sid=forged-{uuid.uuid4()}", method=op.method)
                if where == "query"
                else client.open(url, method=op.method, data={"sid": f"forged-{uuid.uuid4()}"})
            )
            check(response, f"{op.method} {url} with a forged sid in the {where}")
            assert response.status_code == 401, f"{op.method} {url} forged sid in the {where}: {response.status_code}"
            assert response.get_json()["status"] == "ERROR", response.get_json()


@pytest.mark.parametrize(("api", "operation_id"), OPERATIONS)
def test_hostile_bodies(server, client, auth, api, operation_id):
    op = operation(server, api, operation_id)
    if op.body is None:
        pytest.skip("no request body")
    keep_credentials(client, auth, api)
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
        check(response, f"{what}: {op.method} {url}", op)
    assert (
        client.open(url, method=op.method, data=b"x" * 70_000, headers={**headers, "Content-Type": "application/json"}).status_code == 413
    )


@pytest.mark.parametrize(("api", "operation_id"), OPERATIONS)
def test_hostile_parameters(server, client, auth, api, operation_id):
    op = operation(server, api, operation_id)
    if op.extensions.get("x-medimock-form-from-query"):
        pytest.skip("an Ambra POST reads its query as its GET twin does, which this battery covers")
    keep_credentials(client, auth, api)
    headers = auth[api]
    for value in TRAVERSAL:
        overrides = {p.name: value for p in op.parameters if p.location == "path"}
        if overrides:
            url = url_for(server, api, op, overrides)
            check(client.open(url, method=op.method, headers=headers), f"traversal {url}", op)
    url = url_for(server, api, op)
    query_params = [p for p in op.parameters if p.location == "query"]
    hostile_values = [SQL, "%", "_", "\x00", "\U0001d518\U0001d52b\u202e\u0301", "9" * 400, "-1e309", "[]", "{}", "null"]
    for value in hostile_values:
        query = "&".join(f"{p.name}={quote(value)}" for p in query_params) or f"x={quote(value)}"
        check(client.open(f"{url}?{query}", method=op.method, headers=headers), f"{value!r} in the query of {url}", op)
    many = "&".join(f"p{i}=1" for i in range(10_000))
    check(client.open(f"{url}?{many}", method=op.method, headers=headers), f"10,000 query parameters on {url}", op)
    check(client.open(f"{url}?a=%ff%fe%fd", method=op.method, headers=headers), f"invalid UTF-8 in the query of {url}", op)


def test_still_serving_and_data_intact(client, auth):
    page = client.get("/api/public/v0/exams/accessible/", headers=auth["clarius"])
    assert page.status_code == 200 and page.get_json()["count"] >= 120, "the SQL in the battery changed nothing"
    studies = client.post("/api/v3/study/count", headers=auth["ambra"])
    assert studies.status_code == 200, studies.get_json()
    assert client.post("/api/v3/study/list", data={"page.rows": 1}, headers=auth["ambra"]).get_json()["page"]["more"] == 1
    assert client.get("/__mock__/health").status_code == 200
