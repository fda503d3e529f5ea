"""The fast path of Ambra ``/study/list``: each study's reply is stored with the row (``doc``)
and a page is one indexed query. These tests hold it to the slow path it replaces: every
listed study is what ``/study/get`` shows, byte for byte what the per-study rendering
makes, after every kind of write that changes what a study shows; strict mode validates
what is sent; and the list's queries walk an index instead of sorting every match."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import orjson
import pytest

from mockserver.apis.ambra.store import AmbraStore
from mockserver.app import create_app
from mockserver.config import MockConfig

API = "/api/v3"


class Ambra:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.mock = app.extensions["medimock"]
        self.client = app.test_client()
        self.creds = self.client.get("/__mock__/credentials").get_json()["ambra"]
        self.sid = self.client.post(
            API + "/session/login", data={"login": self.creds["login"], "password": self.creds["password"]}
        ).get_json()["sid"]

    def raw(self, path: str, **params: Any) -> bytes:
        reply = self.client.post(API + path, data={"sid": self.sid, **params})
        assert reply.status_code == 200, reply.get_data(as_text=True)[:500]
        return bytes(reply.data)

    def ok(self, path: str, **params: Any) -> Any:
        body = orjson.loads(self.raw(path, **params))
        assert body["status"] == "OK", body
        return body

    def everything(self, **params: Any) -> list[dict[str, Any]]:
        body = self.ok("/study/list", **{"page.rows": 5000, **params})
        assert body["page"]["more"] == 0
        return list(body["studies"])

    def shown_by_get(self, uuid: str) -> dict[str, Any]:
        study = self.ok("/study/get", uuid=uuid)
        study.pop("status")
        study.pop("radreports", None)  # study/get adds the study's reports; lists do not
        study.pop("permissions")  # and the caller's permissions and the viewer link (lists: when asked for)
        study.pop("viewer_link")
        return dict(study)

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with self.mock.store.write() as conn:
            return list(conn.execute(statement, params).fetchall())


def build(tmp_path_factory: pytest.TempPathFactory, strict: bool) -> Iterator[Ambra]:
    db = tmp_path_factory.mktemp("docs") / "db.sqlite3"
    app = create_app(MockConfig(apis=("ambra",), strict=strict, db=str(db)))
    yield Ambra(app)
    app.extensions["medimock"].close()


@pytest.fixture(scope="module", params=[False, True], ids=["fragment", "strict"])
def ambra(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ambra]:
    yield from build(tmp_path_factory, request.param)


@pytest.fixture
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ambra]:
    yield from build(tmp_path_factory, False)


def assert_list_matches_get(ambra: Ambra, studies: list[dict[str, Any]]) -> None:
    assert studies
    for listed in studies:
        got = ambra.shown_by_get(listed["uuid"])
        assert listed == got
        assert list(listed) == list(got), "same keys in the same order"


def test_every_listed_study_is_what_study_get_shows(ambra: Ambra) -> None:
    studies = ambra.everything()
    assert len(studies) >= 250
    assert any(s.get("tags") for s in studies) and any(s.get("referring_physician") is None for s in studies)
    assert all(s["phi_namespace_name"] for s in studies) and all("account_id" not in s for s in studies)
    assert_list_matches_get(ambra, studies)


def test_strict_and_fragment_replies_are_the_same_json(fresh: Ambra) -> None:
    query = {"page.rows": 60, "page.number": 2, "filter.modality.in": '["CT","MR","US"]', "sort_by": "patient_name-asc"}
    fragment = orjson.loads(fresh.raw("/study/list", **query))
    fresh.mock.config = replace(fresh.mock.config, strict=True)  # the same store, validated and parsed
    assert orjson.loads(fresh.raw("/study/list", **query)) == fragment
    assert fragment["page"] == {"rows": 60, "number": 2, "more": 1, "count": 60} and len(fragment["studies"]) == 60


def test_stored_docs_are_byte_for_byte_the_slow_rendering(fresh: Ambra) -> None:
    queries: list[dict[str, Any]] = [
        {},
        {"page.rows": 5000},
        {"page.rows": 25, "page.number": 3, "sort_by": "study_date-desc", "filter.modality.equals": "CT"},
        {"filter.tags.in": '["urgent","teaching"]', "sort_by": "image_count-asc"},
        {"filter.patient_name.like": "%A%", "sort_by": "patient_name-asc,study_date-desc", "page.rows": 7},
    ]
    fast = [fresh.raw("/study/list", **query) for query in queries]
    assert fresh.sql("UPDATE ambra_studies SET doc = NULL") == []
    slow = [fresh.raw("/study/list", **query) for query in queries]
    assert fast == slow


def test_a_row_without_a_doc_is_still_served(fresh: Ambra) -> None:
    before = fresh.everything()
    fresh.sql("UPDATE ambra_studies SET doc = NULL WHERE uuid = ?", (before[5]["uuid"],))
    assert fresh.everything() == before


def test_docs_follow_every_write_that_changes_what_a_study_shows(fresh: Ambra) -> None:
    namespace = fresh.creds["namespace_id"]
    uuid = fresh.ok(
        "/study/add",
        study_uid="2.25.98765432109876543210",
        storage_namespace=namespace,
        phi_namespace=namespace,
        patient_name="MÜLLER^JOSÉ",
        modality="MR",
        study_date="20240607",
        image_count="12",
    )["uuid"]
    fresh.ok("/study/set", study_id=uuid, patient_name="MÜLLER^JOSÉ^Ω", study_description="MRI BRAIN")
    fresh.ok("/tag/add", tag="zeta", object="Study", object_id=uuid)
    fresh.ok("/tag/add", tag="alpha", object="Study", object_id=uuid)
    other = fresh.everything()[7]["uuid"]
    fresh.ok("/tag/add", tag="gone", object="Study", object_id=other)
    fresh.ok("/tag/delete", tag="gone", object="Study", object_id=other)
    fresh.ok("/study/star", uuid=other, star="1")
    listed = {s["uuid"]: s for s in fresh.everything()}
    assert listed[uuid]["patient_name"] == "MÜLLER^JOSÉ^Ω" and listed[uuid]["tags"] == ["alpha", "zeta"]
    assert listed[uuid]["image_count"] == 12 and listed[other]["star"] == 1 and "gone" not in (listed[other].get("tags") or [])
    # a renamed, then deleted namespace: every study in it shows the new name, then none
    db = AmbraStore(fresh.mock.store)
    db.update(namespace, {"name": "Renamed Imaging"})
    in_namespace = fresh.everything(**{"filter.phi_namespace.equals": namespace})
    assert len(in_namespace) > 100 and {s["phi_namespace_name"] for s in in_namespace} == {"Renamed Imaging"}
    assert_list_matches_get(fresh, in_namespace[:20] + [s for s in in_namespace if s["uuid"] in (uuid, other)])
    db.delete(namespace)
    assert {s["phi_namespace_name"] for s in fresh.everything(**{"filter.phi_namespace.equals": namespace})} == {None}
    assert fresh.client.post("/__mock__/reset").status_code == 200
    again = Ambra(fresh.app)  # a reset ends the sessions too
    assert all(s["phi_namespace_name"] for s in again.everything()) and uuid not in {s["uuid"] for s in again.everything()}


def test_strict_mode_checks_the_stored_docs(tmp_path_factory: pytest.TempPathFactory) -> None:
    for ambra in build(tmp_path_factory, True):
        first = ambra.everything()[0]["uuid"]
        ambra.sql("UPDATE ambra_studies SET doc = ? WHERE uuid = ?", (orjson.dumps({"uuid": first, "image_count": "many"}), first))
        reply = ambra.client.post(API + "/study/list", data={"sid": ambra.sid})
        assert reply.status_code == 500
        assert reply.get_json()["medimock_strict_violation"]["operation"].startswith("study_list")


@pytest.mark.parametrize(
    "query",
    [
        {"filter.modality.equals": "CT", "sort_by": "study_date-desc"},  # the benchmark's page
        {"filter.modality.equals": "MR", "sort_by": "patient_name-asc"},
        {"filter.study_date.ge": "2024-01-01", "sort_by": "study_date-desc"},
        {"sort_by": "study_date-asc"},
        {"filter.patient_name.like": "S%", "sort_by": "patient_name-desc"},
        {},
    ],
)
def test_list_queries_walk_an_index_instead_of_sorting_every_match(ambra: Ambra, query: dict[str, str]) -> None:
    conn = ambra.mock.store.connection()
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    try:
        ambra.ok("/study/list", **{"page.rows": 100, **query})
    finally:
        conn.set_trace_callback(None)
    (page,) = [s for s in statements if "FROM ambra_studies" in s and "ORDER BY" in s]
    plan = " | ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + page))
    assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, plan
    assert "USE TEMP B-TREE FOR ORDER BY" not in plan, plan  # ties on the sort column may still be ordered apart ("RIGHT PART")
