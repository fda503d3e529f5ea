"""The Clarius Research API (the document's 2026 revision): auth tokens, raw data, DICOM.

- ``POST /api/public/v0/token-auth/`` trades a research user's username and password for a
  token, the same one on every call until it is revoked (Django REST framework's authtoken);
  ``Authorization: Token <token>`` then authenticates (DRF's ``TokenAuthentication`` messages).
- ``GET /api/public/v0/exams/rawdata/{id}`` and ``POST /api/public/v0/exams/dicom/{id}`` need
  the Research Bundle (403 without it, before anything else, as a DRF view permission), then
  an exam of the user's institution (404 unknown, 403 another institution's), which is not
  still being processed (400).
- Their links (``raw_image``, ``download_url``) are served by the mock under
  ``/media/clarius/research/`` as presigned-S3-style URLs: signed with a secret of the seed,
  stamped with the mock clock (``X-Amz-Date``) and valid for 7 days of it
  (``X-Amz-Expires=604800``); an expired or altered link is S3's 403 XML error.

Exam ids are the numeric ids the document's example (``/rawdata/1``) shows; see
specs/clarius/README.md for every choice made where the document is silent.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import re
import secrets
import zipfile
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from xml.sax.saxutils import escape

from medimock.fixtures import clarius as fixtures
from medimock.fixtures import clarius_research as research_fixtures

from ...api import Context, Principal
from ...http import MockRequest, MockResponse, Problem, json_response
from . import API
from .dicom import SYNTAX_UIDS, DicomOptions, InvalidOptions, capture_infos, export
from .research_store import ResearchExam, ResearchStore
from .store import now_iso

KEYWORD = "Token"
OPERATIONS = frozenset({"obtainResearchToken", "getExamRawData", "createExamDicom"})
LINK_LIFETIME = 7 * 24 * 3600  # "Links are valid for 7 days."
LINK_PREFIX = "/media/clarius/research/"
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_RAW_PATH = re.compile(r"^/media/clarius/research/raw/([0-9a-f-]{36})/([^/]+)$")
_DICOM_PATH = re.compile(r"^/media/clarius/research/dicom/([0-9]+)/([A-Za-z0-9_-]+)/([^/]+)$")


def unauthenticated(message: str) -> Problem:
    return Problem("unauthenticated", 401, message, headers={"WWW-Authenticate": KEYWORD})


def authenticate(scheme_name: str, scheme: dict[str, Any], request: MockRequest, app: Any) -> Principal | None:
    """``Authorization: Token <token>``, as DRF's TokenAuthentication reads it (the keyword in any case)."""
    parts = request.header("Authorization").split()
    if not parts or parts[0].lower() != KEYWORD.lower():
        return None
    if len(parts) == 1:
        raise unauthenticated("Invalid token header. No credentials provided.")
    if len(parts) > 2:
        raise unauthenticated("Invalid token header. Token string should not contain spaces.")
    user = ResearchStore(app.store).token_user(parts[1])
    if user is None:
        raise unauthenticated("Invalid token.")
    return Principal(
        scheme=scheme_name,
        identity=user["username"],
        data={"institution": user["institution"], "research_bundle": bool(user["research_bundle"])},
    )


def research(ctx: Context) -> ResearchStore:
    return ResearchStore(ctx.store)


@API.handler("obtainResearchToken")
def obtain_token(ctx: Context) -> MockResponse:
    body = ctx.body or {}
    username, password = str(body.get("username", "")), str(body.get("password", ""))
    user = research(ctx).user(username)
    if user is None or not hmac.compare_digest(user["password_hash"], fixtures.hash_secret(password)):
        raise Problem(
            "invalid_request",
            400,
            "Unable to log in with provided credentials.",
            fields={"non_field_errors": ["Unable to log in with provided credentials."]},
        )
    return json_response({"token": research(ctx).token_for(username, secrets.token_hex(32), now_iso())})


def accessible_exam(ctx: Context) -> ResearchExam:
    """The exam of the path, checked as DRF would: the bundle (a view permission), the exam (404),
    the user's institution (an object permission), then processing (400)."""
    principal = ctx.principal
    data = principal.data if principal is not None else {}
    if not data.get("research_bundle") and not ctx.defect("clarius.research_bundle_not_checked"):
        raise Problem("forbidden", 403, "Your institution's subscription does not include the Research Bundle.")
    raw_id = str(ctx.path["id"])
    exam = research(ctx).exam(int(raw_id)) if raw_id.isdigit() and len(raw_id) < 19 else None
    if exam is None:
        raise Problem("not_found", 404, "Not found.")
    if data.get("institution") != exam.customer_id:
        raise Problem("forbidden", 403, "You do not have permission to perform this action.")
    if exam.processing and not ctx.defect("clarius.research_processing_served"):
        raise Problem("invalid_request", 400, "The exam is still being processed.")
    return exam


@API.handler("getExamRawData")
def get_raw_data(ctx: Context) -> MockResponse:
    exam = accessible_exam(ctx)
    infos = capture_infos(exam)
    links = Links(ctx.app)
    return json_response(
        [
            {
                "capture_uuid": info.capture_uuid,
                "blob": research_fixtures.blob(info),
                "raw_image": links.url(ctx.request.base_url, f"{LINK_PREFIX}raw/{info.capture_uuid}/{raw_file_name(info)}"),
            }
            for info in infos
        ]
    )


@API.handler("createExamDicom")
def create_dicom(ctx: Context) -> MockResponse:
    exam = accessible_exam(ctx)
    try:
        options = DicomOptions.parse(ctx.body if isinstance(ctx.body, dict) else None)
    except InvalidOptions as invalid:
        raise Problem("invalid_request", 400, str(invalid), fields=invalid.fields) from invalid
    path = f"{LINK_PREFIX}dicom/{exam.id}/{options.token()}/exam-{exam.id}-dicom.zip"
    return json_response({"download_url": Links(ctx.app).url(ctx.request.base_url, path)})


def raw_file_name(info: research_fixtures.CaptureInfo) -> str:
    """A still capture's raw image is its one pre-scan JPEG; a cine's is a ZIP of one JPEG a frame."""
    names = info.file_names
    return names[0] if len(names) == 1 else names[0].rsplit(".F.", 1)[0] + ".zip"


# -- links ----------------------------------------------------------------------------------------
class Links:
    """Presigned-S3-style links, valid for ``LINK_LIFETIME`` seconds of the mock clock."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.secret = hashlib.sha256(f"medimock:{app.config.seed}:clarius-research-links".encode()).digest()

    def signature(self, path: str, date: str, expires: str) -> str:
        return hmac.new(self.secret, f"GET\n{path}\n{date}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def url(self, base_url: str, path: str) -> str:
        date = datetime.fromtimestamp(self.app.clock.now(), UTC).strftime(_AMZ_DATE)
        expires = str(LINK_LIFETIME)
        return (
            f"{base_url}{path}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date={date}&X-Amz-Expires={expires}"
            f"&X-Amz-SignedHeaders=host&X-Amz-Signature={self.signature(path, date, expires)}"
        )

    def check(self, request: MockRequest) -> None:
        """Raise the S3 error a presigned GET gets when the link is incomplete, altered or expired."""
        query = dict(request.query)
        date, expires, signature = query.get("X-Amz-Date", ""), query.get("X-Amz-Expires", ""), query.get("X-Amz-Signature", "")
        if not (date and expires and signature):
            raise S3Error("AccessDenied", "Access Denied")
        if not hmac.compare_digest(signature, self.signature(request.path, date, expires)):
            raise S3Error("SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.")
        try:
            signed = datetime.strptime(date, _AMZ_DATE).replace(tzinfo=UTC).timestamp()
        except ValueError as exc:
            raise S3Error("AuthorizationQueryParametersError", "X-Amz-Date must be in the ISO8601 Long Format.") from exc
        now = self.app.clock.now()
        if now > signed + int(expires) and "clarius.research_links_never_expire" not in self.app.config.defects:
            raise S3Error(
                "AccessDenied",
                "Request has expired",
                {
                    "X-Amz-Expires": expires,
                    "Expires": datetime.fromtimestamp(signed + int(expires), UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "ServerTime": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                },
            )


class S3Error(Exception):
    """An error as S3 answers a GET: 403 (or 404 for NoSuchKey) with an XML ``<Error>`` document."""

    def __init__(self, code: str, message: str, details: dict[str, str] | None = None, status: int = 403) -> None:
        super().__init__(message)
        self.code, self.message, self.details, self.status = code, message, details or {}, status

    def response(self) -> MockResponse:
        extra = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in self.details.items())
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{self.code}</Code><Message>{escape(self.message)}</Message>{extra}"
            f"<RequestId>{secrets.token_hex(8).upper()}</RequestId></Error>"
        )
        return MockResponse(self.status, body.encode(), {}, "application/xml", raw=True)


@API.raw("GET", LINK_PREFIX, "research links: raw images and DICOM downloads (presigned, 7 days of the mock clock)")
def research_media(app: Any, request: MockRequest) -> MockResponse:
    try:
        Links(app).check(request)
        if (match := _RAW_PATH.match(request.path)) is not None:
            return raw_image(app, match.group(1), match.group(2))
        if (match := _DICOM_PATH.match(request.path)) is not None:
            return dicom_download(app, int(match.group(1)), match.group(2), match.group(3))
        raise S3Error("NoSuchKey", "The specified key does not exist.", status=404)
    except S3Error as error:
        return error.response()


def _attachment(data: bytes, content_type: str, name: str) -> MockResponse:
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "private, max-age=604800"}
    return MockResponse(200, data, headers, content_type, raw=True)


def raw_image(app: Any, capture_uuid: str, name: str) -> MockResponse:
    store = ResearchStore(app.store)
    row = app.store.query_one("SELECT exam_uuid FROM clarius_captures WHERE capture_uuid = ?", (capture_uuid,))
    exam_id = store.exam_id(row["exam_uuid"]) if row is not None else None
    exam = store.exam(exam_id) if exam_id is not None else None
    info = next((i for i in capture_infos(exam) if i.capture_uuid == capture_uuid), None) if exam is not None else None
    if info is None or raw_file_name(info) != name:
        raise S3Error("NoSuchKey", "The specified key does not exist.", status=404)
    return _attachment(raw_image_bytes(info), "image/jpeg" if info.frames == 1 else "application/zip", name)


@lru_cache(maxsize=32)
def raw_image_bytes(info: research_fixtures.CaptureInfo) -> bytes:
    """The pre-scan JPEG of a still capture, or a ZIP of one JPEG a frame for a cine."""
    from . import imaging

    pictures = [
        imaging.jpeg(imaging.pre_scan(info.capture_uuid, info.probe.lines, info.samples, f, info.frames)) for f in range(info.frames)
    ]
    if len(pictures) == 1:
        return pictures[0]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for file_name, picture in zip(info.file_names, pictures, strict=True):
            archive.writestr(file_name, picture)
    return buffer.getvalue()


def dicom_download(app: Any, exam_id: int, token: str, name: str) -> MockResponse:
    exam = ResearchStore(app.store).exam(exam_id)
    try:
        options = DicomOptions.from_token(token)
    except (ValueError, TypeError, KeyError) as exc:  # a signed token always reads back; this is a forged one
        raise S3Error("NoSuchKey", "The specified key does not exist.", status=404) from exc
    if exam is None or name != f"exam-{exam.id}-dicom.zip":
        raise S3Error("NoSuchKey", "The specified key does not exist.", status=404)
    syntax = options.transfer_syntax_uid
    if "clarius.dicom_wrong_transfer_syntax" in app.config.defects:  # the other syntax, labelled as such
        syntax = next(uid for uid in SYNTAX_UIDS.values() if uid != syntax)
    return _attachment(export(exam, options, syntax), "application/zip", name)
