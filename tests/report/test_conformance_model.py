"""The conformance report's aggregation and rendering, on a tiny hand-written spec."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import requests

from medimock.conformance import Failure, Recorder, render_html, render_json, render_markdown, summary_lines
from medimock.conformance.curl import curl_for, curl_with_variables, forget_secrets, redact_command, register_secret
from medimock.conformance.model import FAILED, INCONCLUSIVE, NOT_EXERCISED, PASSED, STANDARD_CHECKS
from medimock.conformance.plugin import report_stem
from medimock.conformance.render import GROUP_ABOVE, MARKDOWN_FULL_ROWS
from medimock.conformance.specs import SpecIndex, sent_parameters

BASE = "http://127.0.0.1:8999/tiny"
OK = {"description": "ok"}


def tiny_document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "tiny", "version": "1"},
        "paths": {
            "/items/": {
                "get": {
                    "operationId": "listItems",
                    "parameters": [
                        {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                        {"name": "X-Trace", "in": "header", "schema": {"type": "string"}},
                    ],
                    "responses": {"200": OK, "400": OK, "4XX": OK},
                },
                "post": {
                    "operationId": "createItem",
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {"type": "object", "properties": {"name": {"type": "string"}, "size": {"type": "integer"}}}
                            }
                        }
                    },
                    "responses": {"201": OK, "default": OK},
                },
            },
            "/items/{id}/": {
                "get": {
                    "operationId": "getItem",
                    "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                    "responses": {"200": OK, "404": OK},
                }
            },
            "/items/new/": {"get": {"operationId": "newItemForm", "responses": {"200": OK}}},
            "/forms/": {
                "post": {
                    "operationId": "submitForm",
                    "requestBody": {
                        "content": {
                            "application/x-www-form-urlencoded": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"sid": {"type": "string"}},
                                    "patternProperties": {r"^filter\.[a-z]+$": {"type": "string"}},
                                }
                            }
                        }
                    },
                    "responses": {"200": OK},
                }
            },
        },
    }


@pytest.fixture(scope="module")
def index() -> SpecIndex:
    return SpecIndex.from_document("tiny", tiny_document())


@pytest.fixture
def recorder(index) -> Recorder:
    recorder = Recorder(index_of=lambda api: index if api == "tiny" else None)
    recorder.set_bases({"tiny": BASE})
    return recorder


def sent(method: str, path: str, **kwargs) -> requests.PreparedRequest:
    return requests.Request(method, BASE + path, **kwargs).prepare()


def row(report, operation_id):
    (api,) = report.apis
    return next(r for r in api.rows if r.info.operation_id == operation_id)


# -- matching requests to operations ------------------------------------------------------------


def test_requests_are_matched_to_operations_like_the_mock_routes_them(recorder):
    assert recorder.locate("GET", BASE + "/items/?limit=3").operation_id == "listItems"
    assert recorder.locate("get", BASE + "/items/17/").operation_id == "getItem"
    assert recorder.locate("GET", BASE + "/items/new/").operation_id == "newItemForm", "a literal segment wins over {id}"
    assert recorder.locate("DELETE", BASE + "/items/17/") is None, "a method the path does not have is no operation"
    assert recorder.locate("GET", "http://127.0.0.1:8999/items/") is None, "outside the API's base path"
    assert recorder.locate("GET", "http://other.example/tiny/items/") is None, "another host"
    assert recorder.locate("GET", "HTTP://127.0.0.1:8999/tiny/items/").operation_id == "listItems", "scheme and host are case-insensitive"


def test_parameters_sent_are_read_from_the_wire_request():
    form = sent("POST", "/forms/", data={"sid": "s", "filter.name": "x"})
    assert sent_parameters(form.url, form.headers, form.body) >= {("body", "sid"), ("body", "filter.name")}
    query = sent("GET", "/items/", params={"limit": 3}, headers={"X-Trace": "t", "Cookie": "a=1; b=2"})
    assert sent_parameters(query.url, query.headers, query.body) >= {
        ("query", "limit"),
        ("header", "x-trace"),
        ("cookie", "a"),
        ("cookie", "b"),
    }
    multipart = sent("POST", "/forms/", files={"report": ("r.pdf", b"%PDF")}, data={"note": "n"})
    assert {("body", "report"), ("body", "note")} <= sent_parameters(multipart.url, multipart.headers, multipart.body)
    body = sent("POST", "/items/", json={"name": "n"})
    assert ("body", "name") in sent_parameters(body.url, body.headers, body.body)


# -- cells ------------------------------------------------------------------------------------


def test_a_failing_check_is_failed_with_its_curl_command(recorder):
    request = sent("POST", "/items/", json={"name": "x"}, headers={"Authorization": "Token s3cr3t-value"})
    recorder.begin_test("contracts/tiny/test_schema.py::test_operation_honours_contract", "tiny", is_property=True)
    recorder.property_exchange("tiny", "POST", "/items/", request, 201)
    for _ in range(3):
        recorder.check_result("tiny", "POST", "/items/", "status_code_conformance", None)
    failure = Failure("Response violates schema", "'id' is a required property", curl_for(request), status=201)
    recorder.check_result("tiny", "POST", "/items/", "response_schema_conformance", failure)
    recorder.check_result("tiny", "POST", "/items/", "response_schema_conformance", None)
    recorder.end_test(PASSED)
    report = recorder.report(["tiny"], {"date": "2024-06-07 10:00:00 UTC"})

    create = row(report, "createItem")
    assert create.cell("response_schema_conformance").state == FAILED
    assert (create.cell("response_schema_conformance").failed, create.cell("response_schema_conformance").passed) == (1, 1)
    assert create.cell("status_code_conformance").state == PASSED
    assert create.cell("ignored_auth").state == NOT_EXERCISED
    assert create.workflow.state == NOT_EXERCISED, "a property test is not a workflow"
    assert failure.test == "contracts/tiny/test_schema.py::test_operation_honours_contract", "the failure names its test"
    assert report.apis[0].failed_checks == 1 and not report.apis[0].ok

    page = render_html(report)
    assert '<td class="bad"' in page and "\u2717 1/2" in page and 'href="#f1"' in page and 'id="f1"' in page
    assert "curl -X POST" in page and "/tiny/items/" in page and "Response violates schema" in page
    assert "s3cr3t-value" not in page, "credentials never reach the report"
    markdown = render_markdown(report)
    assert "\u2717 1/2 [F1](#f1)" in markdown
    assert "```sh\ncurl -X POST" in markdown and "Token [Filtered]" in markdown
    assert "s3cr3t-value" not in markdown
    data = json.loads(render_json(report))
    cell = data["apis"][0]["operations"][1]["checks"]["response_schema_conformance"]
    assert cell["state"] == "failed" and cell["failures"][0]["curl"].startswith("curl -X POST")


def test_an_operation_never_called_is_not_exercised(recorder):
    recorder.begin_test("contracts/tiny/test_workflows.py::test_list", "tiny")
    recorder.set_phase("call")
    recorder.exchange(sent("GET", "/items/"), 200)
    recorder.end_test(PASSED)
    report = recorder.report(["tiny"])
    get_item = row(report, "getItem")
    assert not get_item.exercised
    assert all(get_item.cell(check).state == NOT_EXERCISED for check in STANDARD_CHECKS)
    assert get_item.workflow.state == NOT_EXERCISED
    assert row(report, "listItems").workflow.state == PASSED
    page = render_html(report)
    get_row = next(line for line in page.split("<tr") if "getItem" in line)
    assert 'class="op"' in get_row and "used" not in get_row and "\u2713" not in get_row
    listed = next(line for line in render_markdown(report).splitlines() if "| getItem |" in line)
    assert listed.count("\u2013") == len(STANDARD_CHECKS) + 1, listed  # every check and the workflows column


def test_coverage_of_operations_statuses_and_parameters(recorder):
    recorder.begin_test("contracts/tiny/test_workflows.py::test_all", "tiny")
    recorder.set_phase("call")
    recorder.exchange(sent("GET", "/items/", params={"limit": 5}), 200)
    recorder.exchange(sent("GET", "/items/", headers={"X-Trace": "t"}), 404)  # -> 4XX
    recorder.exchange(sent("GET", "/items/"), 500)  # undocumented: no 5XX, no default
    recorder.exchange(sent("POST", "/items/", json={"name": "n", "colour": "red"}), 201)
    recorder.exchange(sent("POST", "/items/", json={}), 503)  # -> default
    recorder.exchange(sent("POST", "/forms/", data={"filter.name": "x"}), 200)  # the pattern, not sid
    recorder.exchange(sent("PUT", "/items/"), 405)  # not an operation: counts nowhere
    for method, path in (("GET", "/items/"), ("POST", "/items/"), ("POST", "/forms/")):
        recorder.checked("tiny", method, path)  # a check looked at a response of each
    recorder.exchange(sent("GET", "/items/5/"), 200)  # sent, never checked: not covered
    recorder.end_test(PASSED)
    report = recorder.report(["tiny"])
    cov = report.apis[0].coverage

    # listItems, createItem, submitForm of 5 operations: covered only where responses were checked (not getItem)
    assert (cov.operations.done, cov.operations.total) == (3, 5)
    assert row(report, "getItem").exercised and not row(report, "getItem").covered
    assert (row(report, "listItems").checked, row(report, "listItems").sent) == (1, 3)
    # listItems 200+4XX of 3, createItem 201+default of 2, getItem 200 of 2, newItemForm 0/1, submitForm 1/1
    assert (cov.statuses.done, cov.statuses.total) == (6, 9)
    # listItems limit+X-Trace of 2, createItem name of 2 (colour is undocumented), getItem id of 1, submitForm pattern of 2
    assert (cov.parameters.done, cov.parameters.total) == (5, 7)
    assert str(cov.operations) == "3/5 (60%)" and str(cov.statuses) == "6/9 (67%)" and str(cov.parameters) == "5/7 (71%)"
    assert row(report, "listItems").undocumented_statuses == [500]
    assert report.coverage.to_dict()["operations"] == {"done": 3, "total": 5, "percent": 60.0}
    assert "+500" in render_html(report), "an undocumented status seen is flagged"


def test_a_path_parameter_counts_as_sent_once_the_operation_is_called(recorder):
    recorder.exchange(sent("GET", "/items/5/"), 200)
    get_item = row(recorder.report(["tiny"]), "getItem")
    assert [p.label for p in get_item.params] == ["path.id"]


# -- workflow attribution -------------------------------------------------------------------


def test_a_failed_workflow_test_blames_its_last_request_not_its_clean_up(recorder):
    recorder.begin_test("contracts/tiny/test_workflows.py::test_create_then_get", "tiny")
    recorder.set_phase("setup")
    recorder.exchange(sent("GET", "/items/"), 200)
    recorder.set_phase("call")
    recorder.exchange(sent("POST", "/items/", json={"name": "n"}), 201)
    register_secret("abc.def", "TINY_TOKEN", "export TINY_TOKEN=...")
    recorder.exchange(sent("GET", "/items/7/", headers={"Authorization": "Bearer abc.def"}), 200)
    recorder.exchange(sent("DELETE", "/items/7/"), 405)  # not an operation
    recorder.exchange(sent("POST", "/items/", json={"name": "cleanup"}), 201, unwinding=True)  # in a finally: block
    recorder.set_phase("teardown")
    recorder.exchange(sent("GET", "/items/new/"), 200)  # a fixture's clean-up: not the test's
    recorder.end_test(FAILED, "AssertionError: the item comes back as created\nassert 'x' == 'n'")
    report = recorder.report(["tiny"])

    get_item = row(report, "getItem")
    assert get_item.workflow.state == FAILED
    (failure,) = get_item.workflow.failures
    assert failure.title == "AssertionError: the item comes back as created"
    assert failure.curl.splitlines()[-1].startswith("curl -X GET") and "/tiny/items/7/" in failure.curl and "abc.def" not in failure.curl
    assert '"Authorization: Bearer ${TINY_TOKEN}"' in failure.curl and "# TINY_TOKEN: export TINY_TOKEN=..." in failure.curl
    assert failure.test.endswith("test_create_then_get") and failure.status == 200
    assert row(report, "createItem").workflow.state == INCONCLUSIVE
    assert row(report, "listItems").workflow.state == INCONCLUSIVE, "setup requests belong to the test"
    assert row(report, "newItemForm").workflow.state == NOT_EXERCISED, "teardown requests do not"
    assert row(report, "newItemForm").exercised, "...but they count for coverage"
    assert report.apis[0].failed_workflows == 1


def test_a_request_without_an_answer_is_the_one_blamed(recorder):
    recorder.begin_test("contracts/tiny/test_workflows.py::test_timeout", "tiny")
    recorder.set_phase("call")
    recorder.exchange(sent("GET", "/items/"), 200)
    recorder.failed_request(sent("POST", "/items/", json={"name": "n"}))
    recorder.end_test(FAILED, "requests.exceptions.ReadTimeout: timed out")
    report = recorder.report(["tiny"])
    (failure,) = row(report, "createItem").workflow.failures
    assert failure.status is None and failure.curl.startswith("curl -X POST")
    assert row(report, "listItems").workflow.state == INCONCLUSIVE


def test_passing_skipped_and_request_less_tests(recorder):
    for name, outcome in (("a", PASSED), ("b", PASSED), ("c", "skipped")):
        recorder.begin_test(f"contracts/tiny/test_workflows.py::test_{name}", "tiny")
        recorder.set_phase("call")
        recorder.exchange(sent("GET", "/items/"), 200)
        if name == "c":
            recorder.exchange(sent("GET", "/items/new/"), 200)
        recorder.end_test(outcome, "no control API" if outcome == "skipped" else "")
    recorder.begin_test("contracts/tiny/test_workflows.py::test_no_credentials", "tiny")
    recorder.end_test(FAILED, "Failed: tiny: credentials missing: token")
    for category in ("passed", "passed", "skipped", "failed"):  # the plugin counts pytest's own categories
        recorder.count("tiny", category)
    report = recorder.report(["tiny"])
    assert row(report, "listItems").workflow.passed == [
        "contracts/tiny/test_workflows.py::test_a",
        "contracts/tiny/test_workflows.py::test_b",
    ]
    assert row(report, "newItemForm").workflow.state == INCONCLUSIVE
    (lonely,) = report.apis[0].unattributed
    assert lonely.test.endswith("test_no_credentials") and "credentials missing" in lonely.title
    assert dict(report.apis[0].tests) == {"passed": 2, "skipped": 1, "failed": 1}
    assert not report.apis[0].ok
    assert "made no request" in render_html(report) and "failed before making any request" in render_markdown(report)


def test_a_property_error_outside_any_check_is_reported_once(recorder):
    recorder.begin_test("contracts/tiny/test_schema.py::test_operation_honours_contract", "tiny", is_property=True)
    recorder.check_result("tiny", "GET", "/items/", "not_a_server_error", Failure("Server error", status=500))
    recorder.property_error("tiny", "GET", "/items/", "FailureGroup: Server error")  # already shown as the check
    recorder.property_error("tiny", "GET", "/items/{id}/", "hypothesis.errors.Flaky: inconsistent")
    recorder.end_test(PASSED)
    report = recorder.report(["tiny"])
    assert row(report, "listItems").errors == []
    assert [e.title for e in row(report, "getItem").errors] == ["error in the property test"]
    assert report.apis[0].errors == 1


# -- rendering at scale, and the terminal --------------------------------------------------------


def many_operations(count: int) -> dict:
    document = {"openapi": "3.1.0", "info": {"title": "big", "version": "1"}, "paths": {}}
    for n in range(count):
        group = f"g{n % 7}"
        document["paths"][f"/{group}/c{n}"] = {
            "get": {"operationId": f"c{n}_get", "responses": {"200": OK}},
            "post": {"operationId": f"c{n}", "responses": {"200": OK, "412": OK}},
        }
    return document


def test_a_huge_api_is_grouped_in_html_and_trimmed_in_markdown():
    big = SpecIndex.from_document("big", many_operations(60))
    assert len(big.operations) == 120 > max(GROUP_ABOVE, MARKDOWN_FULL_ROWS)
    recorder = Recorder(index_of=lambda api: big if api == "big" else None)
    recorder.set_bases({"big": "http://h/api/v3"})
    recorder.exchange(requests.Request("POST", "http://h/api/v3/g3/c3", data={"a": "1"}).prepare(), 200)
    recorder.check_result("big", "GET", "/g1/c8", "not_a_server_error", Failure("Server error", "500", "curl -X GET http://h/api/v3/g1/c8"))
    report = recorder.report(["big"])

    page = render_html(report)
    assert page.count('<details class="group"') == 7
    assert '<details class="group" open><summary><code>/g1</code>' in page, "a group with a failure is open"
    assert '<details class="group"><summary><code>/g0</code>' in page, "the others are closed"
    assert page.count('<tr class="op') == 120, "the HTML lists every operation"
    markdown = render_markdown(report)
    rows = [line for line in markdown.splitlines() if line.startswith("| GET ") or line.startswith("| POST ")]
    assert [r.split(" | ")[2] for r in rows] == ["c8_get"], "only the failing operation gets a row"
    groups = [line for line in markdown.splitlines() if line.startswith("| `/g")]
    assert len(groups) == 7, "one line per group"
    g1 = next(line for line in groups if line.startswith("| `/g1`"))
    g3 = next(line for line in groups if line.startswith("| `/g3`"))
    assert g1.split(" | ")[1:4] == ["18", "1", "**1**"], g1  # 9 commands x GET/POST; a failed check looked at a response: covered
    assert g3.split(" | ")[1:4] == ["18", "0", "0"], g3  # a request was answered, but no check looked at it: not covered
    assert "120 operations in 7 groups" in markdown


def test_summary_lines_name_each_api_its_failures_coverage_and_the_report(recorder):
    recorder.exchange(sent("GET", "/items/"), 200)
    recorder.check_result("tiny", "GET", "/items/", "status_code_conformance", Failure("Undocumented HTTP status code"))
    lines = summary_lines(recorder.report(["tiny"]), ["reports/conformance.html"])
    text = "\n".join(lines)
    assert lines[0].startswith("tiny") and "FAILING" in lines[0] and "operations covered 1/5 (20%)" in lines[0]
    assert "failed checks 1" in lines[0]
    assert "documented statuses seen 1/9 (11%)" in text and "parameters sent 0/7 (0%)" in text
    assert lines[-1] == "report: reports/conformance.html"


# -- curl ----------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_secrets():
    forget_secrets()
    yield
    forget_secrets()


def test_curl_shows_known_credentials_as_variables_and_the_rest_as_sent():
    register_secret("s3cr3t-key", "TINY_KEY", "export TINY_KEY=... (a key)")
    known = curl_with_variables(
        sent("POST", "/forms/?x=1", data={"password": "hunter2", "token": "s3cr3t-key"}, headers={"Authorization": "Key s3cr3t-key"})
    )
    lines = known.splitlines()
    assert lines[0] == "# TINY_KEY: export TINY_KEY=... (a key)"
    assert '"Authorization: Key ${TINY_KEY}"' in lines[1] and "s3cr3t-key" not in known
    assert "hunter2" not in known, "a password is masked even where it is not a known credential"
    bad = curl_with_variables(sent("GET", "/items/", headers={"Authorization": "Key not-a-real-key"}))
    assert "'Authorization: Key not-a-real-key'" in bad, "a credential under test (not a known one) is shown as sent"
    quoted = curl_with_variables(sent("GET", '/items/?q=a"$b', headers={"Authorization": "Key s3cr3t-key"}))
    assert '"Authorization: Key ${TINY_KEY}"' in quoted


def test_curl_masks_credentials_and_cuts_huge_bodies():
    form = curl_for(
        sent("POST", "/forms/?sid=abc123&x=1", data={"password": "hunter2", "login": "me"}, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    )
    assert "abc123" not in form and "hunter2" not in form and "dXNlcjpwYXNz" not in form
    assert "login=me" in form and "x=1" in form and "Authorization: Basic [Filtered]" in form
    big = curl_for(sent("POST", "/items/", json={"data": "A" * 50_000}))
    assert len(big) < 3_000 and "more characters" in big
    assert "hunter2" not in redact_command(
        """curl -X POST -H 'Content-Type: application/json' -d '{"password": "hunter2", "a": 1}' http://h/x"""
    )
    assert "s1d" in redact_command("curl http://h/x?sid=s1d".replace("sid=s1d", "sids=s1d")), "only exact field names"


# -- where the files go ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("xml", "setting", "expected"),
    [
        ("reports/junit.xml", None, "reports/conformance"),
        ("reports/junit-contract-clarius.xml", None, "reports/conformance-contract-clarius"),
        ("out/results.xml", None, "out/results-conformance"),
        (None, None, "root/reports/conformance"),
        ("reports/junit.xml", "elsewhere/report.html", "elsewhere/report"),
        (None, "somewhere/", "somewhere/conformance"),
    ],
)
def test_report_files_sit_beside_the_junit_xml(tmp_path, xml, setting, expected):
    config = SimpleNamespace(
        invocation_params=SimpleNamespace(dir=tmp_path), option=SimpleNamespace(xmlpath=xml), rootpath=tmp_path / "root"
    )
    assert report_stem(config, setting) == tmp_path / expected


def test_a_property_call_through_the_shared_session_is_counted_once(recorder):
    recorder.begin_test("contracts/tiny/test_schema.py::test_operation_honours_contract", "tiny", is_property=True)
    through_session = sent("GET", "/items/", params={"limit": 1})
    recorder.exchange(through_session, 200)  # the session's response hook fires first...
    recorder.property_exchange("tiny", "GET", "/items/", through_session, 200)  # ...then schemathesis's after_call
    recorder.property_exchange("tiny", "GET", "/items/", sent("GET", "/items/"), 400)  # a case.call without the session
    recorder.end_test(PASSED)
    list_items = row(recorder.report(["tiny"]), "listItems")
    assert dict(list_items.statuses) == {200: 1, 400: 1}
    assert list_items.workflow.state == NOT_EXERCISED


def test_vacuous_passes_of_three_checks_are_not_counted():
    from medimock.conformance.plugin import applies

    def case(method="GET", negative=False, security=None):
        operation = SimpleNamespace(
            method="get", definition=SimpleNamespace(raw={} if security is None else {"security": security}), schema=None
        )
        meta = SimpleNamespace(generation=SimpleNamespace(mode=SimpleNamespace(is_negative=negative)))
        return SimpleNamespace(method=method, operation=operation, meta=meta)

    ok, refused = SimpleNamespace(status_code=200), SimpleNamespace(status_code=401)
    assert applies("negative_data_rejection", case(negative=True), refused)
    assert not applies("negative_data_rejection", case(negative=False), ok)
    assert applies("unsupported_method", case(method="PATCH"), SimpleNamespace(status_code=405))
    assert not applies("unsupported_method", case(method="GET"), ok)
    assert applies("ignored_auth", case(security=[{"token": []}]), ok)
    assert not applies("ignored_auth", case(security=[{"token": []}]), refused), "only a 2xx can reveal ignored auth"
    assert not applies("ignored_auth", case(security=[]), ok), "nothing to enforce"
    assert applies("not_a_server_error", case(), ok) and applies("a_custom_check", case(), ok)


# -- one API's tests on two pytest-xdist workers ---------------------------------------------------


def test_two_workers_reports_of_one_api_merge_per_operation(index):
    def worker(cases: int, failure: Failure | None, status: int) -> Recorder:
        recorder = Recorder(index_of=lambda api: index if api == "tiny" else None)
        recorder.set_bases({"tiny": BASE})
        recorder.begin_test("contracts/tiny/test_schema.py::test_operation_honours_contract", "tiny", is_property=True)
        request = sent("GET", "/items/?limit=3")
        for _ in range(cases):
            recorder.property_exchange("tiny", "GET", "/items/", request, status)
            recorder.check_result("tiny", "GET", "/items/", "status_code_conformance", None)
        if failure is not None:
            recorder.check_result("tiny", "GET", "/items/", "response_schema_conformance", failure)
        recorder.end_test(FAILED if failure else PASSED)
        return recorder

    first = worker(3, None, 200).report(["tiny"]).apis[0]
    second = worker(2, Failure("Response violates schema", "no"), 400).report(["tiny"]).apis[0]
    merged = first.merged(second)
    listing = row(SimpleNamespace(apis=[merged]), "listItems")
    assert listing.cell("status_code_conformance").passed == 5
    assert listing.cell("response_schema_conformance").state == FAILED
    assert listing.statuses == {200: 3, 400: 2}
    assert merged.failed_checks == 1 and not merged.ok
    assert merged.coverage.statuses.done == 2  # 200 and 400 both covered once merged
