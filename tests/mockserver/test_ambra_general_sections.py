"""The general sections of the Ambra document (specs/sources/ambra-v3-services-api-preamble.txt),
honoured by every command: field selection (``fields.OBJECT``, ``fields._top``), the filter
rules (``filter.tz`` as an offset or an Olson name, every date format, second-truncation,
secondary tables, hstore keys, custom fields, saved filters with ``filter_id`` and
``FILTER_NOT_FOUND``), custom-field sorts typed by the custom field, and the per-object default
page size. One mock for the module (strict mode on); each test makes what it changes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from mockserver.app import create_app
from mockserver.config import MockConfig

API = "/api/v3"


class Client:
    def __init__(self, app: Any) -> None:
        self.client = app.test_client()
        self.creds = self.client.get("/__mock__/credentials").get_json()["ambra"]
        self.sid = self.login(self.creds["login"], self.creds["password"])

    def login(self, login: str, password: str) -> str:
        return str(self.client.post(API + "/session/login", data={"login": login, "password": password}).get_json()["sid"])

    def call(self, path: str, http: str = "POST", **params: Any) -> tuple[int, Any]:
        params = {"sid": self.sid, **{k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in params.items()}}
        reply = self.client.get(API + path, query_string=params) if http == "GET" else self.client.post(API + path, data=params)
        return reply.status_code, reply.get_json(silent=True)

    def ok(self, path: str, http: str = "POST", **params: Any) -> Any:
        status, body = self.call(path, http, **params)
        assert status == 200 and body["status"] == "OK", (path, status, body)
        return body

    def error(self, path: str, http: str = "POST", **params: Any) -> Any:
        status, body = self.call(path, http, **params)
        assert status == 412 and body["status"] == "ERROR", (path, status, body)
        return body

    def studies(self, **params: Any) -> list[dict[str, Any]]:
        return list(self.ok("/study/list", **{"page.rows": 5000, **params})["studies"])


@pytest.fixture(scope="module")
def ambra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    app = create_app(MockConfig(apis=("ambra",), strict=True, db=str(tmp_path_factory.mktemp("general") / "db.sqlite3")))
    yield Client(app)
    app.extensions["medimock"].close()


@pytest.fixture(scope="module")
def study(ambra: Client) -> dict[str, Any]:
    """A study of the main account, as /study/get shows it."""
    found = ambra.studies(**{"filter.phi_namespace.equals": ambra.creds["namespace_id"], "page.rows": 1})[0]
    return dict(ambra.ok("/study/get", uuid=found["uuid"]))


def moment(stamp: str) -> datetime:
    """``2024-06-07 12:13:14.123456+00`` as a naive UTC datetime."""
    return datetime.strptime(stamp + "00", "%Y-%m-%d %H:%M:%S.%f%z").replace(tzinfo=None)


# -- Fields ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("http", ["POST", "GET"])
def test_fields_object_limits_each_object_of_a_list(ambra: Client, http: str) -> None:
    accounts = ambra.ok("/account/list", http, **{"fields.account": ["uuid", "name"]})["accounts"]
    assert accounts and all(set(a) == {"uuid", "name"} for a in accounts)
    studies = ambra.ok("/study/list", http, **{"fields.study": ["uuid"], "page.rows": 3})["studies"]
    assert len(studies) == 3 and all(set(s) == {"uuid"} for s in studies)
    groups = ambra.ok("/group/list", http, account_id=ambra.creds["account_id"], **{"fields.group": ["namespace_id"]})["groups"]
    assert groups and all(set(g) == {"namespace_id"} for g in groups)


def test_fields_object_limits_the_object_a_get_returns(ambra: Client, study: dict[str, Any]) -> None:
    assert set(ambra.ok("/study/get", uuid=study["uuid"], **{"fields.study": ["patient_name"]})) == {"status", "patient_name"}
    assert set(ambra.ok("/user/get", **{"fields.user": ["uuid", "email"]})) == {"status", "uuid", "email"}
    assert set(ambra.ok("/account/get", uuid=ambra.creds["account_id"], **{"fields.account": ["name"]})) == {"status", "name"}


def test_fields_top_limits_the_top_level_of_any_reply(ambra: Client) -> None:
    assert set(ambra.ok("/session/user", **{"fields._top": ["session_expire"]})) == {"status", "session_expire"}
    listed = ambra.ok("/study/list", **{"fields._top": ["page"], "page.rows": 2})
    assert set(listed) == {"status", "page"} and listed["page"]["rows"] == 2
    both = ambra.ok("/session/user", **{"fields._top": ["namespaces"], "fields.namespace": ["uuid"]})
    assert set(both) == {"status", "namespaces"} and all(set(ns) == {"uuid"} for ns in both["namespaces"])


def test_fields_that_are_not_a_json_list_are_refused(ambra: Client) -> None:
    bad = ambra.error("/study/list", **{"fields.study": "[oops"})
    assert (bad["error_type"], bad["error_subtype"]) == ("INVALID_JSON", "fields.study")
    assert ambra.error("/session/user", **{"fields._top": '{"a": 1}'})["error_subtype"] == "fields._top"


# -- dates, time zones and second-truncation ------------------------------------------------------
def test_every_documented_date_format_filters_a_timestamp(ambra: Client, study: dict[str, Any]) -> None:
    created = moment(study["created"])
    namespace = {"filter.phi_namespace.equals": study["phi_namespace"]}
    day, next_day = created.date(), created.date() + timedelta(days=1)
    for value in (day.isoformat(), f"{day:%Y%m%d}"):
        on_or_after = {s["uuid"] for s in ambra.studies(**namespace, **{"filter.created.ge": value})}
        before_next = {s["uuid"] for s in ambra.studies(**namespace, **{"filter.created.lt": f"{next_day:%Y%m%d}"})}
        assert study["uuid"] in on_or_after & before_next, value
    seconds = created.strftime("%Y-%m-%d %H:%M:%S")
    for value in (seconds, seconds + "+05:00", seconds + "-0300", f"{seconds}.{created:%f}", f"{seconds}.{created:%f}+02"):
        found = ambra.studies(**namespace, **{"filter.created.equals": value})  # the value's own offset is ignored
        assert [s["uuid"] for s in found] == [study["uuid"]], value
    assert ambra.error("/study/list", **{"filter.created.gt": "last tuesday"})["error_subtype"] == "filter.created.gt"


def test_timestamps_are_truncated_to_seconds_when_a_filter_has_no_microseconds(ambra: Client, study: dict[str, Any]) -> None:
    created = moment(study["created"])
    namespace = {"filter.phi_namespace.equals": study["phi_namespace"]}
    other_micro = created.replace(microsecond=(created.microsecond + 1) % 1_000_000)
    assert ambra.studies(**namespace, **{"filter.created.equals": created.strftime("%Y-%m-%d %H:%M:%S")})
    assert not ambra.studies(**namespace, **{"filter.created.equals": other_micro.strftime("%Y-%m-%d %H:%M:%S.%f")})
    assert ambra.studies(**namespace, **{"filter.created.le": created.strftime("%Y-%m-%d %H:%M:%S")})  # truncated: equal, so le


@pytest.mark.parametrize(("tz", "hours"), [("+03:00", 3), ("-4:00", -4), ("+0530", 5.5), ("Asia/Tokyo", 9), ("Not/AZone", 0)])
def test_filter_tz_is_an_offset_or_an_olson_name(ambra: Client, study: dict[str, Any], tz: str, hours: float) -> None:
    created = moment(study["created"])
    local = (created + timedelta(hours=hours)).strftime("%Y-%m-%d %H:%M:%S")
    namespace = {"filter.phi_namespace.equals": study["phi_namespace"]}
    assert [s["uuid"] for s in ambra.studies(**namespace, **{"filter.created.equals": local, "filter.tz": tz})] == [study["uuid"]]
    if hours:
        assert not ambra.studies(**namespace, **{"filter.created.equals": local})  # UTC by default


def test_the_users_time_zone_wins_over_filter_tz(ambra: Client, study: dict[str, Any]) -> None:
    email = f"tz-{uuid.uuid4().hex[:8]}@example.org"
    ambra.ok(
        "/user/add",
        account_id=ambra.creds["account_id"],
        first="Zone",
        last="User",
        email=email,
        password="Zone-pass-1",
        mobile_phone="+15550100000",
    )
    sid = ambra.login(email, "Zone-pass-1")
    md5 = {"terms_md5": "x", "privacy_md5": "x", "indicator_md5": "x"}
    ambra.ok("/user/set", sid=sid, time_zone="Asia/Tokyo", **md5)
    local = (moment(study["created"]) + timedelta(hours=9)).strftime("%Y-%m-%d %H:%M:%S")
    params = {"sid": sid, "filter.uuid.equals": study["uuid"], "filter.created.equals": local, "filter.tz": "+01:00"}
    assert [s["uuid"] for s in ambra.ok("/study/list", **params)["studies"]] == [study["uuid"]]
    ambra.ok("/user/delete", sid=sid)


def test_dicom_dates_take_every_date_format(ambra: Client, study: dict[str, Any]) -> None:
    day = datetime.strptime(study["study_date"], "%Y%m%d")
    namespace = {"filter.phi_namespace.equals": study["phi_namespace"], "filter.uuid.equals": study["uuid"]}
    for value in (study["study_date"], day.strftime("%Y-%m-%d"), day.strftime("%Y-%m-%d 00:00:00")):
        assert ambra.studies(**namespace, **{"filter.study_date.equals": value}), value


# -- secondary tables, hstore keys ------------------------------------------------------------------
def test_a_filter_can_name_a_field_of_a_secondary_table(ambra: Client) -> None:
    main = ambra.studies(**{"filter.account.name.equals": "Northwind Imaging"})
    assert main and len(main) < len(ambra.studies())
    namespaces = {s["phi_namespace"] for s in main}
    other = ambra.studies(**{"filter.account.name.not_equals": "Northwind Imaging"})
    assert other and not namespaces & {s["phi_namespace"] for s in other}
    by_name = ambra.studies(**{"filter.phi_namespace.name.equals": "Northwind Imaging"})
    assert by_name and {s["phi_namespace"] for s in by_name} == {ambra.creds["namespace_id"]}
    groups = ambra.ok("/group/list", account_id=ambra.creds["account_id"])["groups"]
    named = ambra.ok("/group/list", account_id=ambra.creds["account_id"], **{"filter.namespace.name.equals": groups[0]["name"]})
    assert [g["uuid"] for g in named["groups"]] == [groups[0]["uuid"]]
    assert ambra.error("/study/list", **{"filter.nosuchtable.name.equals": "x"})["error_type"] == "INVALID_FIELD"
    assert ambra.error("/study/list", **{"filter.account.nosuchfield.equals": "x"})["error_type"] == "INVALID_FIELD"


def test_a_filter_can_name_a_key_of_an_hstore_field(ambra: Client) -> None:
    dark = ambra.ok("/account/list", **{"filter.settings->'ui_theme'.equals": "dark"})["accounts"]
    assert {a["uuid"] for a in dark} >= {ambra.creds["account_id"]}
    assert not ambra.ok("/account/list", **{"filter.settings->'ui_theme'.equals": "light"})["accounts"]
    assert ambra.error("/account/list", **{"filter.name->'x'.equals": "y"})["error_type"] == "INVALID_FIELD"


# -- saved filters -----------------------------------------------------------------------------------
def test_a_saved_filter_applies_through_filter_id(ambra: Client) -> None:
    account = ambra.creds["account_id"]
    ct = ambra.ok("/filter/add", name="CT only", type="study", account_id=account, configuration={"filter.modality.equals": "CT"})["uuid"]
    mr = ambra.ok("/filter/add", name="MR only", type="study", account_id=account, configuration={"filter.modality.equals": "MR"})["uuid"]
    either = ambra.ok("/filter/add", name="CT or MR", type="study", account_id=account, configuration=[ct, mr])["uuid"]
    try:
        assert {s["modality"] for s in ambra.studies(filter_id=ct)} == {"CT"}
        assert {s["modality"] for s in ambra.studies(filter_id=either)} == {"CT", "MR"}
        combined = ambra.studies(filter_id=either, **{"filter.modality.equals": "MR"})
        assert combined and {s["modality"] for s in combined} == {"MR"}
        assert ambra.ok("/study/count", filter_id=ct)["count"] == len(ambra.studies(**{"filter.modality.equals": "CT"}))
        missing = str(uuid.uuid4())
        for path, params in (("/study/list", {}), ("/group/list", {"account_id": account})):
            refused = ambra.error(path, filter_id=missing, **params)
            assert (refused["error_type"], refused["error_subtype"]) == ("FILTER_NOT_FOUND", missing)
    finally:
        for uuid_ in (either, ct, mr):
            ambra.ok("/filter/delete", uuid=uuid_)


# -- custom fields -----------------------------------------------------------------------------------
def test_customfields_filter_and_sort_by_their_type(ambra: Client) -> None:
    account = ambra.creds["account_id"]
    dose = ambra.ok("/customfield/add", account_id=account, name="Dose mGy", object="Study", type="number")["uuid"]
    seen = ambra.ok("/customfield/add", account_id=account, name="Seen on", object="Study", type="date")["uuid"]
    picked = ambra.studies(**{"filter.phi_namespace.equals": ambra.creds["namespace_id"], "page.rows": 3})
    values = {picked[0]["uuid"]: ("10", "2024-02-01"), picked[1]["uuid"]: ("9", "2023-12-31"), picked[2]["uuid"]: ("100", "2024-01-15")}
    try:
        for study_id, (number, day) in values.items():
            ambra.ok("/study/set", study_id=study_id, **{f"customfield-{dose}": number, f"customfield-{seen}": day})
        only = {"filter.uuid.in": list(values)}
        by_dose = [s["uuid"] for s in ambra.studies(**only, sort_by=f"customfield-{dose}-asc")]
        assert [values[u][0] for u in by_dose] == ["9", "10", "100"]  # numbers as numbers, not "10" < "100" < "9"
        by_day = [s["uuid"] for s in ambra.studies(**only, sort_by=f"customfield-{seen}-desc")]
        assert [values[u][1] for u in by_day] == ["2024-02-01", "2024-01-15", "2023-12-31"]
        over = {s["uuid"] for s in ambra.studies(**only, **{f"filter.customfield-{dose}.gt": "9.5"})}
        assert over == {u for u, (n, _) in values.items() if int(n) > 9}
        assert {s["uuid"] for s in ambra.studies(**only, **{f"filter.customfield-{seen}.ge": "20240101"})} == {
            u for u, (_, d) in values.items() if d >= "2024-01-01"
        }
        unknown = f"customfield-{uuid.uuid4()}"
        assert ambra.error("/study/list", **{f"filter.{unknown}.equals": "1"})["error_type"] == "INVALID_FIELD"
        assert ambra.error("/study/list", sort_by=f"{unknown}-asc")["error_type"] == "INVALID_SORT_FIELD"
    finally:
        ambra.ok("/customfield/delete", uuid=dose)
        ambra.ok("/customfield/delete", uuid=seen)


# -- pages ---------------------------------------------------------------------------------------------
def test_the_default_page_is_100_or_1000_rows_by_object(ambra: Client) -> None:
    assert ambra.ok("/study/list")["page"]["rows"] == 100
    assert ambra.ok("/role/list", account_id=ambra.creds["account_id"])["page"]["rows"] == 1000
    assert ambra.ok("/customfield/list", account_id=ambra.creds["account_id"])["page"]["rows"] == 1000
    assert ambra.ok("/account/list")["page"]["rows"] == 100
    assert ambra.ok("/role/list", account_id=ambra.creds["account_id"], **{"page.rows": 7})["page"]["rows"] == 7
