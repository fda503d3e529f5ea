"""The front door (``GET /``) and the served specs' seeded examples: what a newcomer opening the mock sees,
and "Try it out" in /docs returning data with the values it pre-fills."""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import quote

import pytest
import yaml

from medimock import __version__

APIS = ("clarius", "tscharts", "radiology", "ambra")


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from mockserver.app import create_app
    from mockserver.config import MockConfig
    from mockserver.pipeline import MockApp

    mock = MockApp(MockConfig(strict=True, db=str(tmp_path_factory.mktemp("frontdoor") / "mock.sqlite3")))
    yield create_app(mock=mock).test_client()
    mock.close()


def test_the_front_door_lists_every_api_with_where_to_start(client):
    page = client.get("/", headers={"Accept": "application/json"}).get_json()
    assert page["version"] == __version__ and page["url"] == "http://localhost"
    assert sorted(page["apis"]) == sorted(APIS)
    ambra = page["apis"]["ambra"]
    assert ambra["base_url"] == "http://localhost/api/v3" and ambra["spec"] == "http://localhost/specs/ambra.yaml"
    assert "ambra-v3-services-api.txt" in ambra["sources"] and ambra["operations"] > 900
    assert {scheme["name"] for scheme in ambra["auth"]} == {"sid", "bearer", "basic", "nodeBasic"}
    assert ambra["credentials"]["login"] == "admin@northwind.example.org"
    radiology = page["apis"]["radiology"]
    assert any("token URL http://localhost/radiology/oauth2/token" in scheme["kind"] for scheme in radiology["auth"])
    for api in page["apis"].values():
        assert api["docs"].startswith("http://localhost/docs?urls.primaryName=")
        assert api["quickstart"] and "<" not in api["quickstart"].replace("<prefix>", "")  # every credential filled in
    assert page["credentials"] == {
        "url": "http://localhost/__mock__/credentials",
        "command": "medimock credentials --target http://localhost",
        "shown": True,
    }
    routes = {(route["method"], route["path"]): route["summary"] for route in page["control"]["routes"]}
    assert routes[("POST", "/__mock__/reset")] and routes[("POST", "/__mock__/clarius/exams")].startswith("simulate a scanner upload")
    assert all(routes.values()), [route for route, summary in routes.items() if not summary]
    assert client.get("/?format=json").get_json() == page


def test_the_html_page_says_the_same(client):
    response = client.get("/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert response.status_code == 200 and response.content_type.startswith("text/html")
    text = response.get_data(as_text=True)
    assert f'medimock <span class="muted small">{__version__}</span>' in text
    for api in APIS:
        assert f'href="http://localhost/specs/{api}.yaml"' in text and f'id="{api}"' in text
    assert "http://localhost/api/v3" in text and "/__mock__/faults" in text and "Start here" in text
    assert "<script" not in text  # a plain page: nothing to load, nothing to run
    assert client.get("/").content_type.startswith("text/html")  # a browser's default


def test_docs_links_select_the_api_in_swagger_ui(client):
    docs = client.get("/docs").get_data(as_text=True)
    page = client.get("/?format=json").get_json()
    for api in page["apis"].values():
        name = api["docs"].split("urls.primaryName=", 1)[1]
        assert f'"name": "{name.replace("%20", " ")}"' in docs
        assert quote(name.replace("%20", " ")) == name


def test_other_methods_on_the_root_still_reach_the_apis(client):
    assert client.post("/").status_code == 404  # an API path like any other: the pipeline's 404


def test_without_an_open_control_api_no_credentials_are_shown(make_app):
    protected = make_app(control_token="s3cret").test_client().get("/?format=json").get_json()
    assert protected["apis"]["clarius"]["credentials"] == {} and protected["credentials"]["shown"] is False
    assert "<api_key>" in protected["apis"]["clarius"]["quickstart"] or "<authorization>" in protected["apis"]["clarius"]["quickstart"]
    assert protected["control"]["token_required"] is True
    closed = make_app(control=False).test_client()
    page = closed.get("/?format=json").get_json()
    assert page["control"] is None and page["credentials"]["url"] is None
    assert "without its control API" in closed.get("/").get_data(as_text=True)


# -- "Try it out" with the pre-filled values ----------------------------------------------------------------


def served_spec(client, api: str) -> dict[str, Any]:
    return yaml.load(client.get(f"/specs/{api}.yaml").data, Loader=yaml.CSafeLoader)


def prefilled(operation: dict[str, Any], components: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The path and query values Swagger UI pre-fills: each parameter's example, else its schema's default."""
    path, query = {}, {}
    for parameter in operation.get("parameters") or []:
        if "$ref" in parameter:
            parameter = components["parameters"][parameter["$ref"].rsplit("/", 1)[1]]
        value = parameter.get("example", (parameter.get("schema") or {}).get("default"))
        if value is None:
            continue
        (path if parameter["in"] == "path" else query)[parameter["name"]] = str(value).lower() if isinstance(value, bool) else value
    return path, query


def has_data(body: Any) -> bool:
    if isinstance(body, dict):
        return body.get("count", 1) > 0 and body.get("results", [None]) != [] and body != {}
    return bool(body)


def auth_headers(client, api: str) -> dict[str, str]:
    creds = client.get("/__mock__/credentials").get_json()[api]
    if api == "radiology":
        token = client.post(
            "/radiology/oauth2/token",
            data={"grant_type": "client_credentials", "client_id": creds["client_id"], "client_secret": creds["client_secret"]},
        ).get_json()["access_token"]
        return {"Authorization": f"Bearer {token}"}
    if api == "ambra":
        basic = base64.b64encode(f"{creds['login']}:{creds['password']}".encode()).decode()
        return {"Authorization": f"Basic {basic}"}
    return {"Authorization": creds["authorization"]}


@pytest.mark.parametrize("api", ["clarius", "tscharts", "radiology"])
def test_every_read_tried_out_with_its_prefilled_values_returns_data(client, api):
    spec = served_spec(client, api)
    mount = {"radiology": "/radiology"}.get(api, "")
    headers = auth_headers(client, api)
    research = research_headers(client, spec) if api == "clarius" else {}
    tried = []
    for template, item in spec["paths"].items():
        operation = item.get("get")
        if operation is None or template.endswith("/oauth2/token"):  # the token grant: its own test below
            continue
        if {"ResearchToken": []} in (operation.get("security") or []):
            headers, kept = research, headers  # Clarius's Research API: a token from its token-auth (pre-filled body)
        else:
            kept = headers
        path_values, query = prefilled(operation, spec["components"])
        path = re.sub(r"\{([^}]+)\}", lambda m: str(path_values[m.group(1)]), template)
        response = client.get(mount + path, query_string=query, headers=headers)
        assert response.status_code == 200, f"{operation['operationId']} {path} {query}: {response.status_code} {response.data[:300]!r}"
        if response.is_json:
            assert has_data(response.get_json()), f"{operation['operationId']} {path} {query}: no data {response.data[:300]!r}"
        tried.append(operation["operationId"])
        headers = kept
    assert len(tried) >= {"clarius": 10, "tscharts": 2, "radiology": 5}[api], tried


def research_headers(client, spec: dict[str, Any]) -> dict[str, str]:
    """Clarius Research API: "Try it out" on token-auth with its pre-filled body, then the token it gives."""
    body = spec["paths"]["/api/public/v0/token-auth/"]["post"]["requestBody"]["content"]["application/json"]["example"]
    response = client.post("/api/public/v0/token-auth/", json=body)
    assert response.status_code == 200, response.data[:300]
    return {"Authorization": f"Token {response.get_json()['token']}"}


def test_the_token_grant_tried_out_with_its_prefilled_values_gives_a_token(client):
    spec = served_spec(client, "radiology")
    _, query = prefilled(spec["paths"]["/oauth2/token"]["get"], spec["components"])
    response = client.get("/radiology/oauth2/token", query_string=query)
    assert response.status_code == 200 and response.get_json()["access_token"], response.data[:300]


def test_prefilled_bodies_are_seeded(client):
    clarius = served_spec(client, "clarius")
    creds = client.get("/__mock__/credentials").get_json()
    confirm = clarius["paths"]["/api/public/v0/services/customer-confirmations/"]["post"]["requestBody"]["content"]["application/json"]
    assert confirm["example"]["token"] in creds["clarius"]["unconfirmed_customer_tokens"] and "examples" not in confirm
    tscharts = served_spec(client, "tscharts")
    image = tscharts["paths"]["/tscharts/v1/image/"]["post"]["requestBody"]["content"]["application/json"]["example"]
    created = client.post("/tscharts/v1/image/", json=image, headers={"Authorization": creds["tscharts"]["authorization"]})
    assert created.status_code == 200, created.data[:300]
    client.delete(f"/tscharts/v1/image/{created.get_json()['id']}/", headers={"Authorization": creds["tscharts"]["authorization"]})


def test_ambra_commands_tried_out_with_their_prefilled_values_answer_ok(client):
    from mockserver.seeded_examples import seeded

    mock = client.application.extensions["medimock"]
    ambra = mock.by_name["ambra"]  # the transform /specs/ambra.yaml applies (its YAML takes seconds to write and read)
    spec = seeded(ambra.spec.document, ambra.definition.docs_examples(mock))
    headers = auth_headers(client, "ambra")
    login = spec["paths"]["/session/login"]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]["properties"]
    form = {name: prop["example"] for name, prop in login.items() if "example" in prop}
    assert client.post("/api/v3/session/login", data=form).get_json()["status"] == "OK"
    tried, failed = [], []
    for template, item in spec["paths"].items():
        operation = item.get("post") or {}
        if not operation.get("operationId", "").endswith("_get"):
            continue
        properties = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]["properties"]
        form = {name: prop["example"] for name, prop in properties.items() if "example" in prop}
        if "uuid" not in form:
            continue
        reply = client.post("/api/v3" + template, data=form, headers=headers)
        if reply.status_code != 200 or reply.get_json()["status"] != "OK":
            failed.append(f"{template} {form}: {reply.data[:200]!r}")
        tried.append(template)
    assert not failed, "\n".join(failed)
    assert "/study/get" in tried and "/user/get" in tried and len(tried) >= 20, tried


def test_a_parameter_to_leave_empty_loses_the_documents_example(client):
    radiology = served_spec(client, "radiology")
    status = radiology["paths"]["/status"]["get"]
    names = {p.get("name"): p for p in status["parameters"]}
    assert "example" not in names["study_uid"] and names["order_id"]["example"].startswith("ORD-")
    document = client.application.extensions["medimock"].by_name["radiology"].spec.document  # the loaded spec is left as it was
    assert document["components"]["parameters"]["StudyUidQuery"]["example"].startswith("1.2.840.")
    assert all("$ref" in p for p in document["paths"]["/status"]["get"]["parameters"])
