"""tscharts workflows: behaviour across calls, not only the shape of one response.

create -> get (the image data round-trips byte for byte, a several-megabyte PNG) -> list
(each filter, sort, newest) -> delete -> get is a 404; login; bad tokens. Every assertion
says what specs/tscharts/openapi.yaml (and its README) promises.

The image API cannot create patients, clinics or stations: the workflows use the ids the
target names (``TSCHARTS_PATIENTS``/``CLINICS``/``STATIONS``, or a medimock target's
``/__mock__/credentials``). The first patient is left to the property tests; the workflows
prefer a patient without images, so that "matches nothing" and "newest" are exact.
"""

from __future__ import annotations

import base64
import os
import struct
import zlib
from functools import cache
from typing import Any

import pytest

from medimock.suite import spec_schemas

SPEC = spec_schemas("tscharts")
UNKNOWN_ID = 2_147_483_000  # an id no test target is expected to hold (ids are at most 2**31 - 1)


@cache
def big_png(width: int = 1024, height: int = 1024) -> bytes:
    """A real PNG of random RGB noise: about 3 MB that no compression shrinks."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    noise = os.urandom(width * height * 3)
    raw = b"".join(b"\x00" + noise[row * width * 3 : (row + 1) * width * 3] for row in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b"")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def describe(response: Any) -> str:
    return f"{response.request.method} {response.request.path_url} -> {response.status_code} {response.text[:300]}"


def ids_of(tscharts: Any, **params: Any) -> list[int]:
    """The id list of a list query; [] when the target says nothing matches (the documented 404)."""
    response = tscharts.get("/image/", params=params)
    if response.status_code == 404:
        SPEC.assert_valid("Error", response.json(), f"the 404 of {describe(response)}")
        return []
    assert response.status_code == 200, describe(response)
    body = response.json()
    SPEC.assert_valid("ImageIdList", body, f"a list without newest=true ({describe(response)})")
    return body


@pytest.fixture(scope="module")
def places(tscharts):
    """(patient, patient_has_no_other_images, clinics, stations) for the image workflows."""
    if not (tscharts.patients and tscharts.clinics and tscharts.stations):
        pytest.skip("the target names no patient, clinic and station ids (TSCHARTS_PATIENTS, TSCHARTS_CLINICS, TSCHARTS_STATIONS)")
    candidates = tscharts.patients[1:] or tscharts.patients
    for patient in candidates[:40]:
        if not ids_of(tscharts, patient=patient):
            return patient, True, tscharts.clinics, tscharts.stations
    return candidates[-1], False, tscharts.clinics, tscharts.stations


def create(tscharts: Any, **body: Any) -> int:
    response = tscharts.request("POST", "/image/", json=body)
    assert response.status_code == 200, f"creating an image is a 200 (not 201), with all five fields: {describe(response)}"
    SPEC.assert_valid("ImageCreated", response.json(), "the create response")
    return response.json()["id"]


def test_image_lifecycle(tscharts, places):
    patient, clean, clinics, stations = places
    c1, c2 = clinics[0], clinics[-1] if len(clinics) > 1 else clinics[0]
    s1, s2 = stations[0], stations[-1] if len(stations) > 1 else stations[0]
    small = {name: os.urandom(48 + index) for index, name in enumerate("BCD")}
    plan = {
        "A": {"type": "Headshot", "clinic": c1, "station": s1, "raw": big_png()},
        "B": {"type": "Xray", "clinic": c1, "station": s2, "raw": small["B"]},
        "C": {"type": "Surgery", "clinic": c2, "station": s1, "raw": small["C"]},
        "D": {"type": "Headshot", "clinic": c2, "station": s2, "raw": small["D"]},
    }
    assert len(plan["A"]["raw"]) > 3_000_000
    ids: dict[str, int] = {}
    try:
        # -- create, then get: every field comes back, the data byte for byte ------------------
        for name, image in plan.items():
            fields = {k: v for k, v in image.items() if k != "raw"}
            ids[name] = create(tscharts, patient=patient, data=b64(image["raw"]), **fields)
        assert len(set(ids.values())) == 4, f"every created image gets its own id: {ids}"
        for name, image in plan.items():
            response = tscharts.get(f"/image/{ids[name]}/")
            assert response.status_code == 200, f"a created image can be fetched: {describe(response)}"
            body = response.json()
            SPEC.assert_valid("Image", body, f"GET /image/{ids[name]}/")
            expected = {"id": ids[name], "patient": patient, "clinic": image["clinic"], "station": image["station"], "type": image["type"]}
            assert {k: body[k] for k in expected} == expected, f"the image comes back as created: {name}"
            assert unb64(body["data"]) == image["raw"], f"image {name}: the data round-trips byte for byte ({len(image['raw'])} bytes)"

        mine = set(ids.values())
        order = [ids[name] for name in "ABCD"]  # creation order: A is the oldest, D the newest

        # -- list: each filter ---------------------------------------------------------------
        everything = ids_of(tscharts, patient=patient)
        assert mine <= set(everything), f"the list of the patient holds every image created: {everything}"
        if clean:
            assert set(everything) == mine, "the list holds only this patient's images"
        assert [i for i in everything if i in mine] == order, "without sort, ids come in ascending order (creation order)"
        filters = {
            "type": ("Headshot", {"A", "D"}),
            "clinic": (c1, {"A", "B"} if c1 != c2 else set("ABCD")),
            "station": (s1, {"A", "C"} if s1 != s2 else set("ABCD")),
        }
        for name, (value, expected_names) in filters.items():
            listed = ids_of(tscharts, patient=patient, **{name: value})
            expected = {ids[n] for n in expected_names}
            assert expected <= set(listed), f"{name}={value} lists every image with that {name}"
            assert not (mine - expected) & set(listed), f"{name}={value} lists no image with another {name}"
            for other in [i for i in listed if i not in mine][:5]:
                got = tscharts.get(f"/image/{other}/").json()
                assert got["patient"] == patient and got[name] == value, f"{name}={value}: image {other} does not match the filter"
        both = ids_of(tscharts, patient=patient, type="Headshot", clinic=c2)
        assert ids["D"] in both and ids["B"] not in both and ids["C"] not in both, "filters combine (type and clinic)"

        # -- sort and newest -------------------------------------------------------------------
        ranked = ids_of(tscharts, patient=patient, sort="true")
        assert [i for i in ranked if i in mine] == order[::-1], f"sort=true lists the most recent image first: {ranked}"
        assert set(ranked) == set(everything), "sort changes the order, not the set"
        stamps = [tscharts.get(f"/image/{i}/").json().get("timestamp") for i in ranked if i in mine]
        if all(stamps):
            assert stamps == sorted(stamps, reverse=True), f"sort=true orders by timestamp, most recent first: {stamps}"
        unsorted = ids_of(tscharts, patient=patient, sort="false")
        assert unsorted == everything, "sort=false is the default order"

        newest = tscharts.get("/image/", params={"patient": patient, "newest": "true"})
        assert newest.status_code == 200, describe(newest)
        body = newest.json()
        assert isinstance(body, dict), f"newest=true returns one image object, not an id list: {str(body)[:200]}"
        SPEC.assert_valid("Image", body, "the newest=true answer")
        assert body["id"] == ids["D"], f"newest=true returns the most recent image (D, {ids['D']}), not {body['id']}"
        assert unb64(body["data"]) == plan["D"]["raw"], "the newest image carries its data"
        for params, name in (({"type": "Xray"}, "B"), ({"station": s1, "clinic": c2}, "C"), ({"type": "Headshot", "clinic": c1}, "A")):
            if (params.get("clinic") == c1 == c2) or (params.get("station") == s1 == s2):
                continue
            got = tscharts.get("/image/", params={"patient": patient, "newest": "true", **params})
            assert got.status_code == 200 and isinstance(got.json(), dict), f"newest=true with {params}: {describe(got)}"
            assert got.json()["id"] == ids[name], f"newest=true with {params} returns the most recent matching image ({name})"

        # -- delete, then get is a 404 -----------------------------------------------------------
        deleted = tscharts.request("DELETE", f"/image/{ids['B']}/")
        assert deleted.status_code == 200, f"delete answers 200: {describe(deleted)}"
        SPEC.assert_valid("Empty", deleted.json(), "the delete response")
        gone = tscharts.get(f"/image/{ids['B']}/")
        assert gone.status_code == 404, f"a deleted image is not found: {describe(gone)}"
        SPEC.assert_valid("Error", gone.json(), "the 404 of a deleted image")
        again = tscharts.request("DELETE", f"/image/{ids['B']}/")
        assert again.status_code == 404, f"deleting twice gives 404 the second time: {describe(again)}"
        assert ids["B"] not in ids_of(tscharts, patient=patient), "a deleted image is no longer listed"
        if clean:
            nothing = tscharts.get("/image/", params={"patient": patient, "type": "Xray", "newest": "true"})
            assert nothing.status_code == 404, f"newest=true matching nothing is a 404: {describe(nothing)}"
        for name in "ACD":
            assert tscharts.request("DELETE", f"/image/{ids.pop(name)}/").status_code == 200
        ids.pop("B")
        if clean:
            empty = tscharts.get("/image/", params={"patient": patient})
            assert empty.status_code == 404, f"a list query that matches nothing is a 404, not 200 []: {describe(empty)}"
    finally:
        for image_id in ids.values():
            tscharts.request("DELETE", f"/image/{image_id}/")


@pytest.mark.parametrize("data", ["ABCDEFG", "iVBORw0KGgo=", "AAEC/+8="])
def test_base64_forms_round_trip(tscharts, places, data):
    """The document's unpadded example and padded data are both accepted and come back as the same bytes."""
    patient, _, clinics, stations = places
    image_id = create(tscharts, patient=patient, clinic=clinics[0], station=stations[0], type="Audiogram", data=data)
    try:
        response = tscharts.get(f"/image/{image_id}/")
        assert response.status_code == 200, describe(response)
        SPEC.assert_valid("Image", response.json(), f"GET /image/{image_id}/")
        assert response.json()["type"] == "Audiogram", "Audiogram is one of the four documented types"
        assert unb64(response.json()["data"]) == unb64(data), f"the data {data!r} round-trips byte for byte"
    finally:
        assert tscharts.request("DELETE", f"/image/{image_id}/").status_code == 200
    assert tscharts.get(f"/image/{image_id}/").status_code == 404, "a deleted image is not found"


def test_list_matching_nothing_is_404(tscharts, places):
    patient, clean, clinics, stations = places
    if not clean:
        pytest.skip("every patient the target names has images")
    for params in ({}, {"type": "Audiogram"}, {"sort": "true"}, {"clinic": clinics[0], "station": stations[0]}):
        response = tscharts.get("/image/", params={"patient": patient, **params})
        assert response.status_code == 404, f"a list query that matches no image is a 404 (not 200 []): {describe(response)}"
        SPEC.assert_valid("Error", response.json(), describe(response))


def test_unknown_patient_clinic_station_is_404(tscharts, places):
    patient, _, clinics, stations = places
    body = {"patient": patient, "clinic": clinics[0], "station": stations[0], "type": "Xray", "data": "ABCDEFG"}
    for name in ("patient", "clinic", "station"):
        response = tscharts.request("POST", "/image/", json={**body, name: UNKNOWN_ID})
        assert response.status_code == 404, f"creating an image for an unknown {name} is a 404: {describe(response)}"
        SPEC.assert_valid("Error", response.json(), describe(response))
        listed = tscharts.get("/image/", params={"patient": patient, name: UNKNOWN_ID})
        assert listed.status_code == 404, f"listing with an unknown {name} is a 404: {describe(listed)}"
    assert tscharts.get(f"/image/{UNKNOWN_ID}/").status_code == 404, "an unknown image id is a 404"
    assert tscharts.get("/image/abc/").status_code == 404, "an image id that is not a number is a 404"


@pytest.mark.parametrize(
    "change",
    [
        {"type": "headshot"},
        {"type": None},
        {"patient": "343"},
        {"clinic": 1.5},
        {"data": "not base64!"},
        {"data": "ABCDE"},
        {"data": ""},
        "missing:data",
        "missing:station",
    ],
)
def test_invalid_create_is_400(tscharts, places, change):
    patient, _, clinics, stations = places
    body: dict[str, Any] = {"patient": patient, "clinic": clinics[0], "station": stations[0], "type": "Xray", "data": "ABCDEFG"}
    if isinstance(change, str):
        body.pop(change.split(":")[1])
    else:
        body.update(change)
    response = tscharts.request("POST", "/image/", json=body)
    assert response.status_code == 400, f"an invalid create ({change}) is a 400: {describe(response)}"
    SPEC.assert_valid("Error", response.json(), describe(response))


@pytest.mark.parametrize("params", [{"sort": "yes"}, {"newest": "True"}, {"type": "xray"}, {"clinic": "abc"}, {"patient": None}])
def test_bad_list_parameters_are_400(tscharts, places, params):
    query = {"patient": places[0], **params}
    response = tscharts.get("/image/", params={k: v for k, v in query.items() if v is not None})
    assert response.status_code == 400, f"a malformed list parameter ({params}) is a 400: {describe(response)}"
    SPEC.assert_valid("Error", response.json(), describe(response))


# -- login and tokens ---------------------------------------------------------------------------


def login(tscharts: Any, body: Any) -> Any:
    return tscharts.session.post(tscharts.url("/login/"), json=body, timeout=30)


def test_login_gives_a_working_token(tscharts):
    creds = tscharts.api.credentials
    if not (creds.get("username") and creds.get("password")):
        pytest.skip("the target names no user (TSCHARTS_USERNAME, TSCHARTS_PASSWORD)")
    response = login(tscharts, {"username": creds["username"], "password": creds["password"]})
    assert response.status_code == 200, f"a good username and password log in: {describe(response)}"
    body = response.json()
    SPEC.assert_valid("LoginResponse", body, "the login response")
    assert isinstance(body["id"], str), "the user id is a string"
    headers = {"Authorization": f"Token {body['token']}"}
    works = tscharts.get(f"/image/{UNKNOWN_ID}/", headers=headers)
    assert works.status_code == 404, f"the token from login authenticates (404 for an unknown image, not 401): {describe(works)}"
    again = login(tscharts, {"username": creds["username"], "password": creds["password"]})
    assert again.status_code == 200 and again.json()["token"] == body["token"], "the same user always gets the same token"

    for bad in ({"username": creds["username"], "password": creds["password"] + "x"}, {"username": "no-such-user-x", "password": "x"}):
        refused = login(tscharts, bad)
        assert refused.status_code == 403, f"an unknown user or a wrong password is a 403: {describe(refused)}"
        SPEC.assert_valid("Error", refused.json(), describe(refused))
    for incomplete in ({"username": creds["username"]}, {"password": creds["password"]}, [], "x"):
        response = login(tscharts, incomplete)
        assert response.status_code == 400, f"a login without username or password is a 400 ({incomplete!r}): {describe(response)}"


def test_inactive_user_cannot_log_in(tscharts):
    inactive = [u for u in tscharts.api.credentials.get("users") or [] if isinstance(u, dict) and u.get("active") is False]
    if not inactive:
        pytest.skip("the target names no inactive user")
    user = inactive[0]
    response = login(tscharts, {"username": user["username"], "password": user["password"]})
    assert response.status_code == 403, f"an inactive user cannot log in: {describe(response)}"
    if user.get("token"):
        refused = tscharts.get(f"/image/{UNKNOWN_ID}/", headers={"Authorization": f"Token {user['token']}"})
        assert refused.status_code == 401, f"an inactive user's token is refused: {describe(refused)}"


@pytest.mark.parametrize(
    "authorization",
    [None, "Token", "Token a b", "Token " + "0" * 40, "Bearer {token}", "Basic dXNlcjpwYXNz", "{token}"],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/image/?patient=1"), ("GET", f"/image/{UNKNOWN_ID}/"), ("DELETE", f"/image/{UNKNOWN_ID}/"), ("POST", "/image/")],
)
def test_bad_tokens_are_401(tscharts, authorization, method, path):
    headers = {"Authorization": authorization.format(token=tscharts.token)} if authorization else {}
    body = {"patient": 1, "clinic": 1, "station": 1, "type": "Xray", "data": "ABCDEFG"} if method == "POST" else None
    response = tscharts.request(method, path, headers=headers, json=body)
    assert response.status_code == 401, f"{method} {path} with Authorization {authorization!r} is a 401: {describe(response)}"
    SPEC.assert_valid("Error", response.json(), describe(response))
    assert response.headers.get("WWW-Authenticate") == "Token", "a 401 carries WWW-Authenticate: Token"
