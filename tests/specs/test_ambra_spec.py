"""The Ambra v3 spec (specs/ambra/openapi.yaml) against the vendor document.

The completeness checks use their own, deliberately simple scan of the document
(line regexes over the URL / Parameters / Errors / Permission lines), not the parser
of specs/ambra/derive.py, so that a parser bug shows up as a missing command,
parameter or error type here.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "specs" / "sources" / "ambra-v3-services-api.txt"
SPEC = ROOT / "specs" / "ambra" / "openapi.yaml"
DERIVE = ROOT / "specs" / "ambra" / "derive.py"

# What a careful count of the document finds (the derivation prints the same numbers).
EXPECTED_COUNTS = {
    "commands": 462,
    "groups": 49,  # first URL segments: radreportmacro sits in the "Rad report commands" section
    "document_sections": 48,
    "parameter_lines": 2592,  # every parameter entry, filter.*/page.*/sort_by lines included
    "error_lines": 1839,  # every error entry, the [404] lines and the two printed under Notes included
    "permission_lines": 334,  # commands with a Permission line
    "permissions_with_text": 325,  # ... of which that line names a permission
}
FLOORS = {"parameter_lines": 2400, "error_lines": 1800, "permission_lines": 320}


# --------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def derive() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ambra_derive", DERIVE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["ambra_derive"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generated(derive) -> str:
    text, _ = derive.generate()
    return text


@pytest.fixture(scope="module")
def spec_text() -> str:
    return SPEC.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def spec(spec_text: str) -> dict:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(spec_text, Loader=loader)


@pytest.fixture(scope="module")
def scan() -> dict[str, dict]:
    return scan_document(DOCUMENT)


# --------------------------------------------------------------------------
# The independent scan of the document
# --------------------------------------------------------------------------

SECTION = re.compile(r"^\s*(Description|URL|Parameters|Returns|Permission|Errors|Notes)\b(?!s)\s*(.*)$")
ERROR_HEAD = re.compile(r"^([A-Z][A-Z0-9_]{2,})(?: \(([A-Z0-9_]+)\)|, subtype ([A-Z0-9_]+).*)?$")
TRAILING_ERROR_HEAD = re.compile(r"\s([A-Z][A-Z0-9_]{2,})(?: \(([A-Z0-9_]+)\))?$")


def scan_document(path: Path) -> dict[str, dict]:
    """{url: {params, patterns, alternatives, errors, subtypes, http, permission, counts}}."""
    commands: dict[str, dict] = {}
    current = None
    section = None
    for raw in path.read_text(encoding="utf-8").split("\n"):
        match = SECTION.match(raw)
        if match and match.group(1) == "URL" and match.group(2).startswith("/"):
            current = commands.setdefault(
                match.group(2).strip(),
                {
                    "params": set(),
                    "patterns": set(),
                    "alternatives": [],
                    "errors": set(),
                    "subtypes": set(),
                    "http": set(),
                    "permission": None,
                    "param_lines": 0,
                    "error_lines": 0,
                    "notes_errors": [],
                },
            )
            section = "URL"
            continue
        if current is None:
            continue
        text = raw.strip()
        if match:
            section = match.group(1)
            text = match.group(2).strip()
            if section == "Permission":
                current["permission"] = text
            if section == "Description":
                current = None
                continue
        if not text or text in ("top", "• top"):
            continue
        if section == "Parameters" and not text.startswith(("•", "*", "--")):
            _scan_parameter_line(current, text)
        elif section == "Parameters" and text.startswith("* • "):
            current["patterns"].add("*")
            current["param_lines"] += 1
        elif section == "Errors":
            _scan_error_line(current, text)
        elif section == "Notes" and ERROR_HEAD.match(text.split(" • ")[0]) and " • " in text:
            current["notes_errors"].append(text)
    for command in commands.values():
        if not command["errors"] and command["notes_errors"]:  # /session/permissions
            for text in command["notes_errors"]:
                _scan_error_line(command, text)
    return commands


def _scan_parameter_line(command: dict, text: str) -> None:
    for pattern in ("filter.*", "page.*", "expand.*", "sort_by"):
        if text.startswith(pattern) and (" • " not in text or text.index(" • ") > len(pattern) + 12):
            command["patterns"].add(pattern)
            command["param_lines"] += 1
            return
    alternative = re.match(r"^\((.*?)\) • ", text)
    if alternative:
        sets = [[m.strip() for m in branch.split("&&")] for branch in re.split(r"\|\||\bor\b", alternative.group(1))]
        command["alternatives"].append(sets)
        command["param_lines"] += 1
        return
    if " • " not in text:  # the bullet was lost: "share_settingsShare settings ..."
        name = re.match(r"^([a-z][a-z0-9_]*?)[A-Z]", text)
        assert name, f"unreadable parameter line {text!r}"
        command["params"].add(name.group(1))
        command["param_lines"] += 1
        return
    for found in re.finditer(r"(?:^|\s)(\S+) • ", text):
        name = found.group(1)
        if re.fullmatch(r"[a-z][a-z0-9_.]*", name):
            command["params"].add(name)
        else:
            command["patterns"].add(name)
        command["param_lines"] += 1


def _scan_error_line(command: dict, text: str) -> None:
    pieces = text.split(" • ")
    for index, piece in enumerate(pieces[:-1]):
        head = piece if index == 0 else None
        if head is None:
            trailing = TRAILING_ERROR_HEAD.search(piece)
            if not trailing:
                continue
            head = trailing.group(0).strip()
        if re.fullmatch(r"\[\d{3}\]", head):
            command["http"].add(head.strip("[]"))
            command["error_lines"] += 1
            continue
        match = ERROR_HEAD.match(head)
        assert match, f"unreadable error line {text!r}"
        command["errors"].add(match.group(1))
        if match.group(2) or match.group(3):
            command["subtypes"].add((match.group(1), match.group(2) or match.group(3)))
        command["error_lines"] += 1


# --------------------------------------------------------------------------
# Helpers over the spec
# --------------------------------------------------------------------------


def resolve(spec: dict, node: dict) -> dict:
    while isinstance(node, dict) and "$ref" in node:
        target = spec
        for part in node["$ref"][2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def body_schema(spec: dict, url: str) -> dict:
    return spec["paths"][url]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]


def accepts_name(schema: dict, patterns: dict, name: str) -> bool:
    if name in schema.get("properties", {}):
        return True
    return any(re.search(p, name) for p in patterns)


TEMPLATE_EXAMPLES = {
    "customfield-{CUSTOMFIELD_UUID}": "customfield-d3a6b1f8-a3af-4400-9b96-c5f1578d375d",
    "customfield-{CUSTOMFIELD_UUID|DICOM_TAG}": "customfield-(0010,0010)",
    "customfield-'{CUSTOMFIELD_NAME}'": "customfield-'Referring site'",
    "setting_{SETTING_NAME}": "setting_ui_json",
    "permission_{PERMISSION_NAME}": "permission_study_view",
    "anonymize_{STUDY_FIELD}": "anonymize_patient_name",
}


# --------------------------------------------------------------------------
# The derivation
# --------------------------------------------------------------------------


def test_committed_spec_is_what_the_derivation_generates(generated, spec_text):
    assert generated == spec_text, "specs/ambra/openapi.yaml is stale: run `python specs/ambra/derive.py`"


def test_check_mode_reports_a_stale_spec(derive, generated, tmp_path, monkeypatch, capsys):
    document = derive.parse_document()
    monkeypatch.setattr(derive, "generate", lambda: (generated, document))
    assert derive.main(["--check"]) == 0
    stale = tmp_path / "openapi.yaml"
    stale.write_text("openapi: 3.1.0\n", encoding="utf-8")
    monkeypatch.setattr(derive, "OUTPUT", stale)
    assert derive.main(["--check"]) == 1
    assert "stale" in capsys.readouterr().err


def test_derivation_counts_are_exact_and_above_the_floors(derive):
    counts = derive.parse_document().counts
    for key, expected in EXPECTED_COUNTS.items():
        assert counts[key] == expected, key
    for key, floor in FLOORS.items():
        assert counts[key] >= floor, key


def test_independent_scan_finds_the_same_counts(scan):
    assert len(scan) == EXPECTED_COUNTS["commands"]
    assert sum(c["param_lines"] for c in scan.values()) == EXPECTED_COUNTS["parameter_lines"]
    assert sum(c["error_lines"] for c in scan.values()) == EXPECTED_COUNTS["error_lines"]
    assert sum(1 for c in scan.values() if c["permission"] is not None) == EXPECTED_COUNTS["permission_lines"]
    assert sum(1 for c in scan.values() if c["permission"]) == EXPECTED_COUNTS["permissions_with_text"]


def test_a_correction_without_why_is_refused(derive):
    with pytest.raises(derive.DerivationError, match="no why"):
        derive._require_why({"commands": {"/study/list": {"optional": ["extra"]}}}, "test")


def test_a_correction_naming_an_unknown_parameter_is_refused(derive):
    corrections = derive.Corrections.load()
    corrections.data["commands"] = {"/study/list": {"why": "test", "optional": ["no_such_parameter"]}}
    with pytest.raises(derive.DerivationError, match="no parameter"):
        derive.SpecBuilder(derive.parse_document(), corrections)


# --------------------------------------------------------------------------
# Validity
# --------------------------------------------------------------------------


def test_spec_validates_as_openapi_3_1(spec):
    from openapi_spec_validator import OpenAPIV31SpecValidator

    assert spec["openapi"].startswith("3.1")
    errors = [e.message for e in OpenAPIV31SpecValidator(spec).iter_errors()]
    assert not errors, errors[:5]


def test_every_ref_is_local_and_resolves(spec):
    refs: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    refs.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)
    assert refs
    for ref in set(refs):
        assert ref.startswith("#/components/"), ref
        resolve(spec, {"$ref": ref})


def test_operation_ids_are_unique_identifiers(spec):
    ids = [op["operationId"] for item in spec["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", i) for i in ids)


# --------------------------------------------------------------------------
# Completeness against the document
# --------------------------------------------------------------------------


def test_every_command_is_a_path_with_post_and_get(spec, scan):
    for url in scan:
        item = spec["paths"].get(url)
        assert item is not None, f"{url} missing"
        op_id = url.strip("/").replace("/", "_")
        assert item["post"]["operationId"] == op_id
        assert item["get"]["operationId"] in (f"{op_id}_get", f"{op_id}__get")
        group, _, command = url.strip("/").partition("/")
        for op in item.values():
            assert op["tags"] == [group]
            assert op["x-ambra"]["group"] == group and op["x-ambra"]["command"] == command
            assert op["x-medimock"]["action"] in ("add", "get", "set", "delete", "list", "count", "custom")
        assert "application/x-www-form-urlencoded" in item["post"]["requestBody"]["content"]
    extra = set(spec["paths"]) - set(scan)
    assert extra == {"/bundle", "/account/add", "/account/delete"}
    for url in extra - {"/bundle"}:  # beyond the public document: marked, so no suite requires them of a target
        assert all(op["x-medimock-undocumented"] is True for op in spec["paths"][url].values()), url


def test_every_documented_parameter_is_in_both_operations(spec, scan):
    for url, documented in scan.items():
        post = spec["paths"][url]["post"]
        get = spec["paths"][url]["get"]
        schema = body_schema(spec, url)
        patterns = schema.get("patternProperties", {})
        query = {resolve(spec, p)["name"] for p in get.get("parameters", [])}
        query_patterns = get.get("x-ambra-query-patterns", {})
        moved = set(post["x-ambra"].get("returns_printed_under_parameters", []))
        names = set(documented["params"]) | {m for sets in documented["alternatives"] for s in sets for m in s}
        for name in names:
            if name in moved:
                reply = resolve(spec, post["responses"]["200"])
                assert "/get" in url and reply, name
                continue
            assert accepts_name(schema, patterns, name), f"{url}: {name} missing from the POST body"
            assert name in query or any(re.search(p, name) for p in query_patterns), f"{url}: {name} not in GET"
        for pattern in documented["patterns"]:
            if pattern == "filter.*":
                assert accepts_name(schema, patterns, "filter.study_uid.equals"), url
                assert any(re.search(p, "filter.modality.in") for p in query_patterns), url
            elif pattern == "page.*":
                assert {"page.rows", "page.number"} <= set(schema["properties"]) and "page.rows" in query, url
            elif pattern == "sort_by":
                assert "sort_by" in schema["properties"] and "sort_by" in query, url
            elif pattern == "expand.*":
                assert accepts_name(schema, patterns, "expand.user_id"), url
            elif pattern in TEMPLATE_EXAMPLES:
                assert accepts_name(schema, patterns, TEMPLATE_EXAMPLES[pattern]), f"{url}: {pattern}"
            else:  # additional_parameters**, rest_params**, ai_settings**, "* • Any other parameters"
                assert post["x-ambra-passthrough"], f"{url}: {pattern}"


def test_required_alternatives_are_expressed_for_clients_and_validators(spec, scan):
    for url, documented in scan.items():
        if not documented["alternatives"]:
            continue
        post = spec["paths"][url]["post"]
        get = spec["paths"][url]["get"]
        groups = post.get("x-ambra-alternatives", [])
        optional = post.get("x-ambra-optional-alternatives", [])
        assert get.get("x-ambra-alternatives", []) == groups
        documented_members = {m for sets in documented["alternatives"] for s in sets for m in s}
        assert documented_members <= {m for g in groups + optional for s in g for m in s}, url
        schema = body_schema(spec, url)
        any_ofs = [schema["anyOf"]] if "anyOf" in schema else [a["anyOf"] for a in schema.get("allOf", [])]
        assert [[s["required"] for s in a] for a in any_ofs] == groups, url
        members = {m for g in groups for s in g for m in s}
        assert not members & set(schema.get("required", [])), url


def test_every_documented_error_type_is_in_the_412_enum(spec, scan):
    for url, documented in scan.items():
        post = spec["paths"][url]["post"]
        response = resolve(spec, post["responses"]["412"])
        schema = response["content"]["application/json"]["schema"]
        assert schema["allOf"][0] == {"$ref": "#/components/schemas/AmbraError"}
        enum = schema["allOf"][1]["properties"]["error_type"]["enum"]
        missing = documented["errors"] - {e for e in enum if isinstance(e, str)}
        assert not missing, f"{url}: {missing}"
        subtypes = response.get("x-ambra-error-subtypes", {})
        for error_type, subtype in documented["subtypes"]:
            assert subtype in subtypes.get(error_type, []), f"{url}: {error_type} ({subtype})"
        for status in documented["http"]:
            assert status in post["responses"], f"{url}: HTTP {status}"


def test_generic_errors_follow_the_command_shape(spec):
    for url, item in spec["paths"].items():
        if url == "/bundle":
            continue
        post = item["post"]
        schema = body_schema(spec, url)
        enum = resolve(spec, post["responses"]["412"])["content"]["application/json"]["schema"]["allOf"][1]
        enum = {e for e in enum["properties"]["error_type"]["enum"] if isinstance(e, str)}
        if "sort_by" in schema["properties"]:
            assert {"INVALID_SORT_FIELD", "INVALID_SORT_ORDER"} <= enum, url
        if "page.rows" in schema["properties"]:
            assert "INVALID_INTEGER" in enum, url
        if schema.get("required") or "anyOf" in schema or "allOf" in schema:
            assert "MISSING_FIELDS" in enum, url
        if post["x-ambra"]["permission"]:
            assert "NOT_PERMITTED" in enum, url


def test_permission_and_notes_are_carried(spec, scan):
    for url, documented in scan.items():
        for op in spec["paths"][url].values():
            ambra = op["x-ambra"]
            if documented["permission"]:
                assert ambra["permission"].startswith(documented["permission"]), url
            else:
                assert ambra["permission"] is None, url
            assert isinstance(ambra["notes"], list) and isinstance(ambra["returns"], list)


def test_security_and_401(spec):
    schemes = spec["components"]["securitySchemes"]
    assert schemes["sid"] == {**schemes["sid"], "type": "apiKey", "in": "query", "name": "sid"}
    assert schemes["bearer"]["scheme"] == "bearer" and schemes["basic"]["scheme"] == "basic"
    login = spec["paths"]["/session/login"]["post"]
    assert login["security"] == [] and "401" not in login["responses"]
    study_list = spec["paths"]["/study/list"]["post"]
    assert study_list["security"] == [{"sid": []}, {"bearer": []}, {"basic": []}]
    assert study_list["responses"]["401"] == {"$ref": "#/components/responses/Unauthorized"}
    for url, item in spec["paths"].items():
        for op in item.values():
            if any(name in ("sid", "bearer", "basic") for requirement in op.get("security") or () for name in requirement):
                assert op["responses"].get("401") or "405" in op["responses"], url
            elif op.get("security"):  # a node's basic auth only: no session, so no 401
                assert op["security"] == [{"nodeBasic": []}, {}] and "401" not in op["responses"], url


def test_five_node_commands_take_the_uuid_and_serial_no_as_basic_auth(spec):
    """Their Notes: "The uuid and serial_no can also be passed using basic auth as the username/password combination"."""
    scheme = spec["components"]["securitySchemes"]["nodeBasic"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "basic") and "serial_no" in scheme["description"]
    found = {url for url, item in spec["paths"].items() if any("x-ambra-basic-credentials" in op for op in item.values())}
    assert found == {"/node/ping", "/node/deliver", "/node/retrieve", "/node/webhook", "/node/configuration"}
    for url in found:
        post, get = spec["paths"][url]["post"], spec["paths"][url]["get"]
        assert post["x-ambra-basic-credentials"] == get["x-ambra-basic-credentials"]
        assert {k: v for k, v in post["x-ambra-basic-credentials"].items() if k != "x-medimock-cite"} == {
            "scheme": "nodeBasic", "username": "uuid", "password": "serial_no"
        }  # fmt: skip
        assert post["security"] == get["security"] == [{"nodeBasic": []}, {}], url
        body = post["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
        assert {"uuid", "serial_no"} <= set(body["properties"]) and not {"uuid", "serial_no"} & set(body.get("required", [])), url
        assert not any(p.get("required") for p in get["parameters"] if p.get("name") in ("uuid", "serial_no")), url
    for url in ("/node/ping", "/node/configuration"):  # a node may send no parameters at all
        assert spec["paths"][url]["post"]["requestBody"]["required"] is False, url
    ack = spec["paths"]["/node/ping/ack"]["post"]  # its Notes say nothing of basic auth
    assert ack["security"] == [] and ack["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]["required"] == [
        "uuid",
        "serial_no",
    ]


def test_post_only_commands_answer_get_with_405(spec):
    for url in ("/session/login", "/session/oauth/token", "/user/join", "/user/add", "/user/set"):
        get = spec["paths"][url]["get"]
        assert get["x-ambra-post-only"] is True
        assert set(get["responses"]) == {"405"}


# --------------------------------------------------------------------------
# Samples read against the document
# --------------------------------------------------------------------------


def test_session_login_sample(spec):
    schema = body_schema(spec, "/session/login")
    assert spec["paths"]["/session/login"]["post"]["x-ambra-alternatives"] == [
        [["login"], ["email"], ["account_name", "account_login"]],
        [["password"], ["use_pkey"]],
    ]
    assert schema["properties"]["use_pkey"]["enum"] == [0, 1]
    reply = resolve(spec, spec["paths"]["/session/login"]["post"]["responses"]["200"])
    assert reply["content"]["application/json"]["schema"]["allOf"][1] == {"$ref": "#/components/schemas/Session"}
    session = spec["components"]["schemas"]["Session"]["properties"]
    assert {"sid", "uuid", "pin_required", "sign_required", "is_proxy"} <= set(session)


def test_study_list_sample(spec):
    schema = body_schema(spec, "/study/list")
    assert schema["properties"]["page.rows"]["$ref"] == "#/components/schemas/PageRows"
    rows = spec["components"]["schemas"]["PageRows"]
    assert (rows["minimum"], rows["maximum"], rows["default"]) == (1, 5000, 100)
    assert schema["properties"]["fields"]["contentMediaType"] == "application/json"
    reply = resolve(spec, spec["paths"]["/study/list"]["post"]["responses"]["200"])
    props = reply["content"]["application/json"]["schema"]["properties"]
    assert props["page"]["$ref"] == "#/components/schemas/PageHash"
    assert props["studies"]["items"] == {"$ref": "#/components/schemas/Study"}
    assert spec["paths"]["/study/list"]["get"]["x-medimock"] == {"resource": "study", "action": "list", "collection": "studies"}
    study = spec["components"]["schemas"]["Study"]["properties"]
    for field in (
        "study_uid",
        "accession_number",
        "patient_name",
        "patientid",
        "patient_sex",
        "patient_birth_date",
        "modality",
        "study_date",
        "study_time",
        "study_description",
        "image_count",
        "phi_namespace",
        "storage_namespace",
    ):
        assert field in study, field
    assert study["patient_name"]["x-dicom-tag"] == "(0010,0010)"


def test_node_add_sample_enums_and_alternatives(spec):
    schema = body_schema(spec, "/node/add")
    assert schema["properties"]["type"]["enum"] == ["STORAGE", "HARVESTER", "ACCELERATOR", "CLEARINGHOUSE", "VIRTUAL", "UTILITY", "XDS"]
    assert schema["anyOf"] == [{"required": ["account_id"]}, {"required": ["location_id"]}, {"required": ["group_id"]}]
    assert schema["properties"]["is_public"] == {**schema["properties"]["is_public"], "type": "integer", "enum": [0, 1]}


def test_role_sample_permission_flags(spec):
    role = spec["components"]["schemas"]["Role"]["properties"]
    assert role["permissions"]["$ref"] == "#/components/schemas/RolePermissions"
    flags = spec["components"]["schemas"]["RolePermissions"]["properties"]
    assert flags["study_view"]["x-ambra-defaults"] == {"admin": 1, "user": 1, "phr": 1, "anonymous": 1}
    assert flags["study_share_email"]["x-ambra-parent"] == "study_share"
    assert flags["study_field_patient_name"]["enum"] == ["F", "H", "O", "R"]
    assert len(flags) > 200
    role_add = body_schema(spec, "/role/add")
    assert role_add["required"] == ["name", "account_id"]


def test_timer_rule_and_setting_samples(spec):
    timer = body_schema(spec, "/timer_rule/add")
    assert timer["properties"]["action"]["enum"] == ["reset", "reset_and_stop", "reset_and_resume", "resume", "stop", "do_nothing"]
    assert timer["properties"]["old_values"]["contentSchema"] == {"type": "object"}
    assert timer["properties"]["sequence"]["type"] == "integer"
    setting = body_schema(spec, "/setting/set")
    assert setting["required"] == ["key", "value"]
    assert spec["paths"]["/setting/set"]["post"]["x-ambra"]["permission"] == "user_setting_set if role_id is provided"


def test_bundle_sample(spec):
    bundle = spec["paths"]["/bundle"]["post"]
    assert bundle["requestBody"]["content"]["application/json"]["schema"]["items"]["required"] == ["URL"]
    assert bundle["parameters"][0]["name"] == "inherit_sid"


def test_a_validator_understands_the_alternatives(spec):
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    registry = Registry().with_resource("urn:ambra", Resource(contents=spec, specification=DRAFT202012))
    pointer = "/paths/~1study~1add/post/requestBody/content/application~1x-www-form-urlencoded/schema"
    validator = Draft202012Validator({"$ref": f"urn:ambra#{pointer}"}, registry=registry)
    assert validator.is_valid({"sid": "abc"})
    assert validator.is_valid({"uuid": "n1", "serial_no": "s1", "thin": 1})
    assert not validator.is_valid({"uuid": "n1"})  # node id without its serial number
    assert not validator.is_valid({"sid": "abc", "thin": 2})  # a flag is 0 or 1


# --------------------------------------------------------------------------
# schemathesis
# --------------------------------------------------------------------------


def test_schemathesis_loads_the_spec_and_generates_a_case_for_every_operation():
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    schema = schemathesis.openapi.from_path(str(SPEC))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 2 * EXPECTED_COUNTS["commands"] + 1 + 4  # /bundle, /account/add and /account/delete
    drawn: dict[str, object] = {}

    def draw_one(operation) -> None:
        @settings(max_examples=1, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
        @given(operation.as_strategy())
        def draw(case):
            drawn[operation.label] = case

        draw()

    for operation in operations:  # one derandomized example each: ~5 s for all 925
        draw_one(operation)
    assert len(drawn) == len(operations)
    assert drawn["GET /study/list"].method == "GET"
    assert drawn["POST /session/login"].media_type == "application/x-www-form-urlencoded"
