"""Ambra lists: page.rows/page.number walks, every filter condition and sort direction
checked against the data the list returns, ``fields`` selection, the large profile, and
the deliberate defects a contract suite must catch."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from mockserver.app import create_app
from mockserver.config import MockConfig

API = "/api/v3"


class Lists:
    def __init__(self, app: Any) -> None:
        self.client = app.test_client()
        self.creds = self.client.get("/__mock__/credentials").get_json()["ambra"]
        self.sid = self.login(self.creds["login"], self.creds["password"])

    def login(self, login: str, password: str) -> str:
        return str(self.client.post(API + "/session/login", data={"login": login, "password": password}).get_json()["sid"])

    def post(self, path: str, **params: Any) -> tuple[int, Any]:
        reply = self.client.post(API + path, data={"sid": self.sid, **params})
        return reply.status_code, reply.get_json(silent=True)

    def studies(self, **params: Any) -> list[dict[str, Any]]:
        status, body = self.post("/study/list", **{"page.rows": 5000, **params})
        assert status == 200, body
        assert body["page"]["more"] == 0
        return list(body["studies"])


@pytest.fixture(scope="module")
def lists(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lists]:
    app = create_app(MockConfig(apis=("ambra",), strict=True, db=str(tmp_path_factory.mktemp("lists") / "db.sqlite3")))
    yield Lists(app)
    app.extensions["medimock"].close()


@pytest.fixture(scope="module")
def everything(lists: Lists) -> list[dict[str, Any]]:
    return lists.studies()


def test_the_default_fixtures_span_several_default_pages(everything: list[dict[str, Any]]) -> None:
    assert 250 <= len(everything) <= 1000
    assert {s["modality"] for s in everything} == {"CT", "MR", "US", "CR", "DX", "MG", "PT", "NM", "XA"}
    assert {s["patient_sex"] for s in everything} <= {"M", "F", "O"}
    for study in everything:
        assert "^" in study["patient_name"] and study["patientid"].startswith("MRN")
        assert len(study["study_uid"]) <= 64 and all(
            part.isdigit() and (part == "0" or not part.startswith("0")) for part in study["study_uid"].split(".")
        )
        assert len(study["study_date"]) == 8 and len(study["study_time"]) == 6 and study["image_count"] >= 1
    assert len({s["phi_namespace"] for s in everything}) >= 5
    created = [s["created"] for s in everything]
    assert created == sorted(created, reverse=True)  # "sorted by creation order from most recent to oldest"


def test_paging_walk_is_complete_and_consistent(lists: Lists, everything: list[dict[str, Any]]) -> None:
    seen: list[str] = []
    number = 1
    while True:
        status, body = lists.post("/study/list", **{"page.rows": 37, "page.number": number})
        assert status == 200
        page = body["page"]
        assert (page["rows"], page["number"], page["count"]) == (37, number, len(body["studies"]))
        seen += [s["uuid"] for s in body["studies"]]
        if not page["more"]:
            break
        assert page["count"] == 37
        number += 1
    assert len(seen) == len(set(seen)) == len(everything) == lists.post("/study/count")[1]["count"]
    assert number == -(-len(everything) // 37)
    status, past = lists.post("/study/list", **{"page.number": number + 5})
    assert past["studies"] == [] and past["page"]["more"] == 0
    first = lists.post("/study/list")[1]["page"]
    assert first["rows"] == 100 and first["more"] == 1


def conditions(everything: list[dict[str, Any]]) -> list[tuple[str, str, Any]]:
    physician = next(s["referring_physician"] for s in everything if s["referring_physician"])
    name = everything[0]["patient_name"]
    return [
        ("modality", "equals", "CT"),
        ("modality", "not_equals", "CT"),
        ("referring_physician", "equals_or_null", physician),
        ("referring_physician", "not_equals_or_null", physician),
        ("patient_name", "like", name[:3] + "%"),
        ("patient_name", "like", "%" + name[-3:]),
        ("image_count", "gt", 100),
        ("image_count", "ge", 100),
        ("image_count", "lt", 5),
        ("image_count", "le", 5),
        ("study_date", "ge", everything[len(everything) // 2]["study_date"]),
        ("study_date", "lt", everything[len(everything) // 2]["study_date"]),
        ("created", "gt", everything[len(everything) // 3]["created"]),
        ("created", "le", everything[len(everything) // 3]["created"]),
        ("modality", "in", ["CT", "MR"]),
        ("referring_physician", "in_or_null", [physician]),
    ]


def matches(value: Any, condition: str, wanted: Any) -> bool:
    if condition == "equals":
        return bool(value == wanted)
    if condition == "equals_or_null":
        return value is None or value == wanted
    if condition == "not_equals":
        return value is not None and value != wanted
    if condition == "not_equals_or_null":
        return value is None or value != wanted
    if condition == "like":
        text, pattern = str(value or "").lower(), str(wanted).lower()
        return text.startswith(pattern[:-1]) if pattern.endswith("%") else text.endswith(pattern[1:])
    if condition == "in":
        return value in wanted
    if condition == "in_or_null":
        return value is None or value in wanted
    if value is None:
        return False
    return {"gt": value > wanted, "ge": value >= wanted, "lt": value < wanted, "le": value <= wanted}[condition]


def test_every_filter_condition_against_the_data(lists: Lists, everything: list[dict[str, Any]]) -> None:
    for field, condition, wanted in conditions(everything):
        raw = json.dumps(wanted) if isinstance(wanted, list) else str(wanted)
        got = {s["uuid"] for s in lists.studies(**{f"filter.{field}.{condition}": raw})}
        expected = {s["uuid"] for s in everything if matches(s[field], condition, wanted)}
        assert got == expected, (field, condition, wanted)
        assert 0 < len(expected) < len(everything), (field, condition, "the fixture data should make this filter discriminate")
    combined = lists.studies(**{"filter.modality.equals": "MR", "filter.image_count.gt": "500"})
    assert combined and all(s["modality"] == "MR" and s["image_count"] > 500 for s in combined)
    assert lists.studies(**{"filter.study_date.ge": "2000-01-01"}) == lists.studies(**{"filter.study_date.ge": "20000101"})


def test_filter_errors(lists: Lists) -> None:
    for params, error_type in (
        ({"filter.no_such_field.equals": "1"}, "INVALID_FIELD"),
        ({"filter.modality.resembles": "CT"}, "INVALID_CONDITION"),
        ({"filter.modality.in": "CT"}, "INVALID_JSON"),
        ({"filter.image_count.gt": "many"}, "INVALID_CONDITION"),
    ):
        status, body = lists.post("/study/list", **params)
        assert (status, body["error_type"], body["error_subtype"]) == (412, error_type, next(iter(params))), params


def test_sort_by_one_and_several_fields_both_directions(lists: Lists) -> None:
    for field in ("image_count", "patient_name", "study_date"):
        for direction in ("asc", "desc"):
            values = [s[field] for s in lists.studies(sort_by=f"{field}-{direction}")]
            assert values == sorted(values, reverse=direction == "desc"), (field, direction)
    rows = lists.studies(sort_by="modality-asc,image_count-desc")
    keys = [(s["modality"], -s["image_count"]) for s in rows]
    assert keys == sorted(keys)
    for sort_by, error_type, subtype in (("colour-asc", "INVALID_SORT_FIELD", "colour"), ("modality-up", "INVALID_SORT_ORDER", "modality"),
                                         ("modality-asc,size-sideways", "INVALID_SORT_ORDER", "size")):  # fmt: skip
        status, body = lists.post("/study/list", sort_by=sort_by)
        assert (status, body["error_type"], body["error_subtype"]) == (412, error_type, subtype)


def test_fields_selection(lists: Lists) -> None:
    rows = lists.post("/study/list", fields='["patient_name", "modality"]', **{"page.rows": 10})[1]["studies"]
    required = {"uuid", "study_uid", "phi_namespace", "storage_namespace"}
    assert rows and all(set(s) == required | {"patient_name", "modality"} for s in rows)
    groups = lists.post("/group/list", account_id=lists.creds["account_id"])[1]["groups"]
    assert len(groups) >= 3 and all("name" in g and "namespace_id" in g for g in groups)


def test_generic_lists_filter_sort_and_page(lists: Lists) -> None:
    account = lists.creds["account_id"]
    status, body = lists.post("/customfield/list", account_id=account, sort_by="name-desc", **{"page.rows": 2})
    assert status == 200 and body["page"] == {"rows": 2, "number": 1, "more": 1, "count": 2}
    names = [c["name"] for c in lists.post("/customfield/list", account_id=account, sort_by="name-desc")[1]["customfields"]]
    assert names == sorted(names, reverse=True) and len(names) == 4
    only = lists.post("/customfield/list", account_id=account, **{"filter.name.like": "Prio%"})[1]["customfields"]
    assert [c["name"] for c in only] == ["Priority"]
    assert lists.post("/customfield/list", account_id=account, **{"filter.colour.equals": "x"})[1]["error_type"] == "INVALID_FIELD"


def test_every_seeded_object_conforms_to_its_schema(lists: Lists) -> None:
    from mockserver.apis.ambra.catalog import catalog

    store = lists.client.application.extensions["medimock"].store
    kinds: set[str] = set()
    for row in store.query("SELECT kind, data FROM ambra_objects"):
        info = catalog().resources.get(row["kind"])
        if info is None or info.pointer is None:
            continue
        kinds.add(row["kind"])
        data = {k: v for k, v in json.loads(row["data"]).items() if not k.startswith("_")}
        assert catalog().validator(info.pointer).errors(data) == [], (row["kind"], data)
    assert len(kinds) >= 30, sorted(kinds)


def test_large_profile_seeds_over_ten_thousand_studies(tmp_path: Any) -> None:
    started = time.perf_counter()
    app = create_app(MockConfig(apis=("ambra",), strict=True, profile="large", db=str(tmp_path / "large.sqlite3")))
    seeded = time.perf_counter() - started
    try:
        large = Lists(app)
        assert large.post("/study/count")[1]["count"] >= 10_000
        started = time.perf_counter()
        status, body = large.post("/study/list", sort_by="patient_name-asc", **{"filter.modality.in": '["CT","MR"]', "page.number": 3})
        listed = time.perf_counter() - started
        assert status == 200 and body["page"]["count"] == 100 and body["page"]["more"] == 1
        print(f"large profile: app built and seeded in {seeded:.2f}s; a filtered, sorted third page in {listed * 1000:.1f} ms")
    finally:
        app.extensions["medimock"].close()


def test_defects_break_what_they_say(tmp_path: Any) -> None:
    names = ["ambra.page_more_wrong", "ambra.filter_ignored", "ambra.sort_ignored", "ambra.missing_fields_subtype_empty", "ambra.logout_keeps_sid",
             "ambra.not_permitted_ignored", "ambra.bundle_no_status_code", "ambra.expired_session_accepted"]  # fmt: skip
    app = create_app(MockConfig(apis=("ambra",), strict=False, defects=frozenset(names), db=str(tmp_path / "defects.sqlite3")))
    try:
        broken = Lists(app)
        assert broken.post("/study/list")[1]["page"]["more"] == 0  # hundreds of studies, "no more"
        assert {s["modality"] for s in broken.post("/study/list", **{"filter.modality.equals": "CT"})[1]["studies"]} != {"CT"}
        counts = [s["image_count"] for s in broken.post("/study/list", sort_by="image_count-asc")[1]["studies"]]
        assert counts != sorted(counts)
        assert broken.post("/group/add", name="x")[1]["error_subtype"] == []
        user = broken.login(broken.creds["user_login"], broken.creds["user_password"])
        assert broken.client.post(API + "/group/list", data={"sid": user, "account_id": broken.creds["account_id"]}).status_code == 200
        assert "HTTP_STATUS_CODE" not in broken.client.post(API + "/bundle", json=[{"URL": "/session/uuid"}]).get_json()[0]
        broken.client.post(API + "/session/logout", data={"sid": user})
        assert broken.client.post(API + "/session/ttl", data={"sid": user}).status_code == 200
        broken.client.post("/__mock__/ambra/sessions/expire", json={"sid": user})
        assert broken.client.post(API + "/session/user", data={"sid": user}).status_code == 200
    finally:
        app.extensions["medimock"].close()


def test_fixtures_depend_on_the_seed_only() -> None:
    from medimock.fixtures import ambra as fixtures

    first, again, other = fixtures.build(7), fixtures.build(7), fixtures.build(8)
    assert first.credentials == again.credentials != other.credentials
    assert [s["study_uid"] for s in first.studies] == [s["study_uid"] for s in again.studies]
    assert [o.uuid for o in first.objects] == [o.uuid for o in again.objects]
