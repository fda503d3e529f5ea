"""Cases for the ``medimock`` pytest fixture, run by ``test_plugin.py`` in a pytest subprocess with
the plugin loaded (this file has no ``test_`` prefix, so ``make test`` does not collect it itself).

Tests here depend on their order (one changes the mock, the next checks it is back to the seeded
state), which pytest keeps within a file.
"""

from __future__ import annotations

import time

import pytest
import requests
from requests.adapters import HTTPAdapter

CLARIUS = "https://cloud.clarius.com/api/public/v0"
AMBRA = "https://access.ambrahealth.com/api/v3"
RADIOLOGY = "https://api.radiology-vendor.example"
TSCHARTS = "http://tscharts.medimock.local/tscharts/v1"
SEEN: dict[str, object] = {}
PLUGIN_FIXTURES = {"medimock", "medimock_pool", "medimock_options"}


def test_a_test_without_the_fixture_is_untouched(request):
    assert not PLUGIN_FIXTURES & set(request.fixturenames)  # no autouse fixture
    assert HTTPAdapter.send.__module__ == "requests.adapters"  # requests is not patched


def test_changes_everything(medimock):
    creds = medimock.credentials
    key = {"Authorization": creds["clarius"]["authorization"]}
    token = creds["clarius"]["unconfirmed_customer_tokens"][0]
    SEEN["records"] = requests.get(f"{CLARIUS}/services/notifications/records/", headers=key, timeout=10).json()["count"]
    assert requests.post(f"{CLARIUS}/services/customer-confirmations/", json={"token": token}, headers=key, timeout=10).status_code == 200
    inbox = medimock.receive_webhooks("https://integrator.example.test/hook")
    assert requests.patch(f"{CLARIUS}/services/settings/", json={"notification_url": inbox.url}, headers=key, timeout=10).status_code == 200
    medimock.control.add_fault(api="clarius", webhooks=True, latency_ms=300)  # still under way when the test ends
    medimock.control.clarius_upload()

    ts = creds["tscharts"]
    image = {
        "patient": ts["patients"][0],
        "clinic": ts["clinics"][0],
        "station": ts["stations"][0],
        "type": "Xray",
        "data": "QUJD" * 250_000,
    }
    created = requests.post(f"{TSCHARTS}/image/", json=image, headers={"Authorization": ts["authorization"]}, timeout=30)
    assert created.status_code == 200  # a 1 MB image: the database grows, and shrinks back on restore
    medimock.control.add_fault(api="tscharts", status=503, probability=0.5)

    rad = creds["radiology"]
    bearer = requests.post(
        f"{RADIOLOGY}/oauth2/token", data={"grant_type": "client_credentials"}, auth=(rad["client_id"], rad["client_secret"]), timeout=10
    ).json()["access_token"]
    medimock.control.advance_radiology_clock(7200)
    sid = requests.post(
        f"{AMBRA}/session/login", data={"login": creds["ambra"]["login"], "password": creds["ambra"]["password"]}, timeout=10
    )
    SEEN.update(
        app=id(medimock.app),
        token=token,
        image=created.json()["id"],
        bearer=bearer,
        sid=sid.json()["sid"],
        inbox=inbox,
    )
    assert medimock.control.journal()


def test_the_next_test_starts_from_the_seeded_state(medimock):
    assert id(medimock.app) == SEEN["app"]  # the same mock, reused
    creds = medimock.credentials
    key = {"Authorization": creds["clarius"]["authorization"]}
    assert SEEN["token"] in creds["clarius"]["unconfirmed_customer_tokens"]
    assert requests.get(f"{CLARIUS}/services/settings/", headers=key, timeout=10).json()["notification_url"] in (None, "")
    assert len(SEEN["inbox"].deliveries) == 1  # delivered while the previous test ended, not into this one
    records = requests.get(f"{CLARIUS}/services/notifications/records/", headers=key, timeout=10).json()["count"]
    assert records == SEEN["records"]  # as seeded: the late delivery's record did not land after the reset
    assert medimock.control.faults() == []
    ts = creds["tscharts"]
    assert requests.get(f"{TSCHARTS}/image/{SEEN['image']}/", headers={"Authorization": ts["authorization"]}, timeout=10).status_code == 404
    assert medimock.control.request("GET", "/radiology/clock")["offset_seconds"] == 0
    assert medimock.control.request("GET", "/radiology/audit")["count"] == 0
    rad = creds["radiology"]
    stale = requests.get(
        f"{RADIOLOGY}/reports",
        params={"organizationId": rad["organization_id"]},
        headers={"Authorization": f"Bearer {SEEN['bearer']}"},
        timeout=10,
    )
    assert stale.status_code == 401  # OAuth sessions are gone too
    assert requests.post(f"{AMBRA}/session/user", data={"sid": SEEN["sid"]}, timeout=10).status_code == 401
    assert [e["path"] for e in medimock.control.journal()] == [
        "/api/public/v0/services/settings/",
        "/api/public/v0/services/notifications/records/",
        f"/tscharts/v1/image/{SEEN['image']}/",
        "/radiology/reports",
        "/api/v3/session/user",
    ]


def flaky_pattern(medimock) -> tuple[int, list[int]]:
    rule = medimock.control.add_fault(api="tscharts", status=503, probability=0.5)
    key = {"Authorization": medimock.credentials["tscharts"]["authorization"]}
    return rule["id"], [requests.get(f"{TSCHARTS}/image/1/", headers=key, timeout=10).status_code for _ in range(16)]


def test_probability_faults_reproduce_a(medimock):
    SEEN["pattern"] = flaky_pattern(medimock)
    medimock.control.add_fault(api="clarius", status=500)


def test_probability_faults_reproduce_b(medimock):
    rule_id, pattern = flaky_pattern(medimock)
    assert (rule_id, pattern) == SEEN["pattern"] and rule_id == 1 and 503 in pattern and len(set(pattern)) == 2


@pytest.mark.medimock(apis=["tscharts"], seed=7, strict=True)
def test_marker_options_make_another_mock(medimock):
    assert id(medimock.app) != SEEN["app"]
    health = medimock.control.health()
    assert list(health["apis"]) == ["tscharts"] and health["seed"] == 7 and health["strict"] is True
    assert list(medimock.credentials) == ["tscharts"]
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{CLARIUS}/services/settings/", timeout=10)


@pytest.mark.medimock(hosts={"clarius": "https://clarius.internal.example"})
def test_marker_hosts_reuse_the_default_mock(medimock):
    assert id(medimock.app) == SEEN["app"]
    assert requests.get("https://clarius.internal.example/api/public/v0/services/settings/", timeout=10).status_code == 401


class TestOptionsFixture:
    @pytest.fixture
    def medimock_options(self):
        return {"apis": ["clarius"], "strict": True}

    def test_the_options_fixture(self, medimock):
        assert list(medimock.control.health()["apis"]) == ["clarius"]
        assert medimock.app.config.strict

    @pytest.mark.medimock(strict=False)
    def test_a_marker_overrides_the_options_fixture(self, medimock):
        assert list(medimock.control.health()["apis"]) == ["clarius"] and not medimock.app.config.strict


@pytest.mark.medimock(colour="blue")
def test_unknown_options_are_a_usage_error(medimock):
    raise AssertionError("not reached")


def test_an_old_snapshot_is_retaken_from_a_real_reseed_a(medimock, medimock_pool):
    medimock_pool.snapshot_max_age = 0.0
    key = {"Authorization": medimock.credentials["clarius"]["authorization"]}
    token = medimock.credentials["clarius"]["unconfirmed_customer_tokens"][1]
    assert requests.post(f"{CLARIUS}/services/customer-confirmations/", json={"token": token}, headers=key, timeout=10).status_code == 200
    SEEN["token2"] = token
    SEEN["oldest"] = requests.get(f"{CLARIUS}/exams/accessible/", headers=key, timeout=10).json()["results"][0]["submitted_at"]
    time.sleep(0.01)


def test_an_old_snapshot_is_retaken_from_a_real_reseed_b(medimock, medimock_pool):
    medimock_pool.snapshot_max_age = 10.0
    key = {"Authorization": medimock.credentials["clarius"]["authorization"]}
    assert SEEN["token2"] in medimock.credentials["clarius"]["unconfirmed_customer_tokens"]
    newest = requests.get(f"{CLARIUS}/exams/accessible/", headers=key, timeout=10).json()["results"][0]["submitted_at"]
    assert newest > SEEN["oldest"]  # reseeded just now: times are relative to the moment of seeding


@pytest.mark.parametrize("n", range(20))
def test_cost_of_the_fixture(medimock, n):
    assert medimock.active
