"""Target discovery: where the contract suites find the server, its credentials and a control API."""

from __future__ import annotations

from medimock import target


def test_control_candidates_follow_the_mounts_then_the_origin():
    assert target._control_candidates({"ambra": "http://h:1/api/v3/"}) == ["http://h:1"]
    assert target._control_candidates({"radiology": "http://h/radiology"}) == ["http://h"]
    assert target._control_candidates({"clarius": "http://h:2"}) == ["http://h:2"]
    assert target._control_candidates({"radiology": "https://vendor.example/v1"}) == ["https://vendor.example/v1", "https://vendor.example"]


def test_a_per_api_url_of_a_medimock_finds_its_control_api_and_credentials(monkeypatch):
    probed: list[str] = []

    def served(root: str):
        probed.append(root)
        return {"ambra": {"login": "admin@example.org", "password": "pw"}} if root == "http://127.0.0.1:9" else None

    monkeypatch.setattr(target, "_mock_credentials", served)
    found, embedded = target.discover(["ambra"], environ={"MEDIMOCK_AMBRA_URL": "http://127.0.0.1:9/api/v3"})
    assert embedded is None and probed == ["http://127.0.0.1:9"]
    assert found.control_url == "http://127.0.0.1:9"
    assert found.api("ambra").base_url == "http://127.0.0.1:9/api/v3"
    assert found.api("ambra").credentials["login"] == "admin@example.org"
    env = {"MEDIMOCK_AMBRA_URL": "http://127.0.0.1:9/api/v3", "AMBRA_PASSWORD": "from-env"}
    assert target.discover(["ambra"], environ=env)[0].api("ambra").credentials["password"] == "from-env", "the environment wins"


def test_a_target_without_a_control_api_has_none(monkeypatch):
    monkeypatch.setattr(target, "_mock_credentials", lambda root: None)
    env = {"MEDIMOCK_RADIOLOGY_URL": "https://vendor.example/v1", "RADIOLOGY_CLIENT_ID": "c"}
    found, embedded = target.discover(["radiology"], environ=env)
    assert embedded is None and found.control_url is None
    assert found.api("radiology").credentials == {"client_id": "c"}
