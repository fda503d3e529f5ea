"""tscharts workflows: behaviour across calls, not only the shape of one response.

create -> get (the image data round-trips byte for byte) -> list (each filter, sort, newest) ->
delete -> get is a 404; a large round trip; login; bad tokens. Every check names its source: the
line of specs/sources/tscharts-image-api.txt it enforces (``Document``), or the medimock convention
it follows where the document is silent (``Convention``: the reference server's 404s, DRF's JSON
error bodies, its 401s), which only warns unless the run is strict.

The image API cannot create patients, clinics or stations: the workflows use the ids the target
names (``TSCHARTS_PATIENTS``/``CLINICS``/``STATIONS``, or a medimock target's
``/__mock__/credentials``). The first patient is left to the property tests; the workflows prefer a
patient without images, so that "matches nothing" and "newest" are exact. Every image a test
creates is deleted, also when the target wrongly accepted it.
"""

from __future__ import annotations

import base64
import os
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import pytest

from medimock.suite import DEFAULT_MAX_BODY, SetupStep, max_body, spec_schemas
from medimock.verdict import Convention, Document, expect, field, json_body

SPEC = spec_schemas("tscharts")
UNKNOWN_ID = 2_147_483_000  # an id no test target is expected to hold (ids are at most 2**31 - 1)
SOURCE = "tscharts-image-api.txt"

# -- what the document says (specs/sources/tscharts-image-api.txt) --------------------------------
GET_ONE = Document(SOURCE, 'Content: {"patient":id,"data":"base64"')
GET_404 = Document(SOURCE, "Code: 404 NOT FOUND", after="Get Image")
LIST = Document(
    SOURCE, "Returns a vector of image ids matching supplied search parameters.", also=Document(SOURCE, "Content: [id, ...]").anchors
)
LIST_FILTERS = Document(SOURCE, "Optional:", after="Get Multiple Images", lines=7)
LIST_SORT = Document(SOURCE, 'sort ["true" | "false"] -- sort by image timestamp')
LIST_NEWEST = Document(SOURCE, 'newest ["true" | "false"] -- return most recent image')
LIST_400 = Document(SOURCE, "Code: 400 BAD REQUEST", after="Get Multiple Images")
LIST_PATIENT = Document(SOURCE, "Required:", after="Get Multiple Images", lines=3)
CREATE = Document(SOURCE, "Content: { id : 12 }", also=Document(SOURCE, "Code: 200", after="Create Image").anchors)
CREATE_FIELDS = Document(SOURCE, "Required:", after="Create Image", lines=7)
CREATE_400 = Document(SOURCE, "Code: 400 BAD REQUEST", after="Create Image")
TYPES = Document(SOURCE, 'type case-sensitive string, one of "Headshot", "Surgery", "Audiogram", or "Xray"', occurrence=2)
DATA = Document(SOURCE, "data base64 image data")
DELETE = Document(SOURCE, "Code: 200", after="Delete Image", lines=2)
DELETE_404 = Document(SOURCE, "Code: 404 NOT FOUND", after="Delete Image")
TOKEN = Document(SOURCE, "Authorization: Token 53f29e4dfc917c28a0e71f26525307250f1f8101", occurrence=1)

# -- what medimock chose where the document is silent -----------------------------------------------
JSON_ERRORS = Convention(
    "json-error-body",
    'the document shows no error body; the reference server\'s Django 400/404 are empty, medimock answers DRF\'s {"detail": "..."}',
)
REFERENCE_404 = Convention(
    "reference-server-404",
    'the document lists "403 NOT FOUND" for an unknown patient, clinic or station, and nothing for a query matching no image; '
    "the reference server answers 404 for both, and so does medimock",
)
SORT_DIRECTION = Convention(
    "sort-direction", "the document says \"sort by image timestamp\"; most recent first is the reference server's order_by('-timestamp')"
)
DEFAULT_ORDER = Convention(
    "default-order", "the document gives no order without sort; the reference server lists ascending ids (creation order)"
)
UNPADDED = Convention(
    "base64-padding", 'the document\'s own example data "ABCDEFG" is unpadded; medimock accepts base64 with or without padding'
)
TOKEN_401 = Convention(
    "token-401",
    'the document shows "Authorization: Token <key>" in every example but not how a missing or bad token is refused; '
    "DRF's TokenAuthentication (the reference server) answers 401 with WWW-Authenticate: Token",
)
DRF_MESSAGES = Convention(
    "drf-token-messages",
    "the document shows no error body; DRF's TokenAuthentication (the reference server) says why a token is refused: "
    '"Authentication credentials were not provided." without Token credentials, "Invalid token header. No credentials provided." '
    'for a bare "Token", "Invalid token header. Token string should not contain spaces." and "Invalid token."',
)
FIELD_DETAIL = Convention(
    "field-detail",
    "the document gives a 400 for a bad create but no body; DRF's validation errors name each refused field, and so does "
    'medimock\'s detail ("<field>: <why>")',
)
MEDIA_400 = Convention(
    "media-type-400",
    "the document gives a create's errors as 400 BAD REQUEST and names no media type but JSON; for a body of another media type "
    "DRF would answer 415, medimock answers the document's 400",
)
LOGIN = Convention("login", "beyond the image document: real tscharts deployments hand out tokens through LoginView (tscharts/views.py)")
SIZE_LIMIT = Convention(
    "size-limit",
    "the document names no size limit for image data; medimock accepts 32 MiB, Django's default DATA_UPLOAD_MAX_MEMORY_SIZE is 2.5 MiB",
)
JSON_TYPES = Convention(
    "json-types",
    "the document's examples send ids as JSON numbers and data as a non-empty string, but it does not say that other JSON "
    'types ("343", 1.5) or empty data are refused; the reference server coerces them, medimock refuses them with a 400',
)
ID_IN_PATH = Convention(
    "id-in-path", "the document's URL is /tscharts/v1/image/id; an id that is not a number matches no route (404) on the reference server"
)


@cache
def noise_png(raw_bytes: int) -> bytes:
    """A real PNG of random RGB noise, about ``raw_bytes`` long (no compression shrinks it)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    width = 512
    height = max(1, raw_bytes // (width * 3))
    noise = os.urandom(width * height * 3)
    raw = b"".join(b"\x00" + noise[row * width * 3 : (row + 1) * width * 3] for row in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b"")


def image_fitting(limit: int) -> bytes:
    """The largest noise PNG whose create body (base64 in JSON) stays under ``limit`` bytes."""
    return noise_png(max(1024, (limit - 2048) * 3 // 4 - 1024))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: Any) -> bytes | None:
    if not isinstance(text, str):
        return None
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except ValueError:
        return None


def error_body(response: Any) -> None:
    """An error's body: DRF's {"detail": ...} (medimock's convention; the document shows none)."""
    body = json_body(response, JSON_ERRORS, "an error reply")
    if body is not None:
        problems = SPEC.errors("Error", body)
        expect(JSON_ERRORS, not problems, f"an error reply is {{'detail': '...'}}: {problems[:3]}", response)


def valid(name: str, body: Any, source: Any, what: str, response: Any) -> bool:
    """``body`` matches the spec's schema ``name``; a failure names the fields."""
    problems = SPEC.errors(name, body)
    return expect(source, not problems, f"{what} matches the {name} schema: " + "; ".join(problems[:8]), response)


def not_found(response: Any, source: Any, what: str) -> None:
    """A documented 404 (``source``), with DRF's JSON body as a convention."""
    if expect(source, response.status_code == 404, f"{what} is a 404, not {response.status_code}", response):
        error_body(response)


def ids_of(tscharts: Any, **params: Any) -> list[int]:
    """The id list of a list query; [] when the target says nothing matches (the reference server's 404)."""
    response = tscharts.get("/image/", params=params)
    if response.status_code == 404:
        error_body(response)
        return []
    expect(LIST, response.status_code == 200, f"a list query ({params}) answers 200 with [id, ...], not {response.status_code}", response)
    body = json_body(response, LIST, "a list without newest=true")
    expect(LIST, isinstance(body, list), "a list without newest=true is [id, ...]", response)
    valid("ImageIdList", body, LIST, "a list without newest=true", response)
    return [item for item in body if isinstance(item, int)]


@contextmanager
def images(tscharts: Any) -> Iterator[list[int]]:
    """Collects the ids of images a test created (or the target wrongly accepted) and deletes them all after."""
    created: list[int] = []
    try:
        yield created
    finally:
        for image_id in created:
            tscharts.request("DELETE", f"/image/{image_id}/")


def create(tscharts: Any, created: list[int], **body: Any) -> int:
    response = tscharts.request("POST", "/image/", json=body)
    image_id = tscharts.created_id(response)
    if image_id is not None:
        created.append(image_id)
    expect(CREATE, response.status_code == 200, f"creating an image with all five fields is a 200 (not {response.status_code})", response)
    reply = json_body(response, CREATE, "the create reply")
    valid("ImageCreated", reply, CREATE, "the create reply", response)
    expect(CREATE, image_id is not None, "the create reply holds the new image's id", response)
    return int(image_id or 0)


def get_image(tscharts: Any, image_id: int, what: str = "") -> dict[str, Any]:
    response = tscharts.get(f"/image/{image_id}/")
    expect(
        GET_ONE, response.status_code == 200, f"{what or f'image {image_id}'} can be fetched (200, not {response.status_code})", response
    )
    body = json_body(response, GET_ONE, f"GET /image/{image_id}/")
    valid("Image", body, GET_ONE, f"GET /image/{image_id}/", response)
    return body if isinstance(body, dict) else {}


@pytest.fixture(scope="module")
def _places(tscharts) -> SetupStep:
    def find() -> tuple[int, bool, list[int], list[int]]:
        candidates = tscharts.patients[1:] or tscharts.patients
        for patient in candidates[:40]:
            if not ids_of(tscharts, patient=patient):
                return patient, True, tscharts.clinics, tscharts.stations
        return candidates[-1], False, tscharts.clinics, tscharts.stations

    return SetupStep("places: a patient for the image workflows (GET /tscharts/v1/image/?patient=...)", find)


@pytest.fixture
def places(tscharts, _places, request):
    """(patient, patient_has_no_other_images, clinics, stations) for the image workflows."""
    if not (tscharts.patients and tscharts.clinics and tscharts.stations):
        pytest.skip("the target names no patient, clinic and station ids (TSCHARTS_PATIENTS, TSCHARTS_CLINICS, TSCHARTS_STATIONS)")
    return _places.get(request)


def test_image_lifecycle(tscharts, places):
    patient, clean, clinics, stations = places
    c1, c2 = clinics[0], clinics[-1] if len(clinics) > 1 else clinics[0]
    s1, s2 = stations[0], stations[-1] if len(stations) > 1 else stations[0]
    small = {name: os.urandom(48 + index) for index, name in enumerate("BCD")}
    plan = {
        "A": {"type": "Headshot", "clinic": c1, "station": s1, "raw": image_fitting(min(max_body(), DEFAULT_MAX_BODY))},
        "B": {"type": "Xray", "clinic": c1, "station": s2, "raw": small["B"]},
        "C": {"type": "Surgery", "clinic": c2, "station": s1, "raw": small["C"]},
        "D": {"type": "Headshot", "clinic": c2, "station": s2, "raw": small["D"]},
    }
    ids: dict[str, int] = {}
    with images(tscharts) as created:
        # -- create, then get: every field comes back, the data byte for byte ------------------
        for name, image in plan.items():
            fields = {k: v for k, v in image.items() if k != "raw"}
            ids[name] = create(tscharts, created, patient=patient, data=b64(image["raw"]), **fields)
        expect(CREATE, len(set(ids.values())) == 4, f"every created image gets its own id: {ids}")
        for name, image in plan.items():
            body = get_image(tscharts, ids[name], f"created image {name}")
            expected = {"id": ids[name], "patient": patient, "clinic": image["clinic"], "station": image["station"], "type": image["type"]}
            got = {k: body.get(k) for k in expected}
            expect(GET_ONE, got == expected, f"image {name} comes back as created: {got} != {expected}")
            expect(
                DATA,
                unb64(body.get("data")) == image["raw"],
                f"image {name}: the data round-trips byte for byte ({len(image['raw'])} bytes)",
            )

        mine = set(ids.values())
        order = [ids[name] for name in "ABCD"]  # creation order: A is the oldest, D the newest

        # -- list: each filter ---------------------------------------------------------------
        everything = ids_of(tscharts, patient=patient)
        expect(LIST, mine <= set(everything), f"the list of the patient holds every image created: {everything}")
        if clean:
            expect(LIST, set(everything) == mine, "the list holds only this patient's images")
        expect(DEFAULT_ORDER, [i for i in everything if i in mine] == order, "without sort, ids come in ascending order (creation order)")
        filters = {
            "type": ("Headshot", {"A", "D"}),
            "clinic": (c1, {"A", "B"} if c1 != c2 else set("ABCD")),
            "station": (s1, {"A", "C"} if s1 != s2 else set("ABCD")),
        }
        for name, (value, expected_names) in filters.items():
            listed = ids_of(tscharts, patient=patient, **{name: value})
            expected = {ids[n] for n in expected_names}
            expect(LIST_FILTERS, expected <= set(listed), f"{name}={value} lists every image with that {name}")
            expect(LIST_FILTERS, not (mine - expected) & set(listed), f"{name}={value} lists no image with another {name}")
            for other in [i for i in listed if i not in mine][:5]:
                got = get_image(tscharts, other)
                expect(
                    LIST_FILTERS, got.get("patient") == patient and got.get(name) == value, f"{name}={value}: image {other} does not match"
                )
        both = ids_of(tscharts, patient=patient, type="Headshot", clinic=c2)
        expect(LIST_FILTERS, ids["D"] in both and ids["B"] not in both and ids["C"] not in both, "filters combine (type and clinic)")

        # -- sort and newest -------------------------------------------------------------------
        ranked = ids_of(tscharts, patient=patient, sort="true")
        expect(LIST_SORT, set(ranked) == set(everything), "sort changes the order, not the set")
        expect(SORT_DIRECTION, [i for i in ranked if i in mine] == order[::-1], f"sort=true lists the most recent image first: {ranked}")
        stamps = [get_image(tscharts, i).get("timestamp") for i in ranked if i in mine]
        if all(stamps):
            expect(SORT_DIRECTION, stamps == sorted(stamps, reverse=True), f"sort=true orders by timestamp, most recent first: {stamps}")
        unsorted = ids_of(tscharts, patient=patient, sort="false")
        expect(DEFAULT_ORDER, unsorted == everything, "sort=false is the default order")

        newest = tscharts.get("/image/", params={"patient": patient, "newest": "true"})
        expect(LIST_NEWEST, newest.status_code == 200, "newest=true answers 200", newest)
        body = json_body(newest, LIST_NEWEST, "the newest=true answer")
        if expect(LIST_NEWEST, isinstance(body, dict), f"newest=true returns the most recent image, not a list: {str(body)[:200]}", newest):
            valid("Image", body, LIST_NEWEST, "the newest=true answer", newest)
            expect(
                LIST_NEWEST,
                body.get("id") == ids["D"],
                f"newest=true returns the most recent image (D, {ids['D']}), not {body.get('id')}",
                newest,
            )
            expect(LIST_NEWEST, unb64(body.get("data")) == plan["D"]["raw"], "the newest image carries its data", newest)
        for params, name in (({"type": "Xray"}, "B"), ({"station": s1, "clinic": c2}, "C"), ({"type": "Headshot", "clinic": c1}, "A")):
            if (params.get("clinic") == c1 == c2) or (params.get("station") == s1 == s2):
                continue
            got = tscharts.get("/image/", params={"patient": patient, "newest": "true", **params})
            reply = json_body(got, LIST_NEWEST, f"newest=true with {params}") if got.status_code == 200 else None
            expect(LIST_NEWEST, isinstance(reply, dict), f"newest=true with {params} answers 200 with one image", got)
            expect(
                LIST_NEWEST,
                field(reply, "id", LIST_NEWEST, got) == ids[name],
                f"newest=true with {params} is the most recent match ({name})",
                got,
            )

        # -- delete, then get is a 404 -----------------------------------------------------------
        deleted = tscharts.request("DELETE", f"/image/{ids['B']}/")
        expect(DELETE, deleted.status_code == 200, "delete answers 200", deleted)
        not_found(tscharts.get(f"/image/{ids['B']}/"), GET_404, "getting a deleted image")
        not_found(tscharts.request("DELETE", f"/image/{ids['B']}/"), DELETE_404, "deleting an image twice")
        expect(LIST, ids["B"] not in ids_of(tscharts, patient=patient), "a deleted image is no longer listed")
        if clean:
            nothing = tscharts.get("/image/", params={"patient": patient, "type": "Xray", "newest": "true"})
            expect(REFERENCE_404, nothing.status_code == 404, "newest=true matching nothing is a 404", nothing)
        for name in "ACD":
            gone = tscharts.request("DELETE", f"/image/{ids[name]}/")
            expect(DELETE, gone.status_code == 200, f"deleting image {name} answers 200", gone)
        if clean:
            empty = tscharts.get("/image/", params={"patient": patient})
            expect(REFERENCE_404, empty.status_code == 404, "a list query that matches nothing is a 404, not 200 []", empty)


LARGE_IMAGE = 3_000_000  # bytes of PNG: about 4 MB of JSON once base64-encoded


def test_large_image_round_trip(tscharts, places):
    """A several-megabyte image round-trips byte for byte. Needs a request limit above ~4 MB on the target."""
    raw = noise_png(LARGE_IMAGE)
    needed = len(b64(raw)) + 2048
    if max_body() < needed:
        pytest.skip(f"needs request bodies of {needed / 1e6:.1f} MB; MEDIMOCK_MAX_BODY is {max_body() / 1e6:.1f} MB")
    patient, _, clinics, stations = places
    with images(tscharts) as created:
        body = {"patient": patient, "clinic": clinics[0], "station": stations[0], "type": "Xray", "data": b64(raw)}
        response = tscharts.request("POST", "/image/", json=body)
        image_id = tscharts.created_id(response)
        if image_id is not None:
            created.append(image_id)
        if response.status_code == 413 or (response.status_code == 400 and not response.content):
            expect(
                SIZE_LIMIT,
                False,
                f"a {needed / 1e6:.1f} MB create is accepted; the target refused it ({response.status_code}"
                f"{', empty body' if not response.content else ''}): its request size limit is lower"
                " (Django: DATA_UPLOAD_MAX_MEMORY_SIZE); raise it, or set MEDIMOCK_MAX_BODY below the limit to skip this test",
                response,
            )
            return
        expect(CREATE, response.status_code == 200 and image_id is not None, f"a {needed / 1e6:.1f} MB create is accepted", response)
        if image_id is not None:
            got = get_image(tscharts, image_id, "the large image")
            expect(DATA, unb64(got.get("data")) == raw, f"a {len(raw)}-byte image round-trips byte for byte")


@pytest.mark.parametrize("data", ["ABCDEFG", "iVBORw0KGgo=", "AAEC/+8="])
def test_base64_forms_round_trip(tscharts, places, data):
    """The document's unpadded example and padded data are both accepted and come back as the same bytes."""
    patient, _, clinics, stations = places
    source = UNPADDED if data == "ABCDEFG" else DATA
    with images(tscharts) as created:
        response = tscharts.request(
            "POST", "/image/", json={"patient": patient, "clinic": clinics[0], "station": stations[0], "type": "Audiogram", "data": data}
        )
        image_id = tscharts.created_id(response)
        if image_id is not None:
            created.append(image_id)
        if not expect(source, response.status_code == 200 and image_id is not None, f"base64 data {data!r} is accepted", response):
            return
        body = get_image(tscharts, image_id)
        expect(TYPES, body.get("type") == "Audiogram", "Audiogram is one of the four documented types")
        expect(DATA, unb64(body.get("data")) == unb64(data), f"the data {data!r} round-trips byte for byte")
        deleted = tscharts.request("DELETE", f"/image/{image_id}/")
        expect(DELETE, deleted.status_code == 200, "delete answers 200", deleted)
        created.remove(image_id)
    not_found(tscharts.get(f"/image/{image_id}/"), GET_404, "a deleted image")


def test_list_matching_nothing_is_404(tscharts, places):
    patient, clean, clinics, stations = places
    if not clean:
        pytest.skip("every patient the target names has images")
    for params in ({}, {"type": "Audiogram"}, {"sort": "true"}, {"clinic": clinics[0], "station": stations[0]}):
        response = tscharts.get("/image/", params={"patient": patient, **params})
        expect(REFERENCE_404, response.status_code == 404, f"a list query that matches no image ({params}) is a 404, not 200 []", response)
        if response.status_code == 404:
            error_body(response)


def test_unknown_patient_clinic_station_is_404(tscharts, places):
    patient, _, clinics, stations = places
    body = {"patient": patient, "clinic": clinics[0], "station": stations[0], "type": "Xray", "data": "ABCDEFG"}
    with images(tscharts) as created:
        for name in ("patient", "clinic", "station"):
            response = tscharts.request("POST", "/image/", json={**body, name: UNKNOWN_ID})
            image_id = tscharts.created_id(response)
            if image_id is not None:
                created.append(image_id)
            expect(CREATE_400, response.status_code in (400, 403, 404), f"creating an image for an unknown {name} is refused", response)
            expect(REFERENCE_404, response.status_code == 404, f"creating an image for an unknown {name} is a 404", response)
            listed = tscharts.get("/image/", params={"patient": patient, name: UNKNOWN_ID})
            expect(REFERENCE_404, listed.status_code == 404, f"listing with an unknown {name} is a 404", listed)
    not_found(tscharts.get(f"/image/{UNKNOWN_ID}/"), GET_404, "an unknown image id")
    response = tscharts.get("/image/abc/")
    expect(ID_IN_PATH, response.status_code == 404, "an image id that is not a number is a 404", response)


@pytest.mark.parametrize(
    ("change", "source"),
    [
        ({"type": "headshot"}, TYPES),
        ({"type": None}, TYPES),
        ({"patient": "343"}, JSON_TYPES),
        ({"clinic": 1.5}, JSON_TYPES),
        ({"data": "not base64!"}, DATA),
        ({"data": "ABCDE"}, DATA),
        ({"data": ""}, JSON_TYPES),
        ("missing:data", CREATE_FIELDS),
        ("missing:station", CREATE_FIELDS),
    ],
    ids=[
        "type-lower",
        "type-null",
        "patient-string",
        "clinic-float",
        "data-not-base64",
        "data-bad-length",
        "data-empty",
        "no-data",
        "no-station",
    ],
)
def test_invalid_create_is_400(tscharts, places, change, source):
    patient, _, clinics, stations = places
    body: dict[str, Any] = {"patient": patient, "clinic": clinics[0], "station": stations[0], "type": "Xray", "data": "ABCDEFG"}
    if isinstance(change, str):
        body.pop(change.split(":")[1])
    else:
        body.update(change)
    with images(tscharts) as created:
        response = tscharts.request("POST", "/image/", json=body)
        image_id = tscharts.created_id(response)
        if image_id is not None:
            created.append(image_id)  # wrongly accepted: deleted all the same
        expect(
            source, response.status_code == 400, f"an invalid create ({change}) is a 400 BAD REQUEST, not {response.status_code}", response
        )
        if response.status_code == 400:
            error_body(response)
            name = change.split(":")[1] if isinstance(change, str) else next(iter(change))
            detail = (json_body(response, JSON_ERRORS, "an error reply") or {}).get("detail")
            expect(FIELD_DETAIL, isinstance(detail, str) and f"{name}:" in detail, f"the 400's detail names the field {name!r}", response)


@pytest.mark.parametrize(
    ("data", "content_type"),
    [(b"{not json", "application/json"), (b"[1, 2]", "application/json"), (b'"Xray"', "application/json"), (b"patient=1", "text/plain")],
    ids=["invalid-json", "json-array", "json-string", "text-plain"],
)
def test_create_body_that_is_not_a_json_object_is_400(tscharts, data, content_type):
    """The document's create takes a JSON object; anything else is its 400 BAD REQUEST (DRF's parse error), with DRF's body."""
    headers = {**tscharts.headers, "Content-Type": content_type}
    with images(tscharts) as created:
        response = tscharts.request("POST", "/image/", data=data, headers=headers)
        image_id = tscharts.created_id(response)
        if image_id is not None:
            created.append(image_id)
        expect(
            CREATE_400 if content_type == "application/json" else MEDIA_400,
            response.status_code == 400,
            f"a create body {data!r} ({content_type}) is a 400, not {response.status_code}",
            response,
        )
        if response.status_code == 400:
            error_body(response)


@pytest.mark.parametrize(
    ("params", "source"),
    [
        ({"sort": "yes"}, LIST_SORT),
        ({"newest": "True"}, LIST_NEWEST),
        ({"type": "xray"}, TYPES),
        ({"clinic": "abc"}, LIST_400),
        ({"patient": None}, LIST_PATIENT),
    ],
    ids=["sort-yes", "newest-True", "type-lower", "clinic-abc", "no-patient"],
)
def test_bad_list_parameters_are_400(tscharts, places, params, source):
    query = {"patient": places[0], **params}
    response = tscharts.get("/image/", params={k: v for k, v in query.items() if v is not None})
    expect(
        source,
        response.status_code == 400,
        f"a malformed list parameter ({params}) is a 400 BAD REQUEST, not {response.status_code}",
        response,
    )
    if response.status_code == 400:
        error_body(response)


# -- login and tokens ---------------------------------------------------------------------------


def login(tscharts: Any, body: Any) -> Any:
    return tscharts.session.post(tscharts.url("/login/"), json=body, timeout=30)


def test_login_gives_a_working_token(tscharts):
    creds = tscharts.api.credentials
    if not (creds.get("username") and creds.get("password")):
        pytest.skip("the target names no user (TSCHARTS_USERNAME, TSCHARTS_PASSWORD)")
    response = login(tscharts, {"username": creds["username"], "password": creds["password"]})
    expect(LOGIN, response.status_code == 200, "a good username and password log in", response)
    body = json_body(response, LOGIN, "the login reply")
    if body is None or not valid("LoginResponse", body, LOGIN, "the login reply", response):
        return
    expect(LOGIN, isinstance(body.get("id"), str), "the user id is a string", response)
    headers = {"Authorization": f"Token {body.get('token')}"}
    works = tscharts.get(f"/image/{UNKNOWN_ID}/", headers=headers)
    expect(LOGIN, works.status_code == 404, "the token from login authenticates (404 for an unknown image, not 401)", works)
    again = login(tscharts, {"username": creds["username"], "password": creds["password"]})
    token = (json_body(again, LOGIN, "a second login") or {}).get("token") if again.status_code == 200 else None
    expect(LOGIN, token == body.get("token"), "the same user always gets the same token", again)

    for bad in ({"username": creds["username"], "password": creds["password"] + "x"}, {"username": "no-such-user-x", "password": "x"}):
        refused = login(tscharts, bad)
        expect(LOGIN, refused.status_code == 403, "an unknown user or a wrong password is a 403", refused)
    for incomplete in ({"username": creds["username"]}, {"password": creds["password"]}, [], "x"):
        response = login(tscharts, incomplete)
        expect(LOGIN, response.status_code == 400, f"a login without username or password is a 400 ({incomplete!r})", response)


def test_inactive_user_cannot_log_in(tscharts):
    inactive = [u for u in tscharts.api.credentials.get("users") or [] if isinstance(u, dict) and u.get("active") is False]
    if not inactive:
        pytest.skip("the target names no inactive user")
    user = inactive[0]
    response = login(tscharts, {"username": user["username"], "password": user["password"]})
    expect(LOGIN, response.status_code == 403, "an inactive user cannot log in", response)
    if user.get("token"):
        refused = tscharts.get(f"/image/{UNKNOWN_ID}/", headers={"Authorization": f"Token {user['token']}"})
        expect(TOKEN, refused.status_code in (401, 403), "an inactive user's token is refused", refused)
        expect(TOKEN_401, refused.status_code == 401, "an inactive user's token is a 401", refused)


# DRF's TokenAuthentication messages for the Authorization headers below (the others carry no Token credentials)
DRF_REFUSALS = {
    "Token": "Invalid token header. No credentials provided.",
    "Token a b": "Invalid token header. Token string should not contain spaces.",
    "Token " + "0" * 40: "Invalid token.",
}


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
    with images(tscharts) as created:
        response = tscharts.request(method, path, headers=headers, json=body)
        image_id = tscharts.created_id(response) if method == "POST" else None
        if image_id is not None:
            created.append(image_id)
        expect(TOKEN, response.status_code in (401, 403), f"{method} {path} with Authorization {authorization!r} is refused", response)
        if expect(TOKEN_401, response.status_code == 401, f"{method} {path} with Authorization {authorization!r} is a 401", response):
            error_body(response)
            expect(TOKEN_401, response.headers.get("WWW-Authenticate") == "Token", "a 401 carries WWW-Authenticate: Token", response)
            detail = (json_body(response, JSON_ERRORS, "an error reply") or {}).get("detail")
            expected = DRF_REFUSALS.get(authorization or "", "Authentication credentials were not provided.")
            expect(
                DRF_MESSAGES, detail == expected, f"Authorization {authorization!r}: the 401 says {expected!r}, not {detail!r}", response
            )
