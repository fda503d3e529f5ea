"""The generic core: spec loading, routing, validation, faults, journal, control API, docs."""

from __future__ import annotations

import pytest

from mockserver.faults import parse_prefer
from mockserver.http import MockRequest, Problem
from mockserver.router import Match, Router
from mockserver.spec import ApiSpec, SpecError
from mockserver.validation import coerce, validate_request


def document(paths):
    return {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": paths}


def request(method="GET", path="/", query=(), body=b"", content_type=""):
    return MockRequest(method, path, list(query), {}, body, content_type, "http://h")


def test_operation_without_id_is_refused(tmp_path):
    with pytest.raises(SpecError, match="no operationId"):
        ApiSpec("t", tmp_path / "x.yaml", document({"/a": {"get": {"responses": {"200": {"description": "ok"}}}}}))


def test_router_static_dynamic_partial():
    spec = ApiSpec(
        "t",
        None,  # type: ignore[arg-type]
        document(
            {
                "/items/new/": {"get": {"operationId": "newItem", "responses": {"200": {"description": "ok"}}}},
                "/items/{id}/": {
                    "get": {
                        "operationId": "getItem",
                        "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                        "responses": {"200": {"description": "ok"}},
                    },
                    "delete": {"operationId": "deleteItem", "responses": {"204": {"description": "gone"}}},
                },
            }
        ),
    )
    router = Router(spec.operations, "/api")
    assert router.match("GET", "/api/items/new/").operation.operation_id == "newItem"
    found = router.match("GET", "/api/items/12/")
    assert found.match is Match.FULL and found.path_params == {"id": "12"}
    partial = router.match("POST", "/api/items/12/")
    assert partial.match is Match.PARTIAL and "DELETE" in partial.allowed and "GET" in partial.allowed
    assert router.match("GET", "/api/other/").match is Match.NONE
    assert not router.owns("/apix/items/")
    with pytest.raises(Problem) as caught:
        validate_request(found.operation, request(path="/api/items/x/"), {"id": "x"})
    assert caught.value.status == 400 and "id" in caught.value.fields


@pytest.mark.parametrize(
    ("value", "types", "expected"),
    [
        ("10", {"integer"}, 10),
        ("ten", {"integer"}, "ten"),
        ("1.5", {"number"}, 1.5),
        ("nan", {"number"}, "nan"),
        ("true", {"boolean"}, True),
        ("x", {"string"}, "x"),
        ("[1]", {"array"}, [1]),
    ],
)
def test_coerce(value, types, expected):
    assert coerce(value, frozenset(types)) == expected


def test_too_many_query_parameters():
    """Like Django's field limit: refused where the query is read, ignored where it is not."""
    with_query = {
        "get": {
            "operationId": "a",
            "parameters": [{"name": "q", "in": "query", "schema": {"type": "string"}}],
            "responses": {"200": {"description": "ok"}},
        }
    }
    without = {"get": {"operationId": "b", "responses": {"200": {"description": "ok"}}}}
    spec = ApiSpec("t", None, document({"/a": with_query, "/b": without}))  # type: ignore[arg-type]
    flood = request(query=[(f"p{i}", "1") for i in range(2000)])
    with pytest.raises(Problem) as caught:
        validate_request(spec.by_id["a"], flood, {}, max_query_params=1000)
    assert caught.value.status == 400
    assert validate_request(spec.by_id["b"], flood, {}, max_query_params=1000).query == {}


def test_prefer_header():
    decision = parse_prefer("code=503, latency=20")
    assert decision.status == 503 and decision.latency_ms == 20 and decision.headers["Retry-After"] == "1"
    assert parse_prefer("respond-async") is None
    assert parse_prefer("code=999") is None
    assert parse_prefer("drop").drop


def test_prefer_fault_in_the_apis_dialect_and_journal(make_app):
    client = make_app().test_client()
    auth = {"Authorization": client.get("/__mock__/credentials").get_json()["clarius"]["authorization"], "Prefer": "code=503"}
    response = client.get("/api/public/v0/exams/accessible/", headers=auth)
    assert response.status_code == 503 and response.headers["Retry-After"] == "1" and "detail" in response.get_json()
    journal = client.get("/__mock__/requests?api=clarius&limit=1").get_json()["results"]
    assert journal[-1]["status"] == 503 and journal[-1]["fault"].startswith("prefer")


def test_fault_rules_through_the_control_api(make_app):
    client = make_app().test_client()
    auth = {"Authorization": client.get("/__mock__/credentials").get_json()["clarius"]["authorization"]}
    rule = {"api": "clarius", "operation_id": "getSettings", "status": 429, "times": 1}
    assert client.put("/__mock__/faults", json=[rule]).status_code == 200
    assert client.get("/api/public/v0/services/settings/", headers=auth).status_code == 429
    assert client.get("/api/public/v0/services/settings/", headers=auth).status_code == 200, "times=1"
    assert client.get("/__mock__/faults").get_json()["rules"][0]["applied"] == 1
    assert client.put("/__mock__/faults", json=[{"status": 42}]).status_code == 400
    assert client.put("/__mock__/faults", json=[{"api": "clarius"}]).status_code == 400, "a rule needs an effect"
    assert client.delete("/__mock__/faults").status_code == 204
    assert client.get("/__mock__/faults").get_json()["rules"] == []


def test_journal_is_bounded_and_keeps_no_credentials(make_app):
    client = make_app(journal_size=50).test_client()
    key = client.get("/__mock__/credentials").get_json()["clarius"]["api_key"]
    for _ in range(260):
        client.get("/api/public/v0/services/settings/", headers={"Authorization": f"Service-API-Key {key}"})
    app = client.application.extensions["medimock"]
    app.journal.flush()
    assert app.journal_store.query_one("SELECT COUNT(*) AS n FROM journal")["n"] <= 50
    entries = client.get("/__mock__/requests?limit=50").get_json()["results"]
    assert entries and key not in str(entries)


def test_control_api_errors(make_app):
    client = make_app().test_client()
    assert client.get("/__mock__/nothing").status_code == 404
    assert client.get("/__mock__/reset").status_code == 405
    assert client.put("/__mock__/faults", data="{", content_type="application/json").status_code == 400
    assert client.get("/__mock__/requests?limit=abc").status_code == 400


def test_control_token_and_disabling(make_app):
    protected = make_app(control_token="s3cret").test_client()
    assert protected.get("/__mock__/credentials").status_code == 401
    assert protected.get("/__mock__/credentials", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    off = make_app(control=False).test_client()
    assert off.get("/__mock__/credentials").status_code == 404


def test_specs_and_docs_are_served(make_app):
    client = make_app().test_client()
    spec = client.get("/specs/clarius.yaml")
    assert spec.status_code == 200 and b"servers:\n- url: http://localhost" in spec.data
    docs = client.get("/docs")
    assert docs.status_code == 200 and b"/specs/clarius.yaml" in docs.data and b"cdn" not in docs.data.lower()
    assert client.get("/docs/static/swagger-ui-bundle.js").status_code == 200
    assert client.get("/specs/nothing.yaml").status_code == 404


def test_unknown_path_is_a_dialect_404(make_app):
    response = make_app().test_client().get("/api/public/v0/nothing/")
    assert response.status_code == 404 and response.get_json() == {"detail": "Not found."}


def test_api_paths_bypass_flask_and_its_routes_do_not(make_app, caplog):
    """API paths go from WSGI to the pipeline (no Flask request context); /__mock__, /specs and /docs stay Flask's.
    A bug in the pipeline is a logged 500 and the server keeps serving (in testing mode it propagates)."""
    app = make_app()
    client = app.test_client()
    seen: list[bool] = []
    mock = app.extensions["medimock"]
    handle = mock.handle

    def spy(request):
        from flask import has_request_context

        seen.append(has_request_context())
        return handle(request)

    mock.handle = spy
    key = client.get("/__mock__/credentials").get_json()["clarius"]["authorization"]
    assert client.get("/api/public/v0/exams/accessible/?limit=1", headers={"Authorization": key}).status_code == 200
    assert client.head("/api/public/v0/exams/accessible/?limit=1", headers={"Authorization": key}).data == b""
    assert seen == [False, False]
    assert client.get("/specs/clarius.yaml").status_code == 200 and client.get("/docs").status_code == 200

    def broken(request):
        raise RuntimeError("a bug")

    mock.handle = broken
    app.testing = False
    with caplog.at_level("ERROR", logger="medimock"):
        assert client.get("/api/public/v0/exams/accessible/").status_code == 500
    assert "a bug" in caplog.text
    app.testing = True
    with pytest.raises(RuntimeError, match="a bug"):
        client.get("/api/public/v0/exams/accessible/")
    mock.handle = handle
    assert client.get("/api/public/v0/exams/accessible/?limit=1", headers={"Authorization": key}).status_code == 200


def test_specs_without_a_mock_yet_are_served_and_listed(make_app):
    import yaml

    client = make_app().test_client()  # only clarius is mounted
    response = client.get("/specs/ambra.yaml")
    assert response.status_code == 200
    document = yaml.load(response.data, Loader=yaml.CSafeLoader)
    assert document["openapi"].startswith("3.1") and len(document["paths"]) > 400
    assert b"/specs/ambra.yaml" in client.get("/docs").data


def test_parsed_specs_are_cached_as_json(tmp_path, monkeypatch):
    from pathlib import Path

    from mockserver.spec import read_document

    monkeypatch.setenv("MEDIMOCK_CACHE_DIR", str(tmp_path))
    spec = Path(__file__).resolve().parents[2] / "specs" / "clarius" / "openapi.yaml"
    first = read_document(spec)
    cached = list(tmp_path.glob("clarius-*.json"))
    assert len(cached) == 1
    assert read_document(spec) == first
    cached[0].write_bytes(b"{broken")  # a damaged cache is ignored, not trusted
    assert read_document(spec) == first


def test_fast_scalar_checks_never_accept_what_jsonschema_rejects():
    """The native fast path may only say "valid" where jsonschema agrees (hypothesis-generated values)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from jsonschema import Draft202012Validator, FormatChecker

    from mockserver.spec import compile_scalar_check

    schemas = [
        {"type": "integer", "minimum": 1, "default": 100},
        {"type": "integer", "minimum": 0, "maximum": 5000},
        {"type": "number", "exclusiveMinimum": 0},
        {"type": "string", "minLength": 1, "maxLength": 8},
        {"type": "string", "format": "uuid"},
        {"type": "string", "pattern": "^[A-Za-z0-9]{8}$"},
        {"type": "string", "enum": ["true", "false"]},
        {"type": "integer", "enum": [0, 1]},
        {"type": "boolean"},
    ]
    values = st.one_of(
        st.integers(-10, 10_000),
        st.floats(allow_nan=False),
        st.booleans(),
        st.none(),
        st.text(max_size=40),
        st.uuids().map(str),
        st.uuids().map(lambda u: u.hex),
        st.sampled_from(["true", "1", "1.0", "0"]),
    )
    pairs = [(compile_scalar_check(schema), Draft202012Validator(schema, format_checker=FormatChecker())) for schema in schemas]
    assert all(fast is not None for fast, _ in pairs)
    assert compile_scalar_check({"type": "string", "format": "date-time"}) is None
    assert compile_scalar_check({"anyOf": [{"type": "string"}]}) is None

    @settings(max_examples=400, deadline=None)
    @given(values)
    def agree(value):
        for fast, slow in pairs:
            if fast(value):
                assert slow.is_valid(value), (slow.schema, value)

    agree()


def test_credentials_in_query_strings_are_redacted():
    from mockserver.http import redact_query

    assert redact_query("sid=abc&page.rows=5&client_secret=s3&Password=x") == (
        "sid=%5Bredacted%5D&page.rows=5&client_secret=%5Bredacted%5D&Password=%5Bredacted%5D"
    )
    assert redact_query("") == "" and redact_query("a=1&flag") == "a=1&flag"


def test_journal_keeps_no_query_credentials(make_app):
    client = make_app(apis=("radiology",)).test_client()
    creds = client.get("/__mock__/credentials").get_json()["radiology"]
    query = f"grant_type=client_credentials&client_id={creds['client_id']}&client_secret={creds['client_secret']}"
    assert client.get(f"/radiology/oauth2/token?{query}").status_code == 200
    journal = client.get("/__mock__/requests?api=radiology").get_data(as_text=True)
    assert creds["client_secret"] not in journal and "redacted" in journal


def test_access_log_keeps_no_query_credentials(tmp_path):
    import subprocess
    import sys
    import time

    import requests as http

    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mockserver",
            "--api",
            "radiology",
            "--port",
            "0",
            "--log-level",
            "INFO",
            "--db",
            str(tmp_path / "db.sqlite3"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = process.stdout.readline().split("listening on ", 1)[1].split()[0]
        creds = http.get(url + "/__mock__/credentials", timeout=10).json()["radiology"]
        http.get(
            f"{url}/radiology/oauth2/token",
            params={"grant_type": "client_credentials", "client_id": creds["client_id"], "client_secret": creds["client_secret"]},
            timeout=10,
        )
        time.sleep(0.3)
    finally:
        process.terminate()
        _, logs = process.communicate(timeout=10)
    assert "/radiology/oauth2/token" in logs, "the request was logged"
    assert creds["client_secret"] not in logs
