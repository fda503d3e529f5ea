"""The OpenAPI 3.1 specs of the two small APIs: tscharts image API and radiology report retrieval.

Checks that each spec is valid OpenAPI 3.1, keeps medimock's conventions (local refs,
unique camelCase operationIds, explicit security, one error dialect per API), documents
every operation, parameter and status code the source documents give (listed here
explicitly from specs/sources/*.txt), that its examples conform to its schemas, and that
schemathesis loads it and generates cases for every operation.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, given, settings
from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import validate
from referencing import Registry
from referencing.jsonschema import DRAFT202012

ROOT = Path(__file__).resolve().parents[2]
SPECS = {
    "tscharts": ROOT / "specs" / "tscharts" / "openapi.yaml",
    "radiology": ROOT / "specs" / "radiology" / "openapi.yaml",
}
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$")

# -- what the documents say, written out by hand ----------------------------------------
# (method, path) -> operationId
OPERATIONS = {
    "tscharts": {
        ("get", "/tscharts/v1/image/{id}/"): "getImage",
        ("get", "/tscharts/v1/image/"): "listImageIds",
        ("post", "/tscharts/v1/image/"): "createImage",
        ("delete", "/tscharts/v1/image/{id}/"): "deleteImage",
        ("post", "/tscharts/v1/login/"): "login",
    },
    "radiology": {
        ("get", "/oauth2/token"): "getTokenGet",
        ("post", "/oauth2/token"): "getToken",
        ("get", "/status"): "getStatus",
        ("get", "/orderId"): "getOrderIds",
        ("get", "/results"): "getResults",
        ("get", "/report"): "getGroupReport",
        ("get", "/reports"): "pollReports",
        ("post", "/reports"): "acknowledgeReports",
    },
}

# operationId -> {(name, in): required}
PARAMETERS = {
    "getImage": {("id", "path"): True},
    "deleteImage": {("id", "path"): True},
    "listImageIds": {
        ("patient", "query"): True,
        ("type", "query"): False,
        ("clinic", "query"): False,
        ("station", "query"): False,
        ("sort", "query"): False,
        ("newest", "query"): False,
    },
    "createImage": {},
    "login": {},
    "getTokenGet": {
        ("grant_type", "query"): True,
        ("client_id", "query"): True,
        ("client_secret", "query"): True,
        ("scope", "query"): False,
    },
    "getToken": {},
    "getStatus": {("order_id", "query"): False, ("study_uid", "query"): False},
    "getOrderIds": {("study_uid", "query"): True},
    "getResults": {
        ("order_id", "query"): False,
        ("study_uid", "query"): False,
        ("report_type", "query"): True,
    },
    "getGroupReport": {("study_group", "query"): True, ("report_type", "query"): True},
    "pollReports": {("organizationId", "query"): True},
    "acknowledgeReports": {("organizationId", "query"): True},
}

# operationId -> status codes: the document's own, plus 400/401 for invalid input and bad
# credentials (and the vendor-behaviour ones recorded in the specs' READMEs).
STATUSES = {
    # document: 200, 404
    "getImage": {"200", "401", "404"},
    "deleteImage": {"200", "401", "404"},
    # document: 200, 400, "403 NOT FOUND", 500 (+ 404: what the reference server sends)
    "listImageIds": {"200", "400", "401", "403", "404", "500"},
    "createImage": {"200", "400", "401", "403", "404", "413", "500"},  # 413: the body size limit
    # reference server LoginView: 200, 400, 403
    "login": {"200", "400", "403", "413"},
    # RFC 6749 §5.1/§5.2
    "getTokenGet": {"200", "400", "401"},
    "getToken": {"200", "400", "401", "413"},
    # RFC 6750 + not_found
    "getStatus": {"200", "400", "401", "403", "404"},
    "getOrderIds": {"200", "400", "401", "403", "404"},
    "getResults": {"200", "400", "401", "403", "404"},
    "getGroupReport": {"200", "400", "401", "403", "404"},
    "pollReports": {"200", "400", "401", "403"},
    "acknowledgeReports": {"200", "400", "401", "403", "404", "413"},
}

# operationId -> required scopes
RADIOLOGY_SCOPES = {
    "getStatus": ["status:read"],
    "getOrderIds": ["status:read"],
    "getResults": ["reports:read"],
    "getGroupReport": ["reports:read"],
    "pollReports": ["reports:read"],
    "acknowledgeReports": ["reports:read"],
}


# -- helpers --------------------------------------------------------------------------------
def load(name: str) -> dict[str, Any]:
    with open(SPECS[name], encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@pytest.fixture(scope="module", params=sorted(SPECS))
def api(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return request.param, load(request.param)


def operations(
    document: dict[str, Any],
) -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield method, path, item, item[method]


def deref(document: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = pointer(document, node["$ref"][1:])
    return node


def pointer(document: dict[str, Any], where: str) -> Any:
    node: Any = document
    for raw in where.strip("/").split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def all_parameters(document: dict[str, Any], item: dict[str, Any], operation: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    merged = {}
    for raw in list(item.get("parameters", [])) + list(operation.get("parameters", [])):
        param = deref(document, raw)
        merged[(param["name"], param["in"])] = param
    return merged


def validator_for(name: str, document: dict[str, Any], where: str) -> Draft202012Validator:
    """A validator for the schema at JSON pointer ``where``, its local refs resolving in the document."""
    uri = f"urn:medimock-test:{name}"
    registry: Registry = Registry().with_resource(uri, DRAFT202012.create_resource(document))
    return Draft202012Validator({"$ref": f"{uri}#{where}"}, registry=registry, format_checker=FormatChecker())


def schema_validator(name: str, document: dict[str, Any], schema_name: str) -> Draft202012Validator:
    return validator_for(name, document, f"/components/schemas/{schema_name}")


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def media_examples(document: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """(label, pointer of the schema, example value) of every example of a body or parameter."""

    def from_media(label: str, media_pointer: str, media: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
        if "schema" not in media:
            return
        if "example" in media:
            yield label, f"{media_pointer}/schema", media["example"]
        for key, example in (media.get("examples") or {}).items():
            example = deref(document, example)
            if "value" in example:
                yield (
                    f"{label} example {key}",
                    f"{media_pointer}/schema",
                    example["value"],
                )

    for method, path, item, operation in operations(document):
        base = f"/paths/{escape(path)}/{method}"
        body = operation.get("requestBody")
        if body is not None:
            body_pointer = body["$ref"][1:] if "$ref" in body else f"{base}/requestBody"
            for media_type, media in deref(document, body)["content"].items():
                yield from from_media(
                    f"{method} {path} body",
                    f"{body_pointer}/content/{escape(media_type)}",
                    media,
                )
        for status, response in operation["responses"].items():
            response_pointer = response["$ref"][1:] if "$ref" in response else f"{base}/responses/{status}"
            for media_type, media in (deref(document, response).get("content") or {}).items():
                yield from from_media(
                    f"{method} {path} {status}",
                    f"{response_pointer}/content/{escape(media_type)}",
                    media,
                )
        sources = [
            (f"/paths/{escape(path)}/parameters", item.get("parameters", [])),
            (f"{base}/parameters", operation.get("parameters", [])),
        ]
        for list_pointer, params in sources:
            for index, raw in enumerate(params):
                param_pointer = raw["$ref"][1:] if "$ref" in raw else f"{list_pointer}/{index}"
                param = deref(document, raw)
                if "example" in param:
                    yield (
                        f"{method} {path} param {param['name']}",
                        f"{param_pointer}/schema",
                        param["example"],
                    )


# -- generic conventions --------------------------------------------------------------------
def test_valid_openapi_31(api: tuple[str, dict[str, Any]]) -> None:
    name, document = api
    assert document["openapi"] == "3.1.0"
    validate(document)
    assert document["info"]["description"].strip()
    assert document["servers"], name


def test_refs_are_local_and_resolve(api: tuple[str, dict[str, Any]]) -> None:
    _, document = api
    found = list(refs(document))
    assert found
    for ref in found:
        assert ref.startswith("#/"), ref
        pointer(document, ref[1:])  # raises if broken


def test_operation_conventions(api: tuple[str, dict[str, Any]]) -> None:
    name, document = api
    schemes = document["components"]["securitySchemes"]
    tags = {tag["name"] for tag in document.get("tags", [])}
    seen: set[str] = set()
    for method, path, _, operation in operations(document):
        label = f"{name} {method.upper()} {path}"
        operation_id = operation.get("operationId")
        assert operation_id and CAMEL.match(operation_id), label
        assert operation_id not in seen, f"duplicate operationId {operation_id}"
        seen.add(operation_id)
        assert operation.get("summary"), label
        assert operation.get("description", "").strip(), label
        assert operation.get("tags") and set(operation["tags"]) <= tags, label
        assert operation.get("responses"), label
        assert any(status.startswith("2") for status in operation["responses"]), label
        assert "security" in operation, f"{label}: security must be explicit"
        for requirement in operation["security"]:
            for scheme, scopes in requirement.items():
                assert scheme in schemes, label
                if schemes[scheme]["type"] == "oauth2":
                    declared = schemes[scheme]["flows"]["clientCredentials"]["scopes"]
                    assert set(scopes) <= set(declared), label


def test_documented_operations_present(api: tuple[str, dict[str, Any]]) -> None:
    name, document = api
    actual = {(method, path): op["operationId"] for method, path, _, op in operations(document)}
    assert actual == OPERATIONS[name]


def test_documented_parameters_present(api: tuple[str, dict[str, Any]]) -> None:
    _, document = api
    for _, _, item, operation in operations(document):
        params = all_parameters(document, item, operation)
        expected = PARAMETERS[operation["operationId"]]
        actual = {key: bool(param.get("required")) for key, param in params.items()}
        assert actual == expected, operation["operationId"]
        for param in params.values():
            assert "schema" in param, param["name"]
            assert param.get("description"), param["name"]


def test_documented_status_codes_present(api: tuple[str, dict[str, Any]]) -> None:
    _, document = api
    for _, _, _, operation in operations(document):
        assert set(operation["responses"]) == STATUSES[operation["operationId"]], operation["operationId"]


def test_every_error_uses_the_api_error_dialect(
    api: tuple[str, dict[str, Any]],
) -> None:
    _, document = api
    for _, _, _, operation in operations(document):
        for status, raw in operation["responses"].items():
            if status.startswith("2"):
                continue
            response = deref(document, raw)
            content = response.get("content") or {}
            assert set(content) == {"application/json"}, (
                operation["operationId"],
                status,
            )
            assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}, (
                operation["operationId"],
                status,
            )


def test_examples_conform_to_their_schemas(api: tuple[str, dict[str, Any]]) -> None:
    name, document = api
    examples = list(media_examples(document))
    assert len(examples) > 10
    for label, where, value in examples:
        errors = [error.message for error in validator_for(name, document, where).iter_errors(value)]
        assert not errors, f"{label}: {errors}"


def test_request_bodies_have_examples(api: tuple[str, dict[str, Any]]) -> None:
    _, document = api
    for _, _, _, operation in operations(document):
        body = operation.get("requestBody")
        if body:
            for media in deref(document, body)["content"].values():
                assert media.get("examples") or "example" in media, operation["operationId"]
        success = [deref(document, r) for s, r in operation["responses"].items() if s.startswith("2")]
        for response in success:
            for media in response["content"].values():
                assert media.get("examples") or "example" in media, operation["operationId"]


# -- tscharts specifics ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def tscharts() -> dict[str, Any]:
    return load("tscharts")


def test_tscharts_servers_and_token_scheme(tscharts: dict[str, Any]) -> None:
    assert tscharts["servers"][0]["url"] == "http://127.0.0.1:8000"
    scheme = tscharts["components"]["securitySchemes"]["token"]
    assert scheme == {
        **scheme,
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
    }
    assert "Token <key>" in scheme["description"]
    unauthorized = tscharts["components"]["responses"]["Unauthorized"]
    assert "WWW-Authenticate" in unauthorized["headers"]


def test_tscharts_image_types_and_fields(tscharts: dict[str, Any]) -> None:
    schemas = tscharts["components"]["schemas"]
    assert schemas["ImageType"]["enum"] == ["Headshot", "Xray", "Surgery", "Audiogram"]
    assert schemas["BooleanString"]["enum"] == ["true", "false"]
    assert schemas["Id"]["type"] == "integer"
    image = schemas["Image"]
    assert set(image["required"]) == {
        "patient",
        "data",
        "clinic",
        "station",
        "type",
        "id",
    }
    assert image["properties"]["timestamp"]["format"] == "date-time"
    assert "timestamp" not in image["required"]
    create = schemas["ImageCreate"]
    assert set(create["required"]) == {"type", "clinic", "station", "patient", "data"}
    for field in ("patient", "clinic", "station"):
        assert create["properties"][field] == {"$ref": "#/components/schemas/Id"}
    assert schemas["Base64Data"]["contentEncoding"] == "base64"


def test_tscharts_type_is_case_sensitive(tscharts: dict[str, Any]) -> None:
    check = schema_validator("tscharts", tscharts, "ImageCreate")
    body = {
        "type": "Headshot",
        "clinic": 276,
        "station": 117,
        "patient": 343,
        "data": "ABCDEFG",
    }
    assert check.is_valid(body)
    for bad_type in ("headshot", "XRAY", "xray", "Audiograms", ""):
        assert not check.is_valid({**body, "type": bad_type}), bad_type
    for field in ("patient", "clinic", "station"):
        assert not check.is_valid({**body, field: "343"}), field
        missing = dict(body)
        del missing[field]
        assert not check.is_valid(missing), field


@pytest.mark.parametrize(
    "data",
    [
        "ABCDEFG",
        "AB",
        "ABC=",
        "AB==",
        "ABCD",
        base64.b64encode(bytes(range(256)) * 50).decode(),
    ],
)
def test_tscharts_base64_accepted(tscharts: dict[str, Any], data: str) -> None:
    assert schema_validator("tscharts", tscharts, "Base64Data").is_valid(data)


@pytest.mark.parametrize(
    "data",
    [
        "",
        "A",
        "ABCDE",
        "A===",
        "not base64!",
        "ab cd",
        "ABC\n=",
        "ABCD\n",
        "AB==\n",
        "-_-_",
        "AB=C",
        "data:image/png;base64,AAAA",
    ],
)
def test_tscharts_non_base64_rejected(tscharts: dict[str, Any], data: str) -> None:
    assert not schema_validator("tscharts", tscharts, "Base64Data").is_valid(data)


def test_tscharts_megabytes_of_real_image_data_accepted(
    tscharts: dict[str, Any],
) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * (3 * 1024 * 1024 // 256)
    data = base64.b64encode(png).decode()
    assert len(data) > 4_000_000
    assert schema_validator("tscharts", tscharts, "Base64Data").is_valid(data)


def test_tscharts_login_beyond_document(tscharts: dict[str, Any]) -> None:
    login = tscharts["paths"]["/tscharts/v1/login/"]["post"]
    assert login["x-medimock-beyond-document"] is True
    assert "beyond the image document" in login["description"].lower()
    assert login["security"] == []
    schemas = tscharts["components"]["schemas"]
    assert set(schemas["LoginRequest"]["required"]) == {"username", "password"}
    assert set(schemas["LoginResponse"]["required"]) == {"token", "id"}


def test_tscharts_newest_returns_an_image_and_list_returns_ids(
    tscharts: dict[str, Any],
) -> None:
    where = "/paths/~1tscharts~1v1~1image~1/get/responses/200/content/application~1json/schema"
    check = validator_for("tscharts", tscharts, where)
    assert check.is_valid([5, 6, 7])
    assert check.is_valid(
        {
            "patient": 343,
            "data": "ABCDEFG",
            "clinic": 276,
            "station": 117,
            "type": "Headshot",
            "id": 63,
        }
    )
    assert not check.is_valid(["5"])


def test_tscharts_error_dialect(tscharts: dict[str, Any]) -> None:
    check = schema_validator("tscharts", tscharts, "Error")
    assert check.is_valid({"detail": "Not found."})
    assert not check.is_valid({"error": "not_found"})


# -- radiology specifics --------------------------------------------------------------------
@pytest.fixture(scope="module")
def radiology() -> dict[str, Any]:
    return load("radiology")


def test_radiology_oauth2_scheme(radiology: dict[str, Any]) -> None:
    scheme = radiology["components"]["securitySchemes"]["oauth2"]
    assert scheme["type"] == "oauth2"
    flow = scheme["flows"]["clientCredentials"]
    assert flow["tokenUrl"].endswith("/oauth2/token")
    assert set(flow["scopes"]) == {"reports:read", "status:read"}
    assert radiology["components"]["securitySchemes"]["clientBasic"] == {
        **radiology["components"]["securitySchemes"]["clientBasic"],
        "type": "http",
        "scheme": "basic",
    }


def test_radiology_scopes_per_operation(radiology: dict[str, Any]) -> None:
    for _, _, _, operation in operations(radiology):
        operation_id = operation["operationId"]
        if operation_id in RADIOLOGY_SCOPES:
            assert operation["security"] == [{"oauth2": RADIOLOGY_SCOPES[operation_id]}], operation_id
    token = radiology["paths"]["/oauth2/token"]
    assert token["get"]["security"] == []
    assert {} in token["post"]["security"] and {"clientBasic": []} in token["post"]["security"]
    assert token["post"]["x-medimock-beyond-document"] is True
    assert "application/x-www-form-urlencoded" in token["post"]["requestBody"]["content"]


def test_radiology_one_of_params(radiology: dict[str, Any]) -> None:
    for path in ("/status", "/results"):
        operation = radiology["paths"][path]["get"]
        assert operation["x-medimock-one-of-params"] == [["order_id"], ["study_uid"]]
        assert "neither or both" in operation["description"]


def test_radiology_token_response(radiology: dict[str, Any]) -> None:
    check = schema_validator("radiology", radiology, "TokenResponse")
    token = {
        "access_token": "x" * 32,
        "token_type": "Bearer",
        "expires_in": 3600,
        "scope": "reports:read status:read",
    }
    assert check.is_valid(token)
    assert not check.is_valid({**token, "expires_in": 7200}), "tokens live one hour at most"
    assert check.is_valid({**token, "expires_in": 60}), "a shorter lifetime (--token-ttl) is allowed"
    assert not check.is_valid({**token, "token_type": "bearer-ish"})
    assert not check.is_valid({**token, "scope": "admin"})
    request = schema_validator("radiology", radiology, "TokenRequest")
    assert request.is_valid({"grant_type": "client_credentials", "client_id": "a", "client_secret": "b"})
    assert not request.is_valid({"client_id": "a", "client_secret": "b"})


def test_radiology_error_dialect(radiology: dict[str, Any]) -> None:
    codes = set(radiology["components"]["schemas"]["ErrorCode"]["enum"])
    rfc6749 = {
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
    }
    rfc6750 = {"invalid_request", "invalid_token", "insufficient_scope"}
    assert rfc6749 | rfc6750 | {"not_found"} <= codes
    check = schema_validator("radiology", radiology, "Error")
    assert check.is_valid({"error": "invalid_token", "error_description": "The access token expired"})
    assert not check.is_valid({"detail": "Not found."})
    unauthorized = radiology["components"]["responses"]["Unauthorized"]
    assert unauthorized["headers"]["WWW-Authenticate"]


def test_radiology_identifiers_and_enums(radiology: dict[str, Any]) -> None:
    schemas = radiology["components"]["schemas"]
    uid = schema_validator("radiology", radiology, "StudyUid")
    assert uid.is_valid("1.2.840.113619.2.55.3.604688119.969.1750680000.123")
    for bad in ("", "1..2", "1.2.", ".1", "1.2.a", "1" * 65):
        assert not uid.is_valid(bad), bad
    states = schemas["OrderState"]["enum"]
    forward = schemas["OrderState"]["x-medimock-forward-order"]
    assert forward == [state for state in states if state in forward]
    assert {"CANCELLED", "FAILED"} <= set(states)
    assert schemas["ReportType"]["enum"] == ["PRELIMINARY", "FINAL", "ADDENDUM"]
    report = schemas["Report"]
    assert {
        "orderId",
        "studyUid",
        "studyGroup",
        "reportType",
        "status",
        "reportText",
        "createdAt",
    } <= set(report["required"])
    ack = schema_validator("radiology", radiology, "AcknowledgeRequest")
    assert ack.is_valid({}) and ack.is_valid({"orderIds": ["ORD-1"]})
    assert not ack.is_valid({"orderIds": []}) and not ack.is_valid({"ids": ["ORD-1"]})
    assert radiology["paths"]["/reports"]["post"]["requestBody"]["required"] is False


def test_readmes_exist() -> None:
    for name, path in SPECS.items():
        readme = path.with_name("README.md")
        assert readme.is_file(), name
        assert readme.read_text(encoding="utf-8").strip()


# -- schemathesis ---------------------------------------------------------------------------
def generate(operation: Any, mode: schemathesis.GenerationMode, count: int = 3) -> list[schemathesis.Case]:
    """A few cases of one operation, drawn by hypothesis from schemathesis's strategy."""
    cases: list[schemathesis.Case] = []

    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(operation.as_strategy(generation_mode=mode))
    def collect(case: schemathesis.Case) -> None:
        cases.append(case)

    collect()
    return cases


@pytest.mark.parametrize("mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE])
@pytest.mark.parametrize("name", sorted(SPECS))
def test_schemathesis_generates_cases_for_every_operation(name: str, mode: schemathesis.GenerationMode) -> None:
    schema = schemathesis.openapi.from_path(SPECS[name])
    operation_ids = set()
    for result in schema.get_all_operations():
        operation = result.ok()
        operation_ids.add(operation.definition.raw["operationId"])
        cases = generate(operation, mode)
        assert cases, operation.label
        for case in cases:
            assert case.method.lower() in METHODS
            assert case.operation.path == operation.path
    assert operation_ids == set(OPERATIONS[name].values())


def test_schemathesis_positive_cases_conform() -> None:
    """Positive tscharts create bodies carry a known image type and decodable base64 data."""
    schema = schemathesis.openapi.from_path(SPECS["tscharts"])
    create = next(r.ok() for r in schema.get_all_operations() if r.ok().definition.raw["operationId"] == "createImage")
    for case in generate(create, schemathesis.GenerationMode.POSITIVE, count=30):
        assert case.body["type"] in ("Headshot", "Xray", "Surgery", "Audiogram")
        data = case.body["data"]
        base64.b64decode(data + "=" * (-len(data) % 4), validate=True)
