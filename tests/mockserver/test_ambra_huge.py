"""The ``huge`` Ambra profile (a million studies served) at a size a test can seed: the same shape, the same
code paths (bulk studies generated in chunks by forked processes, indexes built after the rows), with
``MEDIMOCK_HUGE_STUDIES`` set to a few tens of thousands. The million itself is measured by
``make bench`` (benchmarks/RESULTS.md), never timed here.

What is held: study/count and the page walks of a filtered, sorted list agree with each other and with the
data; every bulk study's stored ``doc`` is byte for byte what ``render_docs`` makes of its row; what a list
shows is what study/get shows; the bulk depends on the seed (and its size) only; the list's queries walk an
index; the file is back in WAL mode with every index after seeding."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from medimock.fixtures import ambra as fixtures
from mockserver.apis.ambra.store import DDL, permission_defaults, render_docs
from mockserver.app import create_app
from mockserver.config import MockConfig

pytestmark = pytest.mark.slow

API = "/api/v3"
STUDIES = 24_000  # more than one chunk of bulk studies (fixtures.BULK_CHUNK), beside the detailed ones


class Huge:
    def __init__(self, app: Any) -> None:
        self.mock = app.extensions["medimock"]
        self.client = app.test_client()
        self.creds = self.client.get("/__mock__/credentials").get_json()["ambra"]
        self.sid = self.login(self.creds["login"], self.creds["password"])

    def login(self, login: str, password: str) -> str:
        return str(self.client.post(API + "/session/login", data={"login": login, "password": password}).get_json()["sid"])

    def ok(self, path: str, sid: str | None = None, **params: Any) -> Any:
        reply = self.client.post(API + path, data={"sid": sid or self.sid, **params})
        body = orjson.loads(reply.data)
        assert reply.status_code == 200 and body["status"] == "OK", body
        return body

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
        return list(self.mock.store.connection().execute(statement, params).fetchall())


@pytest.fixture(scope="module")
def huge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Huge]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MEDIMOCK_HUGE_STUDIES", str(STUDIES))
        app = create_app(MockConfig(apis=("ambra",), strict=True, profile="huge", db=str(tmp_path_factory.mktemp("huge") / "db.sqlite3")))
    yield Huge(app)
    app.extensions["medimock"].close()


def test_sizes_scale_in_the_large_profiles_proportions() -> None:
    sizes = fixtures.huge_sizes(1_000_000)
    assert sizes["studies"] + sizes["bulk_studies"] == 1_000_000
    assert (sizes["users"], sizes["groups"], sizes["locations"], sizes["patients"]) == (4_000, 200, 40, 300_000)
    small = fixtures.huge_sizes(STUDIES)
    assert small["studies"] + small["bulk_studies"] == STUDIES and small["users"] == STUDIES // 250


def test_count_users_groups_and_namespaces(huge: Huge) -> None:
    assert huge.ok("/study/count")["count"] == STUDIES
    sizes = fixtures.huge_sizes(STUDIES)
    kinds = dict(huge.sql("SELECT kind, count(*) FROM ambra_objects GROUP BY kind"))
    assert kinds["user"] >= sizes["users"] and kinds["group"] >= sizes["groups"] and kinds["location"] >= sizes["locations"]
    # studies fill the namespaces of the accounts, groups and locations, the extra ones too
    filled = huge.sql("SELECT count(DISTINCT phi_namespace) FROM ambra_studies")[0][0]
    assert filled >= 8 + sizes["groups"] + sizes["locations"] - 2
    assert huge.sql("PRAGMA journal_mode")[0][0] == "wal"
    wanted = {statement.split()[5] for statement in DDL if statement.startswith("CREATE INDEX")}
    assert wanted <= {row[0] for row in huge.sql("SELECT name FROM sqlite_master WHERE type = 'index'")}


def test_a_filtered_sorted_walk_meets_the_count_and_the_order(huge: Huge) -> None:
    query = {"filter.modality.equals": "MR", "sort_by": "study_date-desc"}
    total = huge.ok("/study/count", **{"filter.modality.equals": "MR"})["count"]
    assert total == huge.sql("SELECT count(*) FROM ambra_studies WHERE modality = 'MR'")[0][0]
    assert total > 1_000
    seen: list[dict[str, Any]] = []
    number = 1
    while True:
        body = huge.ok("/study/list", **query, **{"page.rows": 500, "page.number": number})
        seen += body["studies"]
        assert body["page"]["count"] == len(body["studies"])
        if not body["page"]["more"]:
            break
        assert len(body["studies"]) == 500
        number += 1
    assert len(seen) == total == len({s["uuid"] for s in seen})
    assert {s["modality"] for s in seen} == {"MR"}
    keys = [(s["study_date"], s["created"]) for s in seen]
    assert keys == sorted(keys, reverse=True)


def test_a_user_sees_only_the_studies_of_their_namespaces(huge: Huge) -> None:
    user = huge.login(huge.creds["user_login"], huge.creds["user_password"])
    mine = huge.ok("/study/count", sid=user)["count"]
    assert 0 < mine < STUDIES
    seen: list[dict[str, Any]] = []
    for number in range(1, 100):
        body = huge.ok("/study/list", sid=user, **{"page.rows": 5000, "page.number": number, "sort_by": "patient_name-asc"})
        seen += body["studies"]
        if not body["page"]["more"]:
            break
    assert len(seen) == mine == len({s["uuid"] for s in seen})
    namespaces = sorted({s["phi_namespace"] for s in seen})
    marks = ",".join("?" * len(namespaces))
    assert huge.sql(f"SELECT count(*) FROM ambra_studies WHERE phi_namespace IN ({marks})", tuple(namespaces))[0][0] == mine


def test_bulk_docs_are_what_render_docs_makes(huge: Huge) -> None:
    bulk = "seq > (SELECT min(seq) FROM ambra_studies) + ? AND seq % 97 = 0"
    before = huge.sql(f"SELECT uuid, doc FROM ambra_studies WHERE {bulk} ORDER BY seq", (fixtures.HUGE_DETAILED,))
    assert len(before) > 100 and any(b"tags" in doc for _, doc in before)
    with huge.mock.store.write() as conn:
        render_docs(conn, bulk, (fixtures.HUGE_DETAILED,))
    assert huge.sql(f"SELECT uuid, doc FROM ambra_studies WHERE {bulk} ORDER BY seq", (fixtures.HUGE_DETAILED,)) == before


def test_listed_bulk_studies_are_what_study_get_shows(huge: Huge) -> None:
    page = huge.ok("/study/list", **{"page.rows": 40, "page.number": 300, "sort_by": "patient_name-asc"})["studies"]
    assert len(page) == 40
    for listed in page:
        got = huge.ok("/study/get", uuid=listed["uuid"])
        for key in ("status", "radreports", "permissions", "viewer_link"):
            got.pop(key, None)
        assert listed == got and list(listed) == list(got)


def test_the_lists_queries_walk_an_index(huge: Huge) -> None:
    for where, order in (
        ("modality = ?", "study_date DESC, created DESC, seq DESC"),
        ("1", "created DESC, seq DESC"),
        ("modality = ?", "patient_name ASC, created DESC, seq DESC"),
    ):
        params = ("CT",) if "?" in where else ()
        plan = " | ".join(
            row[3] for row in huge.sql(f"EXPLAIN QUERY PLAN SELECT doc FROM ambra_studies WHERE {where} ORDER BY {order} LIMIT 101", params)
        )
        assert "INDEX" in plan and "USE TEMP B-TREE FOR ORDER BY" not in plan, plan


def test_bulk_studies_depend_on_the_seed_and_their_number_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDIMOCK_HUGE_STUDIES", str(STUDIES))
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    first = fixtures.build(7, "huge", now=now, permissions=permission_defaults())
    assert first.bulk is not None
    again = fixtures.build(7, "huge", now=now, permissions=permission_defaults())
    other = fixtures.build(8, "huge", now=now, permissions=permission_defaults())
    assert again.bulk is not None and other.bulk is not None
    assert first.bulk.chunk(1) == again.bulk.chunk(1)  # chunk 1 made before chunk 0: the same
    assert first.bulk.chunk(0)["uuid"] != other.bulk.chunk(0)["uuid"]
    chunk = first.bulk.chunk(0)
    assert set(chunk["modality"]) == set(fixtures.MODALITIES)
    assert all(len(uid) <= 64 and all(p.isdigit() and not p.startswith("0") for p in uid.split(".")) for uid in chunk["study_uid"])
    assert all(s < now.strftime("%Y-%m-%d") + " 99" for s in chunk["created"])
    assert 0.1 < sum(1 for t in chunk["tags"] if t) / len(chunk["tags"]) < 0.2


def test_counts_are_summed_per_namespace_and_follow_every_write(huge: Huge) -> None:
    def counts() -> tuple[int, int, int]:
        return (
            huge.ok("/study/count")["count"],
            huge.ok("/study/count", **{"filter.modality.equals": "NM"})["count"],
            huge.ok("/study/count", **{"filter.modality.equals": "XA"})["count"],
        )

    def scanned(modality: str) -> int:
        return int(huge.sql("SELECT count(*) FROM ambra_studies WHERE modality = ?", (modality,))[0][0])

    total, nm, xa = counts()
    assert (nm, xa) == (scanned("NM"), scanned("XA")) and total == huge.sql("SELECT count(*) FROM ambra_studies")[0][0]
    # the table is what answers: a count it holds is what study/count says (then put back)
    with huge.mock.store.write() as conn:
        conn.execute(
            "UPDATE ambra_study_counts SET n = n + 1000 WHERE rowid = (SELECT min(rowid) FROM ambra_study_counts WHERE modality = 'NM')"
        )
    assert counts() == (total + 1000, nm + 1000, xa)
    with huge.mock.store.write() as conn:
        conn.execute(
            "UPDATE ambra_study_counts SET n = n - 1000 WHERE rowid = (SELECT min(rowid) FROM ambra_study_counts WHERE modality = 'NM')"
        )
    # other filters count the rows themselves
    assert huge.ok("/study/count", **{"filter.modality.equals": "NM", "filter.star.equals": "1"})["count"] == int(
        huge.sql("SELECT count(*) FROM ambra_studies WHERE modality = 'NM' AND star = 1")[0][0]
    )
    namespace = huge.creds["namespace_id"]
    uuid = huge.ok("/study/add", study_uid="2.25.4242", storage_namespace=namespace, phi_namespace=namespace, modality="NM")["uuid"]
    assert counts() == (total + 1, nm + 1, xa)
    huge.ok("/study/set", study_id=uuid, modality="XA")
    assert counts() == (total + 1, nm, xa + 1)
    huge.ok("/study/set", study_id=uuid, study_description="unchanged counts")
    assert counts() == (total + 1, nm, xa + 1)
    huge.ok("/study/delete", uuid=uuid)
    assert counts() == (total, nm, xa) and (scanned("NM"), scanned("XA")) == (nm, xa)
