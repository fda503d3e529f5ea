"""The tscharts mock's behaviour, in process, with strict response validation on."""

from __future__ import annotations

import base64
import os
import re

import pytest

from medimock.fixtures import MEDIA_DIR
from medimock.fixtures import tscharts as fixtures

IMAGES = "/tscharts/v1/image/"
LOGIN = "/tscharts/v1/login/"


@pytest.fixture
def make(make_app):
    def build(*defects, **overrides):
        overrides.setdefault("apis", ("tscharts",))
        return make_app(defects=frozenset(defects), **overrides).test_client()

    return build


@pytest.fixture
def client(make):
    return make()


def credentials(client):
    return client.get("/__mock__/credentials").get_json()["tscharts"]


@pytest.fixture
def creds(client):
    return credentials(client)


@pytest.fixture
def auth(creds):
    return {"Authorization": f"Token {creds['token']}"}


def new_image(client, auth, creds, data="ABCDEFG", image_type="Headshot", patient=None, clinic=None, station=None):
    body = {
        "patient": patient or creds["patients"][0],
        "clinic": clinic or creds["clinics"][0],
        "station": station or creds["stations"][0],
        "type": image_type,
        "data": data,
    }
    response = client.post(IMAGES, json=body, headers=auth)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["id"]


def images_of(client, auth, patient):
    """Every image of a patient, as full objects (ids from the list, bodies from get-one)."""
    response = client.get(IMAGES, query_string={"patient": patient}, headers=auth)
    if response.status_code == 404:
        return []
    assert response.status_code == 200
    return [client.get(f"{IMAGES}{i}/", headers=auth).get_json() for i in response.get_json()]


def busiest_patient(client, auth, creds):
    counts = {}
    for patient in creds["patients"]:
        response = client.get(IMAGES, query_string={"patient": patient}, headers=auth)
        counts[patient] = len(response.get_json()) if response.status_code == 200 else 0
    return max(counts, key=counts.get)


# -- fixtures and credentials ------------------------------------------------------------
def test_strict_mode_is_on(client):
    health = client.get("/__mock__/health").get_json()
    assert health["strict"] is True and "tscharts" in health["apis"]


def test_credentials_shape(creds):
    assert re.fullmatch(r"[0-9a-f]{40}", creds["token"])
    assert creds["username"] and creds["password"]
    assert creds["authorization"] == f"Token {creds['token']}"
    for kind in ("patients", "clinics", "stations"):
        assert creds[kind] and all(isinstance(i, int) and i >= 1 for i in creds[kind])
    assert creds["base_url"] == "http://localhost"


def test_fixtures_are_deterministic_and_use_real_images():
    first, second, other = fixtures.build(5), fixtures.build(5), fixtures.build(6)
    assert [u.token for u in first.users] == [u.token for u in second.users] != [u.token for u in other.users]
    assert {i.type for i in first.images} == set(fixtures.IMAGE_TYPES)
    raw = {base64.b64decode(i.data) for i in first.images}
    assert raw == {(MEDIA_DIR / "capture.jpg").read_bytes(), (MEDIA_DIR / "capture.png").read_bytes()}
    stamps = [i.timestamp for i in first.images]
    assert stamps != sorted(stamps), "timestamps are not in id order, so sort=true means something"


# -- login -------------------------------------------------------------------------------
def test_login_returns_the_users_token_and_string_id(client, creds):
    for _ in range(2):
        response = client.post(LOGIN, json={"username": creds["username"], "password": creds["password"]})
        assert response.status_code == 200
        assert response.get_json() == {"token": creds["token"], "id": creds["user_id"]}


@pytest.mark.parametrize(
    "body",
    [
        {"username": "nobody-here", "password": "x"},
        {"username": "__USER__", "password": "wrong password"},
        {"username": "__INACTIVE__", "password": "__INACTIVE_PASSWORD__"},
    ],
)
def test_login_refused_is_403(client, creds, body):
    inactive = next(u for u in creds["users"] if not u["active"])
    body = {
        "username": {"__USER__": creds["username"], "__INACTIVE__": inactive["username"]}.get(body["username"], body["username"]),
        "password": inactive["password"] if body["password"] == "__INACTIVE_PASSWORD__" else body["password"],
    }
    response = client.post(LOGIN, json=body)
    assert response.status_code == 403
    assert response.get_json() == {"detail": "Invalid username or password."}


@pytest.mark.parametrize("body", [{"username": "a"}, {"password": "a"}, {}, [], {"username": 3, "password": "x"}])
def test_login_malformed_is_400(client, body):
    response = client.post(LOGIN, json=body)
    assert response.status_code == 400
    assert isinstance(response.get_json()["detail"], str)


# -- token authentication ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("header", "detail"),
    [
        (None, "Authentication credentials were not provided."),
        ("Bearer abc", "Authentication credentials were not provided."),
        ("Token", "Invalid token header. No credentials provided."),
        ("Token a b", "Invalid token header. Token string should not contain spaces."),
        ("Token " + "0" * 40, "Invalid token."),
    ],
)
def test_missing_or_bad_token_is_401_with_challenge(client, header, detail):
    headers = {"Authorization": header} if header else {}
    for method, path in (("GET", f"{IMAGES}1/"), ("GET", f"{IMAGES}?patient=1"), ("POST", IMAGES), ("DELETE", f"{IMAGES}1/")):
        response = client.open(path, method=method, headers=headers, json={} if method == "POST" else None)
        assert response.status_code == 401, (method, path)
        assert response.headers["WWW-Authenticate"] == "Token"
        assert response.get_json() == {"detail": detail}


def test_inactive_users_token_is_401(client, creds):
    inactive = next(u for u in creds["users"] if not u["active"])
    response = client.get(f"{IMAGES}1/", headers={"Authorization": f"Token {inactive['token']}"})
    assert response.status_code == 401 and response.get_json() == {"detail": "User inactive or deleted."}


def test_token_keyword_is_case_insensitive_like_drf(client, creds):
    assert client.get(f"{IMAGES}1/", headers={"Authorization": f"token {creds['token']}"}).status_code == 200


def test_authentication_comes_before_validation(client):
    assert client.get(f"{IMAGES}not-a-number/").status_code == 401
    assert client.get(IMAGES, query_string={"sort": "maybe"}).status_code == 401


# -- get, create, delete -----------------------------------------------------------------------
def test_seeded_image_holds_real_image_bytes(client, auth):
    image = client.get(f"{IMAGES}1/", headers=auth).get_json()
    assert set(image) >= {"id", "patient", "clinic", "station", "type", "data", "timestamp"}
    raw = base64.b64decode(image["data"], validate=True)
    assert raw.startswith(b"\xff\xd8\xff") or raw.startswith(b"\x89PNG")


def test_create_and_get_round_trip(client, auth, creds):
    image_id = new_image(client, auth, creds, data="ABCDEFG", image_type="Audiogram")
    image = client.get(f"{IMAGES}{image_id}/", headers=auth).get_json()
    assert image["data"] == "ABCDEFG" and image["type"] == "Audiogram" and image["id"] == image_id
    assert (image["patient"], image["clinic"], image["station"]) == (creds["patients"][0], creds["clinics"][0], creds["stations"][0])


def test_five_megabyte_image_round_trips_byte_for_byte(client, auth, creds):
    raw = os.urandom(5 * 1024 * 1024)
    image_id = new_image(client, auth, creds, data=base64.b64encode(raw).decode(), image_type="Xray")
    response = client.get(f"{IMAGES}{image_id}/", headers=auth)
    assert response.status_code == 200
    assert base64.b64decode(response.get_json()["data"], validate=True) == raw


@pytest.mark.parametrize("data", ["abc!", "ABCDE", "AB=C", "ABCD\n", "AB CD", "", "ABC==", "====", "YWJj\r\n", "ä" * 8])
def test_non_base64_data_is_400(client, auth, creds, data):
    body = {"patient": creds["patients"][0], "clinic": creds["clinics"][0], "station": creds["stations"][0], "type": "Xray", "data": data}
    response = client.post(IMAGES, json=body, headers=auth)
    assert response.status_code == 400
    assert response.get_json()["detail"].startswith("data:")


def test_large_non_base64_data_is_400_with_a_short_message(client, auth, creds):
    data = base64.b64encode(os.urandom(3 * 1024 * 1024)).decode()[:-8] + "!!!!AAAA"
    body = {"patient": creds["patients"][0], "clinic": creds["clinics"][0], "station": creds["stations"][0], "type": "Xray", "data": data}
    response = client.post(IMAGES, json=body, headers=auth)
    assert response.status_code == 400
    assert len(response.get_data()) < 1000


@pytest.mark.parametrize("unknown", ["patient", "clinic", "station"])
def test_create_with_unknown_reference_is_404_not_403(client, auth, creds, unknown):
    body = {"patient": creds["patients"][0], "clinic": creds["clinics"][0], "station": creds["stations"][0], "type": "Xray", "data": "AAAA"}
    body[unknown] = 2_000_000_000
    response = client.post(IMAGES, json=body, headers=auth)
    assert response.status_code == 404 and response.get_json() == {"detail": "Not found."}


@pytest.mark.parametrize(
    "change",
    [
        {"type": "headshot"},
        {"type": None},
        {"patient": "abc"},
        {"patient": True},
        {"patient": 10**30},
        {"clinic": 0},
        {"station": -1},
        {"data": 12},
        {"patient": 1.5},
    ],
)
def test_create_with_malformed_field_is_400(client, auth, creds, change):
    body = {"patient": creds["patients"][0], "clinic": creds["clinics"][0], "station": creds["stations"][0], "type": "Xray", "data": "AAAA"}
    body.update(change)
    response = client.post(IMAGES, json=body, headers=auth)
    assert response.status_code == 400
    assert response.get_json()["detail"].startswith(next(iter(change)))


@pytest.mark.parametrize("missing", ["type", "clinic", "station", "patient", "data"])
def test_create_without_a_field_is_400(client, auth, creds, missing):
    body = {"patient": creds["patients"][0], "clinic": creds["clinics"][0], "station": creds["stations"][0], "type": "Xray", "data": "AAAA"}
    del body[missing]
    response = client.post(IMAGES, json=body, headers=auth)
    assert response.status_code == 400 and missing in response.get_json()["detail"]


@pytest.mark.parametrize("image_id", ["999999", "0", "-1", "abc", "1.5", "99999999999999999999", "%F0%9F%92%A9"])
def test_get_and_delete_unknown_or_malformed_id_is_404(client, auth, image_id):
    for method in ("GET", "DELETE"):
        response = client.open(f"{IMAGES}{image_id}/", method=method, headers=auth)
        assert response.status_code == 404, (method, image_id)
        assert response.get_json() == {"detail": "Not found."}


def test_delete_removes_the_image(client, auth, creds):
    image_id = new_image(client, auth, creds)
    response = client.delete(f"{IMAGES}{image_id}/", headers=auth)
    assert response.status_code == 200 and response.get_json() == {}
    assert client.get(f"{IMAGES}{image_id}/", headers=auth).status_code == 404
    assert client.delete(f"{IMAGES}{image_id}/", headers=auth).status_code == 404
    listed = client.get(IMAGES, query_string={"patient": creds["patients"][0]}, headers=auth)
    assert listed.status_code == 404 or image_id not in listed.get_json()


def test_ids_are_never_reused_and_reset_restores_the_seed(client, auth, creds):
    first = new_image(client, auth, creds)
    client.delete(f"{IMAGES}{first}/", headers=auth)
    assert new_image(client, auth, creds) > first
    assert client.delete(f"{IMAGES}1/", headers=auth).status_code == 200
    assert client.post("/__mock__/reset").status_code == 200
    assert client.get(f"{IMAGES}1/", headers=auth).status_code == 200
    assert new_image(client, auth, creds) == first, "after a reset the ids start where a fresh mock starts"


def test_wrong_method_is_405_with_allow(client, auth):
    response = client.put(IMAGES, headers=auth, json={})
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}


# -- list, filters, sort, newest -----------------------------------------------------------------
def test_list_is_ascending_ids_of_the_patient(client, auth, creds):
    patient = busiest_patient(client, auth, creds)
    ids = client.get(IMAGES, query_string={"patient": patient}, headers=auth).get_json()
    assert len(ids) > 3 and ids == sorted(ids)
    assert all(client.get(f"{IMAGES}{i}/", headers=auth).get_json()["patient"] == patient for i in ids)


@pytest.mark.parametrize("name", ["type", "clinic", "station"])
def test_list_filters(client, auth, creds, name):
    patient = busiest_patient(client, auth, creds)
    images = images_of(client, auth, patient)
    value = images[0][name]
    expected = [i["id"] for i in images if i[name] == value]
    response = client.get(IMAGES, query_string={"patient": patient, name: value}, headers=auth)
    assert response.status_code == 200 and response.get_json() == expected


def test_filters_combine(client, auth, creds):
    patient = busiest_patient(client, auth, creds)
    image = images_of(client, auth, patient)[0]
    query = {"patient": patient, "type": image["type"], "clinic": image["clinic"], "station": image["station"]}
    assert image["id"] in client.get(IMAGES, query_string=query, headers=auth).get_json()


def test_sort_is_most_recent_first(client, auth, creds):
    patient = busiest_patient(client, auth, creds)
    images = images_of(client, auth, patient)
    expected = [i["id"] for i in sorted(images, key=lambda i: (i["timestamp"], i["id"]), reverse=True)]
    sorted_ids = client.get(IMAGES, query_string={"patient": patient, "sort": "true"}, headers=auth).get_json()
    assert sorted_ids == expected
    assert sorted_ids != sorted(sorted_ids), "the seeded timestamps are not in id order"
    assert client.get(IMAGES, query_string={"patient": patient, "sort": "false"}, headers=auth).get_json() == sorted(expected)


def test_newest_returns_the_most_recent_image_object(client, auth, creds):
    patient = busiest_patient(client, auth, creds)
    images = images_of(client, auth, patient)
    newest = max(images, key=lambda i: (i["timestamp"], i["id"]))
    response = client.get(IMAGES, query_string={"patient": patient, "newest": "true"}, headers=auth)
    assert response.status_code == 200 and response.get_json() == newest
    created = new_image(client, auth, creds, data="bmV3ZXN0", patient=patient, image_type="Surgery")
    latest = client.get(IMAGES, query_string={"patient": patient, "newest": "true", "sort": "false"}, headers=auth).get_json()
    assert latest["id"] == created and latest["data"] == "bmV3ZXN0"
    filtered = client.get(IMAGES, query_string={"patient": patient, "newest": "true", "type": newest["type"]}, headers=auth).get_json()
    assert filtered["type"] == newest["type"]


def test_no_match_is_404(client, auth, creds):
    patient = busiest_patient(client, auth, creds)
    images = images_of(client, auth, patient)
    present = {(i["type"], i["station"]) for i in images}
    absent = next((t, s) for t in fixtures.IMAGE_TYPES for s in creds["stations"] if (t, s) not in present)
    for extra in ({}, {"newest": "true"}, {"sort": "true"}):
        response = client.get(IMAGES, query_string={"patient": patient, "type": absent[0], "station": absent[1], **extra}, headers=auth)
        assert response.status_code == 404 and response.get_json() == {"detail": "Not found."}


@pytest.mark.parametrize("name", ["patient", "clinic", "station"])
def test_list_with_unknown_reference_is_404(client, auth, creds, name):
    query = {"patient": creds["patients"][0], name: 2_000_000_000}
    assert client.get(IMAGES, query_string=query, headers=auth).status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"patient": "abc"},
        {"patient": "1", "sort": "yes"},
        {"patient": "1", "newest": "TRUE"},
        {"patient": "1", "type": "headshot"},
        {"patient": "1", "clinic": "1.5"},
        {"patient": "0"},
        {"patient": "1e309"},
        {"patient": "99999999999999999999999999999999"},
        {"patient": "\u00e9\u0000\U0001f4a9"},
    ],
)
def test_list_with_malformed_parameter_is_400(client, auth, query):
    response = client.get(IMAGES, query_string=query, headers=auth)
    assert response.status_code == 400 and isinstance(response.get_json()["detail"], str)


# -- never a 500 -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("POST", IMAGES, {"data": "{not json", "content_type": "application/json"}),
        ("POST", IMAGES, {"data": "[" * 100_000, "content_type": "application/json"}),
        ("POST", IMAGES, {"data": b"\xff\xfe\x00", "content_type": "application/json"}),
        ("POST", IMAGES, {"data": "null", "content_type": "application/json"}),
        ("POST", IMAGES, {"data": '"a string"', "content_type": "application/json"}),
        ("POST", IMAGES, {"data": "type=Xray", "content_type": "application/x-www-form-urlencoded"}),
        ("POST", IMAGES, {"data": "--b\r\n", "content_type": "multipart/form-data; boundary=b"}),
        ("POST", IMAGES, {"data": "hello", "content_type": "text/plain"}),
        ("POST", IMAGES, {"data": ""}),
        ("POST", LOGIN, {"data": "{", "content_type": "application/json"}),
        ("POST", LOGIN, {"data": "username=a&password=b", "content_type": "application/x-www-form-urlencoded"}),
        ("GET", IMAGES + "?patient=%ff%fe&type=%00&sort=%F0%9F%92%A9", {}),
        ("GET", IMAGES + "?patient=" + "9" * 5000, {}),
        ("GET", IMAGES + "?patient=1&patient=2&patient=x", {}),
        ("GET", IMAGES + "\u00e9\u00e8/", {}),
        ("DELETE", IMAGES + "%00/", {}),
    ],
)
def test_bad_input_is_never_a_500(client, auth, method, path, kwargs):
    response = client.open(path, method=method, headers=auth, **kwargs)
    assert 400 <= response.status_code < 500, response.get_data()[:300]
    assert isinstance(response.get_json()["detail"], str)


def test_served_beside_clarius_at_the_same_root(make):
    client = make(apis=("clarius", "tscharts"))
    creds = credentials(client)
    auth = {"Authorization": f"Token {creds['token']}"}
    assert client.get(f"{IMAGES}1/", headers=auth).status_code == 200
    assert client.get(f"{IMAGES}1/").headers["WWW-Authenticate"] == "Token"
    assert client.get("/api/public/v0/exams/accessible/").headers["WWW-Authenticate"] == "Service-API-Key"
    assert client.get("/specs/tscharts.yaml").status_code == 200


# -- deliberate defects: each one visibly changes behaviour -----------------------------------------
def strict_violation(response):
    assert response.status_code == 500
    return response.get_json()["medimock_strict_violation"]


def test_defect_get_missing_type(make):
    client = make("tscharts.get_missing_type")
    auth = {"Authorization": f"Token {credentials(client)['token']}"}
    violation = strict_violation(client.get(f"{IMAGES}1/", headers=auth))
    assert any("type" in v and "required" in v for v in violation["violations"])


def test_defect_auth_ignored(make):
    client = make("tscharts.auth_ignored")
    assert client.get(f"{IMAGES}1/").status_code == 200


def test_defect_newest_ignored(make):
    client = make("tscharts.newest_ignored")
    creds = credentials(client)
    auth = {"Authorization": f"Token {creds['token']}"}
    patient = busiest_patient(client, auth, creds)
    body = client.get(IMAGES, query_string={"patient": patient, "newest": "true"}, headers=auth).get_json()
    assert isinstance(body, list), "the id list instead of the most recent image"


def test_defect_delete_keeps_image(make):
    client = make("tscharts.delete_keeps_image")
    auth = {"Authorization": f"Token {credentials(client)['token']}"}
    assert client.delete(f"{IMAGES}1/", headers=auth).get_json() == {}
    assert client.get(f"{IMAGES}1/", headers=auth).status_code == 200


def test_defect_empty_list_200(make):
    client = make("tscharts.empty_list_200")
    creds = credentials(client)
    auth = {"Authorization": f"Token {creds['token']}"}
    empty = None
    for patient in creds["patients"]:
        for image_type in fixtures.IMAGE_TYPES:
            response = client.get(
                IMAGES, query_string={"patient": patient, "type": image_type, "station": creds["stations"][-1]}, headers=auth
            )
            if response.get_json() == []:
                empty = response
                break
        if empty is not None:
            break
    assert empty is not None and empty.status_code == 200


def test_defect_sort_ascending(make):
    client = make("tscharts.sort_ascending")
    creds = credentials(client)
    auth = {"Authorization": f"Token {creds['token']}"}
    patient = busiest_patient(client, auth, creds)
    images = {i["id"]: i["timestamp"] for i in images_of(client, auth, patient)}
    ids = client.get(IMAGES, query_string={"patient": patient, "sort": "true"}, headers=auth).get_json()
    stamps = [images[i] for i in ids]
    assert stamps == sorted(stamps), "oldest first"


def test_defect_login_id_integer(make):
    client = make("tscharts.login_id_integer")
    creds = credentials(client)
    violation = strict_violation(client.post(LOGIN, json={"username": creds["username"], "password": creds["password"]}))
    assert any(v.startswith("id:") for v in violation["violations"])


def test_every_defect_is_registered(client):
    from mockserver.apis.tscharts import API

    assert {name for name in API.defects} == {
        "tscharts.get_missing_type",
        "tscharts.auth_ignored",
        "tscharts.newest_ignored",
        "tscharts.delete_keeps_image",
        "tscharts.empty_list_200",
        "tscharts.sort_ascending",
        "tscharts.login_id_integer",
    }
