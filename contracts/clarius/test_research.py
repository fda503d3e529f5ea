"""Clarius Research API (the document's January 2026 revision): property tests and workflows.

A research user's token from username and password; the raw data of an exam the user may read;
the refusals (another institution's exam, no Research Bundle, an unknown exam, an exam still being
processed); a DICOM download per transfer syntax and per overlay flag, opened and decoded with
pydicom; invalid parameters; links that work for 7 days and stop working after. Every check names its source:
lines of specs/sources/clarius-cloud-api-v0-2026.md (``Document``), or the medimock convention it
follows where the document is silent (``Convention``: a warning unless the run is strict).

Credentials: ``CLARIUS_RESEARCH_USERNAME``/``PASSWORD`` and ``CLARIUS_RESEARCH_EXAM_ID`` (an exam of the
user's institution, processed), and for the refusals ``CLARIUS_RESEARCH_OTHER_EXAM_ID``,
``CLARIUS_RESEARCH_PROCESSING_EXAM_ID``, ``CLARIUS_RESEARCH_NO_BUNDLE_USERNAME``/``PASSWORD`` and
``CLARIUS_RESEARCH_EXPIRED_LINK`` (README: Credentials); a medimock target names its own. Without
the first three every test here is skipped (a Service API integrator has no research account).
Nothing here creates anything on the target but the user's token (the document offers no way to
revoke it; a medimock target's control API revokes it at the end); a test that moves a medimock's
clock or finishes an exam's processing puts it back.
"""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings

from medimock import dicomfiles
from medimock.conformance.curl import register_secret
from medimock.suite import SCHEMA_CHECKS, SPECS, coin, is_negative, max_examples, spec_schemas
from medimock.target import Target
from medimock.verdict import Convention, Document, expect, field, json_body

SPEC = spec_schemas("clarius")
R = "clarius-cloud-api-v0-2026.md"
PREFIX = "/api/public/v0"
SMALL = "160x120"  # the resolution of most downloads here: cheap to render and to decode

# -- what the document says -------------------------------------------------------------------------
TOKEN_AUTH = Document(R, "POST https://cloud.clarius.com/api/public/v0/token-auth/", lines=5)
TOKEN_200 = Document(R, '"token": "e11f11a11111d11bdca7e49e517534257d9da8801e539885eaacc1111111cdc3"', lines=7)
TOKEN_400 = Document(R, "400 if credentials are invalid.")
TOKEN_SCHEME = Document(R, "Include your token in the [Authorization header]", lines=6)
RAW = Document(R, "GET https://cloud.clarius.com/api/public/v0/exams/rawdata/1")
RAW_200 = Document(R, '"capture_uuid": "a821fa45-783f-48af-a497-869f1951a2f1",', lines=10)
RAW_403 = Document(R, "403 if the user lacks permission to view the exam.", after="## Raw Data API")
RAW_404 = Document(R, "404 if no exam with matching id found.", after="## Raw Data API")
RAW_400 = Document(R, "400 if the exam is still being processed.")
RAW_BUNDLE = Document(R, "Requires Research Bundle", after="## Raw Data API")
RAW_LINKS = Document(R, "Links are valid for 7 days.", after="## Raw Data API")
BLOB = Document(R, '"blob": ')
DICOM = Document(R, "POST https://cloud.clarius.com/api/public/v0/exams/dicom/1")
DICOM_200 = Document(R, '"download_url": "link-to-AWS-to-download-from"', lines=7)
DICOM_403 = Document(R, "403 if the user lacks permission to view the exam.", after="## DICOM API")
DICOM_404 = Document(R, "404 if no exam with matching id found.", after="## DICOM API")
DICOM_400 = Document(R, "400 if parameters are invalid")
DICOM_BUNDLE = Document(R, "Requires Research Bundle", after="## DICOM API")
DICOM_LINKS = Document(R, "Links are valid for 7 days.", after="## DICOM API")
SYNTAX = Document(R, "- `syntax` (optional) - DICOM transfer syntax")
B_IMAGE_ONLY = Document(R, "- `b_image_only` (optional)")
RESOLUTION = Document(R, "- `resolution` (optional)")
FLAGS = {
    "include_annotations": Document(R, "- `include_annotations` (optional)"),
    "include_demographics": Document(R, "- `include_demographics` (optional)"),
    "include_measurements": Document(R, "- `include_measurements` (optional)"),
    "include_scan_parameters": Document(R, "- `include_scan_parameters` (optional)"),
}
DEMOGRAPHICS = Document(R, "- `demographics` (optional)")
TZ = Document(R, "- `tz` (optional)")

# -- what medimock chose where the document is silent -------------------------------------------------
JSON_ERRORS = Convention(
    "json-error-body", 'the document shows no error bodies; medimock answers Django REST framework\'s {"detail": "..."}'
)
FIELD_ERRORS = Convention(
    "field-errors", "the document shows no 400 body; medimock answers DRF's {field: [messages]} naming each bad field"
)
TOKEN_401 = Convention(
    "token-401",
    "the document says to send 'Authorization: Token <token>' but not how a missing or bad token is refused; "
    "medimock answers DRF's TokenAuthentication 401 with WWW-Authenticate: Token",
)
SAME_TOKEN = Convention("same-token", "the document does not say; DRF's authtoken gives a user the same token until it is revoked")
NO_BUNDLE_403 = Convention(
    "no-bundle-403",
    'the document says the APIs "Require Research Bundle" but not the status without it; medimock answers 403, '
    "before looking at the exam (a DRF view permission)",
)
EXAM_ID = Convention(
    "exam-id", "the document's only example id is 1; medimock's ids are numbers, and anything else is an unknown exam (404)"
)
BLOB_IDS = Convention("blob-ids", "the document's example blob names its capture as \"{<capture_uuid>}\"; medimock's blobs do so too")
CONTAINER = Convention(
    "dicom-container", "the document does not say what download_url serves; medimock serves a ZIP of one Part 10 file per capture"
)
EXACT_SYNTAX = Convention(
    "process-14-uid",
    "the document names 'jpeg lossless nonheirarchical process 14'; JPEG Lossless Process 14 is 1.2.840.10008.1.2.4.57 "
    "(the .70 syntax is its selection value 1 only); medimock writes .57",
)
WIDTH_BY_HEIGHT = Convention("resolution-order", "the document's `<number>x<number>` (default 1024x768) is read as columns x rows")
RESOLUTION_BOUNDS = Convention("resolution-bounds", "the document gives no bounds; medimock renders each side from 16 to 2048 pixels")
OVERLAY_CONTENT = Convention(
    "overlay-content",
    "whether a capture has annotations or measurements to display is the exam's; medimock's captures all have them",
)
TIME_ZONE = Convention(
    "tz-attributes",
    "the document says tz is for 'locale aware data formatting'; medimock writes dates, times and TimezoneOffsetFromUTC in it",
)
EXPIRED_403 = Convention(
    "expired-link-403", "the document says links are valid for 7 days, not how an expired one is refused; medimock answers S3's 403 XML"
)
SAME_PATIENT = Convention(
    "dicom-patient",
    "the document does not tie the Research API to the Service API; medimock's DICOM carries the exam's patient as the Service API shows it "
    "(a person as Last^First^Middle; an animal, in DICOM's veterinary form, as its owner's family name^its name, the owner as "
    "ResponsiblePerson Family^Given)",
)
MOCK_CLOCK = Convention("mock-clock", "a medimock target's control API reads and moves its clock (/__mock__/clock)")
MOCK_CONTROL = Convention(
    "mock-control",
    "medimock's control API (the research exams' processing, revoking a token, the credentials it names) is not the vendor's: "
    "a revoked token no longer authenticates, and /__mock__/credentials names the target as it is now",
)
RAW_FILE = Convention(
    "raw-image-file",
    "the document shows raw_image as a link and the blob's files, not what the link holds; medimock's link serves what the blob "
    "lists and is named (as an S3 key) after it: a still capture's one JPEG by the blob's file name, a cine's ZIP of the blob's files",
)
OVERLAYS_OVER = Convention(
    "overlays-over-the-image",
    "the document does not say how overlays are drawn; medimock burns them in white over the bare B image, so a picture with "
    "overlays is nowhere darker than the b_image_only one",
)
US_PIXELS = Convention(
    "us-image-pixels",
    "the document does not describe the pixels; medimock writes 8-bit grayscale B images, unsigned as DICOM's US Image module requires "
    "(PS3.3 C.8.5.6.1.3): Pixel Representation 0",
)


class Research:
    """The target's Research API, with the research user's token."""

    def __init__(self, target: Target, session: requests.Session, creds: dict[str, Any]) -> None:
        self.target = target
        self.api = target.api("clarius")
        self.session = session
        self.creds = creds
        self.token = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"}

    def url(self, path: str) -> str:
        return self.api.url(PREFIX + path)

    def login(self, username: str, password: str) -> requests.Response:
        return self.session.post(self.url("/token-auth/"), json={"username": username, "password": password}, timeout=60)

    def raw(self, exam_id: Any, headers: dict[str, str] | None = None) -> requests.Response:
        return self.session.get(self.url(f"/exams/rawdata/{exam_id}"), headers=self.headers if headers is None else headers, timeout=60)

    def dicom(self, exam_id: Any, body: Any = None, headers: dict[str, str] | None = None) -> requests.Response:
        return self.session.post(
            self.url(f"/exams/dicom/{exam_id}"), json=body, headers=self.headers if headers is None else headers, timeout=120
        )

    def need(self, *names: str) -> list[str]:
        missing = [name for name in names if not self.creds.get(name)]
        if missing:
            variables = ", ".join("CLARIUS_" + name.upper() for name in missing)
            pytest.skip(f"the target names no {', '.join(missing)} (set {variables}; a medimock target names its own)")
        return [str(self.creds[name]) for name in names]

    def control(self, method: str, path: str, **kwargs: Any) -> requests.Response | None:
        """A call of a medimock target's control API (None for any other target)."""
        if self.target.control_url is None:
            return None
        return requests.request(method, self.target.control(path), timeout=30, **kwargs)


@pytest.fixture(scope="module")
def research(target: Target, http: requests.Session) -> Iterator[Research]:
    creds = dict(target.api("clarius").credentials)
    found = Research(target, http, creds)
    username, password, _ = found.need("research_username", "research_password", "research_exam_id")
    response = found.login(username, password)
    expect(
        TOKEN_200, response.status_code == 200, f"the research user's credentials give a token (200, not {response.status_code})", response
    )
    token = field(json_body(response, TOKEN_200, "the token reply"), "token", TOKEN_200, response, "the token reply")
    expect(TOKEN_200, isinstance(token, str) and token, "the token is a non-empty string", response)
    found.token = str(token)
    register_secret(
        found.token, "CLARIUS_RESEARCH_TOKEN", "a research token: POST /api/public/v0/token-auth/ with the research user's credentials"
    )
    yield found
    found.control("POST", "/clarius/research/tokens/revoke", json={"token": found.token})


def error_body(response: requests.Response, source: Convention = JSON_ERRORS) -> None:
    body = json_body(response, source, "an error reply")
    if body is not None:
        problems = SPEC.errors("Error" if source is JSON_ERRORS else "ValidationErrors", body)
        expect(source, not problems, f"the error reply's body is DRF's: {problems[:3]}", response)


def refused(response: requests.Response, source: Document, status: int, what: str) -> None:
    if expect(source, response.status_code == status, f"{what} is a {status}, not {response.status_code}", response):
        error_body(response)


def download(research: Research, url: Any, source: Document, what: str) -> bytes:
    """GET a link the target gave (no credentials: links stand alone), expecting its content."""
    expect(source, isinstance(url, str) and url.startswith(("http://", "https://")), f"{what} is a link: {url!r}")
    if not isinstance(url, str):
        return b""
    response = research.session.get(url, timeout=120)
    expect(
        source,
        response.status_code == 200 and response.content,
        f"{what} downloads (200 with a body, not {response.status_code})",
        response,
    )
    return response.content if response.status_code == 200 else b""


# -- property tests -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def research_schema(research: Research) -> Any:
    exam_id = research.creds["research_exam_id"]
    username, password = research.creds["research_username"], research.creds["research_password"]

    def map_case(context: Any, case: Any) -> Any:
        """Half of the positive cases name the exam and the user the suite knows, so 200s get checked too."""
        if "id" in (case.path_parameters or {}) and not is_negative(case, "path") and coin(case.path_parameters["id"]):
            case.path_parameters = {**case.path_parameters, "id": exam_id}
        elif (
            case.operation.path.endswith("/token-auth/")
            and isinstance(case.body, dict)
            and not is_negative(case, "body")
            and coin(case.body)
        ):
            case.body = {**case.body, "username": username, "password": password}
        return case

    schema = schemathesis.openapi.from_path(SPECS / "clarius" / "openapi.yaml")
    schema.config.update(base_url=research.api.base_url, headers=research.headers)
    schema.hook("map_case")(map_case)
    return schema


schema = schemathesis.pytest.from_fixture("research_schema").include(tag="research")


@schema.parametrize()
@settings(max_examples=max_examples(), deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_research_operation_honours_contract(case, research):
    response = case.call(session=research.session, headers=research.headers, timeout=60)
    case.validate_response(response, checks=list(SCHEMA_CHECKS), headers=research.headers)


# -- tokens ----------------------------------------------------------------------------------------------


def test_token_from_credentials(research):
    username, password = research.creds["research_username"], research.creds["research_password"]
    again = research.login(username, password)
    expect(TOKEN_200, again.status_code == 200, f"logging in again is a 200, not {again.status_code}", again)
    body = json_body(again, TOKEN_200, "the token reply")
    problems = SPEC.reply_errors("/api/public/v0/token-auth/", "post", 200, body)
    expect(TOKEN_200, not problems, f"the token reply is {{'token': '...'}}: {problems[:3]}", again)
    expect(SAME_TOKEN, field(body, "token", TOKEN_200, again) == research.token, "a user gets the same token until it is revoked", again)
    works = research.raw(research.creds["research_exam_id"])
    expect(TOKEN_SCHEME, works.status_code == 200, f"'Authorization: Token <token>' authenticates (200, not {works.status_code})", works)


def test_wrong_password_is_400(research):
    response = research.login(research.creds["research_username"], research.creds["research_password"] + "-wrong")
    expect(TOKEN_400, response.status_code == 400, f"a wrong password is a 400, not {response.status_code}", response)
    expect(TOKEN_400, "token" not in response.text, "a wrong password gets no token", response)
    error_body(response, FIELD_ERRORS)
    unknown = research.login(f"nobody-{zlib.crc32(research.token.encode())}@example.org", "x")
    expect(TOKEN_400, unknown.status_code == 400, f"an unknown username is a 400, not {unknown.status_code}", unknown)
    missing = research.session.post(research.url("/token-auth/"), json={"username": research.creds["research_username"]}, timeout=60)
    expect(TOKEN_400, missing.status_code == 400, f"credentials without a password are a 400, not {missing.status_code}", missing)


@pytest.mark.parametrize("authorization", [None, "Token", "Token not-a-token", "Bearer abc"])
def test_research_apis_need_a_token(research, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    for response in (
        research.raw(research.creds["research_exam_id"], headers),
        research.dicom(research.creds["research_exam_id"], {}, headers),
    ):
        expect(TOKEN_SCHEME, not response.ok, f"Authorization {authorization!r} is refused, not {response.status_code}", response)
        if expect(TOKEN_401, response.status_code == 401, f"Authorization {authorization!r} is a 401", response):
            expect(TOKEN_401, response.headers.get("WWW-Authenticate") == "Token", "the 401 says WWW-Authenticate: Token", response)
            error_body(response)


# -- raw data ------------------------------------------------------------------------------------------------


def raw_data(research: Research, exam_id: Any) -> list[dict[str, Any]]:
    response = research.raw(exam_id)
    expect(RAW_200, response.status_code == 200, f"the raw data of exam {exam_id} is a 200, not {response.status_code}", response)
    body = json_body(response, RAW_200, "the raw data")
    problems = SPEC.reply_errors("/api/public/v0/exams/rawdata/{id}", "get", 200, body)
    expect(RAW_200, not problems, f"the raw data is a list of {{capture_uuid, blob, raw_image}}: {problems[:4]}", response)
    return [item for item in body if isinstance(item, dict)] if isinstance(body, list) else []


def test_raw_data_of_an_accessible_exam(research):
    items = raw_data(research, research.creds["research_exam_id"])
    expect(RAW_200, items, "an exam's raw data lists its captures")
    uuids = [item.get("capture_uuid") for item in items]
    expect(RAW_200, len(set(uuids)) == len(uuids), f"each capture is listed once: {uuids}")
    for item in items:
        try:
            blob = json.loads(item.get("blob") or "")
        except ValueError:
            blob = None
        expect(
            BLOB,
            isinstance(blob, dict),
            f"capture {item.get('capture_uuid')}: blob is a JSON document in a string: {str(item.get('blob'))[:120]}",
        )
        if isinstance(blob, dict):
            expect(
                BLOB_IDS, blob.get("id") == "{" + str(item.get("capture_uuid")) + "}", f"the blob's id names the capture: {blob.get('id')}"
            )
        content = download(research, item.get("raw_image"), RAW_LINKS, f"capture {item.get('capture_uuid')}'s raw_image")
        expect(RAW_LINKS, len(content) > 100, f"the raw image has content ({len(content)} bytes)")
        if isinstance(blob, dict) and content:
            raw_file(item, blob, content)


def raw_file(item: dict[str, Any], blob: dict[str, Any], content: bytes) -> None:
    """The raw_image link is named after what it serves, the blob's files (a medimock convention)."""
    sections = blob.get("sections") if isinstance(blob.get("sections"), list) else []
    files = [f.get("filename") for s in sections if isinstance(s, dict) for f in s.get("files") or [] if isinstance(f, dict)]
    name = urlsplit(str(item.get("raw_image"))).path.rsplit("/", 1)[-1]
    what = f"capture {item.get('capture_uuid')}'s raw_image {name!r}"
    if content[:2] == b"\xff\xd8":
        expect(RAW_FILE, files == [name], f"{what} is a JPEG: the blob's one file, named as the blob names it ({files})")
    elif content[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = archive.namelist()
        expect(RAW_FILE, members == files, f"{what} is a ZIP of the blob's files {files}, not of {members}")
        stem = str(files[0]).rsplit(".F.", 1)[0] if files else ""
        expect(RAW_FILE, name == f"{stem}.zip", f"{what}: a ZIP of a cine's frames is named {stem}.zip")
    else:
        expect(RAW_FILE, False, f"{what} is a JPEG or a ZIP of JPEGs, not {content[:8]!r}")


def test_raw_data_of_another_institutions_exam_is_403(research):
    (other,) = research.need("research_other_exam_id")
    refused(research.raw(other), RAW_403, 403, "the raw data of another institution's exam")


def test_unknown_exam_is_404(research):
    unknown = research.creds.get("research_unknown_exam_id") or "2147480000"
    refused(research.raw(unknown), RAW_404, 404, f"the raw data of exam {unknown} (no such exam)")
    refused(research.dicom(unknown, {}), DICOM_404, 404, f"a DICOM of exam {unknown} (no such exam)")
    odd = research.raw("not-an-id")
    expect(EXAM_ID, odd.status_code == 404, f"an id that is not a number is an unknown exam (404, not {odd.status_code})", odd)


def test_raw_data_while_processing_is_400(research):
    (processing,) = research.need("research_processing_exam_id")
    refused(research.raw(processing), RAW_400, 400, "the raw data of an exam still being processed")
    finished = research.control("POST", "/clarius/research/exams/processing", json={"exam_id": int(processing), "processing": False})
    if finished is None:
        return
    try:
        expect(RAW_200, finished.status_code == 200, "the control API finishes the exam's processing", finished)
        raw_data(research, processing)
        # the credentials describe the target as it is: the finished exam is no longer named as one being processed
        named = research.control("GET", "/credentials")
        if expect(MOCK_CONTROL, named is not None and named.status_code == 200, "the credentials answer while the exam is finished", named):
            now = (json_body(named, MOCK_CONTROL, "the credentials") or {}).get("clarius") or {}
            expect(
                MOCK_CONTROL,
                str(now.get("research_processing_exam_id", "")) != str(processing),
                f"the credentials no longer name exam {processing} as being processed",
                named,
            )
    finally:
        research.control("POST", "/clarius/research/exams/processing", json={"exam_id": int(processing), "processing": True})


def test_without_the_bundle_both_apis_refuse(research):
    username, password = research.need("research_no_bundle_username", "research_no_bundle_password")
    response = research.login(username, password)
    expect(
        TOKEN_200,
        response.status_code == 200,
        f"a user without the Research Bundle still logs in (200, not {response.status_code})",
        response,
    )
    token = field(json_body(response, TOKEN_200, "the token reply"), "token", TOKEN_200, response)
    headers = {"Authorization": f"Token {token}"}
    register_secret(str(token), "CLARIUS_RESEARCH_NO_BUNDLE_TOKEN", "the token of CLARIUS_RESEARCH_NO_BUNDLE_USERNAME")
    try:
        for reply, bundle, forbidden in (
            (research.raw(research.creds["research_exam_id"], headers), RAW_BUNDLE, RAW_403),
            (research.dicom(research.creds["research_exam_id"], {}, headers), DICOM_BUNDLE, DICOM_403),
        ):
            expect(
                Document.of(bundle, forbidden),
                400 <= reply.status_code < 500,
                f"without the Research Bundle: refused, not {reply.status_code}",
                reply,
            )
            if expect(NO_BUNDLE_403, reply.status_code == 403, "without the Research Bundle: a 403", reply):
                error_body(reply)
    finally:
        revoked = research.control("POST", "/clarius/research/tokens/revoke", json={"token": token})
    if revoked is not None:  # a medimock target revoked the token (the document has no way to): it no longer authenticates
        expect(MOCK_CONTROL, revoked.status_code == 200, f"the control API revokes the token (200, not {revoked.status_code})", revoked)
        after = research.raw(research.creds["research_exam_id"], headers)
        if expect(TOKEN_401, after.status_code == 401, f"a revoked token is refused (401, not {after.status_code})", after):
            expect(TOKEN_401, after.headers.get("WWW-Authenticate") == "Token", "the 401 says WWW-Authenticate: Token", after)


# -- DICOM ---------------------------------------------------------------------------------------------------


def export(research: Research, body: dict[str, Any] | None, what: str, exam_id: Any = None) -> list[tuple[str, Any]]:
    """POST a DICOM request (of the research exam unless ``exam_id``), download it, and open every Part 10 file in it:
    ``[(name, dataset)]``."""
    response = research.dicom(research.creds["research_exam_id"] if exam_id is None else exam_id, body)
    expect(DICOM_200, response.status_code == 200, f"{what}: the DICOM request is a 200, not {response.status_code}", response)
    reply = json_body(response, DICOM_200, "the DICOM reply")
    problems = SPEC.reply_errors("/api/public/v0/exams/dicom/{id}", "post", 200, reply)
    expect(DICOM_200, not problems, f"the DICOM reply is {{'download_url': '...'}}: {problems[:3]}", response)
    content = download(research, field(reply, "download_url", DICOM_200, response), DICOM_LINKS, f"{what}: download_url")
    try:
        files = dicomfiles.members(content)
    except dicomfiles.NotDicom as exc:
        expect(DICOM, False, f"{what}: the download holds DICOM ({exc})")
        return []
    expect(CONTAINER, content[:4] == b"PK\x03\x04", f"{what}: the download is a ZIP of Part 10 files")
    opened = []
    for name, data in files:
        try:
            opened.append((name, dicomfiles.read(data)))
        except Exception as exc:  # noqa: BLE001 - whatever pydicom says, the file is not valid Part 10
            expect(DICOM, False, f"{what}: {name} opens with pydicom ({type(exc).__name__}: {exc})")
    return opened


def decoded(name: str, dataset: Any, source: Document, what: str) -> Any:
    try:
        return dicomfiles.pixels(dataset)
    except Exception as exc:  # noqa: BLE001 - a decoder's failure is the file's
        expect(source, False, f"{what}: {name}'s pixels decode ({type(exc).__name__}: {exc})")
        return None


def check_syntax(name: str, dataset: Any, option: str, what: str) -> None:
    uid = str(dataset.file_meta.get("TransferSyntaxUID", ""))
    allowed = dicomfiles.JPEG_LS_UIDS if option == "jpeg ls lossless" else dicomfiles.JPEG_LOSSLESS_UIDS
    expect(SYNTAX, uid in allowed, f"{what}: {name} is written in {option!r}, not {uid}")
    if option != "jpeg ls lossless":
        expect(EXACT_SYNTAX, uid == "1.2.840.10008.1.2.4.57", f"{what}: {name} is JPEG Lossless Process 14 (.57), not {uid}")
    wanted = dicomfiles.expected_process(uid)
    if wanted is not None and "PixelData" in dataset:
        processes = {dicomfiles.frame_process(frame) for frame in dicomfiles.frames(dataset)}
        expect(SYNTAX, processes == {wanted}, f"{what}: {name}'s frames are {wanted} codestreams as labelled, not {processes}")


def check_size(name: str, dataset: Any, pixels: Any, width: int, height: int, what: str) -> None:
    size = (int(dataset.get("Columns", 0)), int(dataset.get("Rows", 0)))
    expect(RESOLUTION, sorted(size) == sorted((width, height)), f"{what}: {name} is {width}x{height}, not {size[0]}x{size[1]}")
    expect(WIDTH_BY_HEIGHT, size == (width, height), f"{what}: {name} has {width} columns and {height} rows, not {size}")
    if pixels is not None:
        expect(RESOLUTION, tuple(pixels.shape[-2:]) == (size[1], size[0]), f"{what}: {name}'s decoded pixels are {pixels.shape}")


@pytest.mark.parametrize("syntax", [None, "jpeg lossless nonheirarchical process 14", "jpeg ls lossless"])
def test_dicom_per_syntax(research, syntax):
    option = syntax or "jpeg lossless nonheirarchical process 14"  # the document's default
    what = f"syntax {syntax!r}" if syntax else "the default syntax"
    body = {"resolution": SMALL} | ({"syntax": syntax} if syntax else {})
    files = export(research, body, what)
    expect(DICOM, files, f"{what}: the download holds a DICOM file")
    captures = [item.get("capture_uuid") for item in raw_data(research, research.creds["research_exam_id"])]
    expect(
        CONTAINER,
        sorted(name for name, _ in files) == sorted(f"{c}.dcm" for c in captures),
        f"{what}: one file per capture, named by its uuid",
    )
    for name, dataset in files:
        check_syntax(name, dataset, option, what)
        check_size(name, dataset, decoded(name, dataset, SYNTAX, what), 160, 120, what)
        representation = dataset.get("PixelRepresentation")
        expect(US_PIXELS, representation == 0, f"{what}: {name}'s pixels are unsigned (Pixel Representation 0, not {representation})")


@pytest.mark.parametrize(("width", "height"), [(16, 16), (2048, 16)])
def test_resolution_at_medimock_bounds_renders(research, width, height):
    """medimock's bounds include both ends: a side of 16 or of 2048 pixels is rendered (8 and 4097 are refused above)."""
    what = f"resolution {width}x{height}"
    response = research.dicom(research.creds["research_exam_id"], {"resolution": f"{width}x{height}"})
    expect(
        RESOLUTION_BOUNDS, response.status_code == 200, f"{what} is within medimock's bounds (200, not {response.status_code})", response
    )
    if response.status_code != 200:
        return
    for name, dataset in export(research, {"resolution": f"{width}x{height}"}, what):
        check_size(name, dataset, decoded(name, dataset, RESOLUTION, what), width, height, what)


def test_dicom_defaults(research):
    """No body at all: the default syntax and the default resolution, 1024x768."""
    files = export(research, None, "a DICOM request without a body")
    for name, dataset in files:
        check_syntax(name, dataset, "jpeg lossless nonheirarchical process 14", "the defaults")
        check_size(name, dataset, decoded(name, dataset, RESOLUTION, "the defaults"), 1024, 768, "the defaults")


def rendered(files: list[tuple[str, Any]], what: str) -> dict[str, Any]:
    """Each file's picture: its decoded pixels and any overlay planes (60xx,3000), by name."""
    pictures = {}
    for name, dataset in files:
        pixels = decoded(name, dataset, B_IMAGE_ONLY, what)
        planes = [dataset.overlay_array(group) for group in range(0x6000, 0x6020, 2) if (group, 0x3000) in dataset]
        pictures[name] = (pixels, planes)
    return pictures


def same(first: tuple[Any, list[Any]], second: tuple[Any, list[Any]]) -> bool:
    (a, planes_a), (b, planes_b) = first, second
    if a is None or b is None or a.shape != b.shape or len(planes_a) != len(planes_b):
        return False
    return bool(np.array_equal(a, b) and all(np.array_equal(x, y) for x, y in zip(planes_a, planes_b, strict=True)))


@pytest.fixture(scope="module")
def b_image(research):
    return rendered(export(research, {"resolution": SMALL, "b_image_only": True}, "b_image_only"), "b_image_only")


@pytest.mark.parametrize("flag", sorted(FLAGS))
def test_dicom_per_overlay_flag(research, b_image, flag):
    what = f"{flag}=true"
    shown = rendered(export(research, {"resolution": SMALL, flag: True}, what), what)
    overridden = rendered(export(research, {"resolution": SMALL, flag: True, "b_image_only": True}, what + " with b_image_only"), what)
    expect(B_IMAGE_ONLY, set(shown) == set(b_image), f"{what}: the same files as b_image_only")
    # demographics and scan parameters exist for every exam; annotations and measurements only where the user made them
    source = FLAGS[flag] if flag in ("include_demographics", "include_scan_parameters") else OVERLAY_CONTENT
    for name in sorted(set(shown) & set(b_image)):
        expect(source, not same(shown[name], b_image[name]), f"{what}: {name} shows what b_image_only does not")
        expect(B_IMAGE_ONLY, same(overridden.get(name, (None, [])), b_image[name]), f"{what} with b_image_only: {name} is the bare B image")
        over, bare = shown[name][0], b_image[name][0]
        if over is not None and bare is not None and over.shape == bare.shape:
            darker = int(np.count_nonzero(over < bare))
            expect(OVERLAYS_OVER, darker == 0, f"{what}: {name} is darker than the bare B image in {darker} pixels")


def test_demographics_list_needs_include_demographics(research, b_image):
    """`demographics` lists what to display "if include_demographics = true": without it, the list changes nothing."""
    shown = {
        listed: rendered(export(research, {"resolution": SMALL, "demographics": [listed]}, f"demographics=[{listed}] alone"), listed)
        for listed in ("PATIENT_NAME", "EXAM_DATE")
    }
    for name in sorted(b_image):
        expect(
            DEMOGRAPHICS,
            same(shown["PATIENT_NAME"].get(name, (None, [])), shown["EXAM_DATE"].get(name, (None, []))),
            f"include_demographics false: {name} is the same picture whichever demographics are listed",
        )


def test_dicom_demographics_and_time_zone(research, b_image):
    base = {"resolution": SMALL, "include_demographics": True}
    utc = export(research, base | {"demographics": ["EXAM_DATE"]}, "EXAM_DATE in UTC")
    toronto = export(research, base | {"demographics": ["EXAM_DATE"], "tz": "America/Toronto"}, "EXAM_DATE in America/Toronto")
    name_only = export(research, base | {"demographics": ["PATIENT_NAME"]}, "PATIENT_NAME")
    shown = {what: rendered(files, what) for what, files in (("utc", utc), ("toronto", toronto), ("name", name_only))}
    for name in sorted(b_image):
        expect(DEMOGRAPHICS, not same(shown["name"].get(name, (None, [])), b_image[name]), f"demographics=[PATIENT_NAME]: {name} shows it")
        expect(
            DEMOGRAPHICS,
            not same(shown["utc"].get(name, (None, [])), shown["name"].get(name, (None, []))),
            f"{name}: another list, another picture",
        )
        expect(
            TIME_ZONE,
            not same(shown["utc"].get(name, (None, [])), shown["toronto"].get(name, (None, []))),
            f"{name}: the exam date is written in tz",
        )
    for (name, in_utc), (_, in_toronto) in zip(utc, toronto, strict=False):
        offset = str(in_toronto.get("TimezoneOffsetFromUTC", ""))
        expect(
            TIME_ZONE, offset in ("-0500", "-0400"), f"tz=America/Toronto: {name}'s TimezoneOffsetFromUTC is -0500 or -0400, not {offset!r}"
        )
        expect(TIME_ZONE, str(in_utc.get("TimezoneOffsetFromUTC", "")) in ("+0000", "-0000"), f"tz defaults to UTC: {name}")


def test_dicom_patient_is_the_exams(research):
    """On a medimock target, the DICOM names the patient the Service API shows for the same exam: the research exam's,
    and an animal's (an exam of the same institution, if it has one), whose name DICOM writes with its owner's."""
    if research.target.control_url is None:
        pytest.skip("needs the exam's uuid, which only a medimock target's control API gives")
    listed = research.control("GET", "/clarius/research/exams")
    exams = (json_body(listed, SAME_PATIENT, "the control API's exams") or {}).get("results") if listed is not None else None
    exam = next((e for e in exams or [] if str(e.get("id")) == str(research.creds["research_exam_id"])), None)
    expect(SAME_PATIENT, exam is not None, "the control API lists the exam")
    if exam is None:
        return
    patient = service_patient(research, exam)
    check_patient(research, exam, patient)
    for other in exams or []:
        if other.get("institution") != exam.get("institution") or other.get("processing") or other is exam:
            continue
        animal = service_patient(research, other)
        if "animal_name" in animal:
            check_patient(research, other, animal)
            break


def service_patient(research: Research, exam: dict[str, Any]) -> dict[str, Any]:
    key = research.creds.get("api_key")
    service = research.session.get(
        research.url(f"/exams/{exam['exam_uuid']}/data/"), headers={"Authorization": f"Service-API-Key {key}"}, timeout=60
    )
    return (json_body(service, SAME_PATIENT, "the exam's Service API data") or {}).get("patient") or {}


def check_patient(research: Research, exam: dict[str, Any], patient: dict[str, Any]) -> None:
    owner = str(patient.get("owner_name") or "").split()
    plain = len(owner) == 2 and not owner[0].endswith(".")  # "Given Family": one reading (not "Dr. Lopez", "Jones MD")
    if "animal_name" in patient:  # DICOM's veterinary form: the responsible party's family name, then the animal's name
        name = f"{owner[-1]}^{patient['animal_name']}" if plain else None
    else:
        name = "^".join(str(patient.get(part) or "") for part in ("last_name", "first_name", "middle_name")).rstrip("^")
    for file_name, dataset in export(research, {"resolution": "64x48"}, f"exam {exam['id']}'s DICOM", exam["id"]):
        what = f"exam {exam['id']}: {file_name}"
        expect(SAME_PATIENT, dataset.get("PatientID") == patient.get("identifier"), f"{what}: PatientID is the exam's patient identifier")
        birth = str(patient.get("date_of_birth") or "").replace("-", "")
        expect(SAME_PATIENT, str(dataset.get("PatientBirthDate", "")) == birth, f"{what}: PatientBirthDate is the patient's")
        if name is not None:
            expect(
                SAME_PATIENT,
                str(dataset.get("PatientName", "")) == name,
                f"{what}: PatientName is {name!r}, not {dataset.get('PatientName')!r}",
            )
        if "animal_name" in patient and plain:  # a name with a title or suffix has more than one reading as family^given
            responsible = f"{owner[1]}^{owner[0]}"
            got = str(dataset.get("ResponsiblePerson", ""))
            expect(SAME_PATIENT, got == responsible, f"{what}: ResponsiblePerson is the owner {responsible!r}, not {got!r}")


@pytest.mark.parametrize(
    ("body", "source", "what"),
    [
        ({"resolution": "1024"}, RESOLUTION, "a resolution without x"),
        ({"resolution": "axb"}, RESOLUTION, "a resolution that is not numbers"),
        ({"resolution": "1024x768x3"}, RESOLUTION, "a resolution of three numbers"),
        ({"resolution": "8x8"}, RESOLUTION_BOUNDS, "a resolution below medimock's bounds"),
        ({"resolution": "4097x4097"}, RESOLUTION_BOUNDS, "a resolution above medimock's bounds"),
        ({"resolution": "15x16"}, RESOLUTION_BOUNDS, "a side of 15 pixels, just below medimock's bounds"),
        ({"resolution": "16x2049"}, RESOLUTION_BOUNDS, "a side of 2049 pixels, just above medimock's bounds"),
        ({"syntax": "jpeg baseline"}, SYNTAX, "a syntax that is not one of the choices"),
        ({"syntax": "JPEG LS LOSSLESS"}, SYNTAX, "a syntax spelt another way"),
        ({"demographics": ["PATIENT_NAME", "SHOE_SIZE"]}, DEMOGRAPHICS, "a demographic that is not one of the choices"),
        ({"tz": "Mars/Olympus_Mons"}, TZ, "a time zone that does not exist"),
        ({"include_demographics": "maybe"}, FLAGS["include_demographics"], "a flag that is not a boolean"),
    ],
)
def test_invalid_dicom_parameters_are_400(research, body, source, what):
    response = research.dicom(research.creds["research_exam_id"], body)
    expect(
        Document.of(DICOM_400, source) if isinstance(source, Document) else source,
        response.status_code == 400,
        f"{what} ({body}) is a 400, not {response.status_code}",
        response,
    )
    if response.status_code == 400:
        error_body(response, FIELD_ERRORS)
        reply = json_body(response, FIELD_ERRORS, "the 400 reply") or {}
        expect(
            FIELD_ERRORS,
            any(key.split("/")[0] in body for key in reply),
            f"the 400 names the bad parameter {sorted(body)}: {reply}",
            response,
        )


def test_dicom_of_another_institutions_exam_is_403(research):
    (other,) = research.need("research_other_exam_id")
    refused(research.dicom(other, {"resolution": SMALL}), DICOM_403, 403, "a DICOM of another institution's exam")


# -- links expire ---------------------------------------------------------------------------------------------


def test_expired_links_are_refused(research):
    """After 7 days a link no longer downloads: a medimock's clock is moved 7 days on (and put back);
    another target needs CLARIUS_RESEARCH_EXPIRED_LINK."""
    expired = research.creds.get("research_expired_link")
    links: list[tuple[str, Document]] = []
    if expired:
        links.append((str(expired), Document.of(RAW_LINKS, DICOM_LINKS)))
    clock = research.control("GET", "/clock")
    if not links and clock is None:
        pytest.skip("needs a link older than 7 days (CLARIUS_RESEARCH_EXPIRED_LINK) or a medimock target's clock")
    before = (json_body(clock, EXPIRED_403, "the mock clock") or {}).get("offset_seconds", 0) if clock is not None else 0
    if clock is not None:
        items = raw_data(research, research.creds["research_exam_id"])
        reply = json_body(research.dicom(research.creds["research_exam_id"], {"resolution": "64x48"}), DICOM_200, "the DICOM reply") or {}
        links += [(str(items[0].get("raw_image")), RAW_LINKS)] if items else []
        links += [(str(reply.get("download_url")), DICOM_LINKS)] if reply.get("download_url") else []
        research.control("POST", "/clock", json={"advance_seconds": 7 * 86400 + 60})
    try:
        for url, source in links:
            response = research.session.get(url, timeout=60)
            expect(source, not response.ok, f"a link older than 7 days is refused, not answered {response.status_code}", response)
            expect(EXPIRED_403, response.status_code == 403, f"an expired link is a 403 (S3's), not {response.status_code}", response)
    finally:
        if clock is not None:
            research.control("PUT", "/clock", json={"offset_seconds": before})


def test_links_are_valid_for_7_days(research):
    """A link still downloads just before its 7 days are over (a medimock's clock is moved on and put back); a presigned
    S3 link that states its lifetime (X-Amz-Expires) states 7 days."""
    items = raw_data(research, research.creds["research_exam_id"])
    reply = json_body(research.dicom(research.creds["research_exam_id"], {"resolution": "64x48"}), DICOM_200, "the DICOM reply") or {}
    links = [(str(item.get("raw_image")), RAW_LINKS) for item in items[:1]]
    links += [(str(reply.get("download_url")), DICOM_LINKS)] if reply.get("download_url") else []
    for url, source in links:
        expires = parse_qs(urlsplit(url).query).get("X-Amz-Expires")
        if expires:
            lifetime = int(expires[0]) if expires[0].isdigit() else -1
            expect(source, lifetime >= 7 * 86400, f"the link says it is valid for {expires[0]} s (X-Amz-Expires), not 7 days")
    clock = research.control("GET", "/clock")
    if clock is None:
        return
    before = (json_body(clock, MOCK_CLOCK, "the mock clock") or {}).get("offset_seconds", 0)
    research.control("POST", "/clock", json={"advance_seconds": 7 * 86400 - 120})
    try:
        for url, source in links:
            response = research.session.get(url, timeout=120)
            expect(
                source,
                response.status_code == 200,
                f"a link 2 minutes short of 7 days old downloads (200, not {response.status_code})",
                response,
            )
    finally:
        research.control("PUT", "/clock", json={"offset_seconds": before})
