"""tscharts contract fixtures: the image API of the target, with a token.

Credentials come from the environment (``TSCHARTS_TOKEN``, ``TSCHARTS_USERNAME``,
``TSCHARTS_PASSWORD``) or from a medimock target's ``/__mock__/credentials``; the image
workflows also need existing patient, clinic and station ids (``TSCHARTS_PATIENTS``,
``TSCHARTS_CLINICS``, ``TSCHARTS_STATIONS``: comma-separated), since the image API cannot
create them.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis

from medimock.suite import SPECS, Inventory, check_base_url, coin, is_negative, require
from medimock.target import ApiTarget, Target

SPEC = SPECS / "tscharts" / "openapi.yaml"
PREFIX = "/tscharts/v1"


def id_list(value: Any) -> list[int]:
    """Ids from a credentials entry: a list (``/__mock__/credentials``) or "1,2,3" (environment)."""
    if value in (None, ""):
        return []
    if isinstance(value, str):
        return [int(part) for part in value.replace(" ", "").split(",") if part]
    return [int(item) for item in value]


class Tscharts:
    """The tscharts API of the target, with an authenticated session."""

    def __init__(self, api: ApiTarget, session: requests.Session, token: str) -> None:
        self.api = api
        self.base_url = api.base_url
        self.token = token
        self.headers = {"Authorization": f"Token {token}"}
        self.session = session
        self.patients = id_list(api.credentials.get("patients"))
        self.clinics = id_list(api.credentials.get("clinics"))
        self.stations = id_list(api.credentials.get("stations"))

    def url(self, path: str) -> str:
        return self.api.url(PREFIX + path)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.url(path), headers=kwargs.pop("headers", self.headers), timeout=60, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    @staticmethod
    def created_id(response: requests.Response) -> int | None:
        return created_id(response)

    def image_ids(self, patient: int) -> set[str] | None:
        """The target's images of a patient, for the inventory (None when the list cannot be read)."""
        response = self.get("/image/", params={"patient": patient})
        if response.status_code == 404:
            return set()
        try:
            body = response.json() if response.status_code == 200 else None
        except ValueError:
            return None
        if not isinstance(body, list):
            return None
        return {f"image {image_id} (patient {patient})" for image_id in body}

    def inventory(self) -> set[str] | None:
        found: set[str] = set()
        for patient in self.patients[:50]:
            ids = self.image_ids(patient)
            if ids is None:
                return None
            found |= ids
        return found


@pytest.fixture(scope="session")
def tscharts(target: Target, http: requests.Session) -> Iterator[Tscharts]:
    """The target's tscharts API; the run ends by checking it holds the same images as before."""
    creds = require(target, "tscharts", "token")
    api = Tscharts(target.api("tscharts"), http, creds["token"])
    # without a token every image route is refused (401 or 403), whatever the query: never a 404 where it exists
    check_base_url(target, "tscharts", api.get("/image/", headers={}), "GET /tscharts/v1/image/ without a token (refused)")
    inventory = Inventory("tscharts", api.inventory)
    yield api
    inventory.check()


def created_id(response: requests.Response) -> int | None:
    """The id of an image a create answered with, if the target created one (whatever else is wrong with the reply)."""
    if response.status_code != 200:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    image_id = body.get("id") if isinstance(body, dict) else None
    return image_id if isinstance(image_id, int) else None


def pick(items: list[Any], value: Any) -> Any:
    return items[zlib.crc32(repr(value).encode()) % len(items)]


def positive_coin(case: Any, location: str) -> bool:
    """True for half of the cases whose ``location`` (query, body...) was generated in positive mode."""
    return not is_negative(case, location) and coin(getattr(case, location))


def known_values_hook(tscharts: Tscharts, images: list[int]) -> Any:
    """Steer half of the *positive* cases to ids that exist on the target, so 200 answers get checked too.

    Random ids almost never name an existing patient or image, so without this the property
    tests would see little but 404s. Negative parts of a case are never touched (that would
    make them valid). Every created image goes to one patient, and every positive delete to an
    image the suite created itself or to an id far beyond any real one: the property tests do
    not destroy the target's own images.
    """
    patient = tscharts.patients[0] if tscharts.patients else None
    clinic = tscharts.clinics[0] if tscharts.clinics else None
    station = tscharts.stations[0] if tscharts.stations else None
    username = tscharts.api.credentials.get("username")
    password = tscharts.api.credentials.get("password")

    def map_case(context: Any, case: Any) -> Any:
        key = (case.operation.method.upper(), case.operation.path)
        if key == ("GET", PREFIX + "/image/") and patient is not None and not is_negative(case, "query"):
            query = dict(case.query or {})
            if coin(query):
                query["patient"] = patient
                for name, value in (("clinic", clinic), ("station", station)):
                    if name in query and value is not None and coin((name, query[name])):
                        query[name] = value
                case.query = query
        elif key == ("POST", PREFIX + "/image/") and patient and clinic and station and isinstance(case.body, dict):
            if positive_coin(case, "body"):
                case.body = {**case.body, "patient": patient, "clinic": clinic, "station": station}
        elif key[1] == PREFIX + "/image/{id}/" and not is_negative(case, "path"):
            image_id = (case.path_parameters or {}).get("id")
            if key[0] == "DELETE":
                far = 2_000_000_000 + zlib.crc32(repr(image_id).encode()) % 100_000_000
                case.path_parameters = {"id": pick(images, image_id) if images and coin(image_id) else far}
            elif images and coin(image_id):
                case.path_parameters = {"id": pick(images, image_id)}
        elif key == ("POST", PREFIX + "/login/") and username and password and isinstance(case.body, dict):
            case.body = {**case.body, "username": username, "password": password} if positive_coin(case, "body") else case.body
        return case

    return map_case


@pytest.fixture(scope="session")
def scratch_images(tscharts: Tscharts) -> Iterator[list[int]]:
    """A few small images the property tests may read and delete (deleted after the run)."""
    created: list[int] = []
    if tscharts.patients and tscharts.clinics and tscharts.stations:
        for kind in ("Headshot", "Xray", "Surgery"):
            body = {"patient": tscharts.patients[0], "clinic": tscharts.clinics[0], "station": tscharts.stations[0], "type": kind}
            response = tscharts.request("POST", "/image/", json={**body, "data": "iVBORw0KGgo="})
            image_id = created_id(response)
            if image_id is not None:
                created.append(image_id)
    yield created
    for image_id in created:
        tscharts.request("DELETE", f"/image/{image_id}/")


@pytest.fixture(scope="session")
def created_images(tscharts: Tscharts) -> Iterator[list[int]]:
    """Ids of images the property tests created: deleted after the run, so the target keeps only its own."""
    created: list[int] = []
    yield created
    for image_id in created:
        tscharts.request("DELETE", f"/image/{image_id}/")


@pytest.fixture(scope="session")
def tscharts_schema(tscharts: Tscharts, scratch_images: list[int]) -> Any:
    schema = schemathesis.openapi.from_path(SPEC)
    schema.config.update(base_url=tscharts.base_url, headers=tscharts.headers)
    schema.hook("map_case")(known_values_hook(tscharts, scratch_images))
    return schema
