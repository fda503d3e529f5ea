"""Clarius control routes (``/__mock__/clarius/...``) and the capture media downloads.

``POST /__mock__/clarius/exams`` simulates a scanner upload: it creates the exam
(or a new submission of an existing one) and its download request, and POSTs the
notification to the registered ``notification_url`` from a background thread, so
the call returns at once. Every attempt lands in the notification records. With
``"processing": true`` the exam's research data is still being processed (the Research
API answers 400) until ``POST /__mock__/clarius/research/exams/processing`` says it is done.

Research API control routes (``/__mock__/clarius/research/...``): the exams with their
numeric ids, finishing (or restarting) an exam's processing, revoking tokens, granting or
withdrawing a user's Research Bundle. Links expire with the mock clock (``POST /__mock__/clock``).
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from datetime import UTC, datetime
from typing import Any

from medimock.fixtures import clarius as fixtures

from ...control import json_body
from ...http import MockRequest, MockResponse, Problem, json_response
from ...webhooks import Delivery, DeliveryResult
from . import API
from .research_store import ResearchStore
from .store import ClariusStore, iso, now_iso

_CAPTURE_PATH = re.compile(r"^/media/clarius/captures/([0-9a-f-]{36})/([^/]+)$")


@API.raw("GET", "/media/clarius/captures/", "capture media (what the capture URLs point at)")
def capture_media(app: Any, request: MockRequest) -> MockResponse:
    match = _CAPTURE_PATH.match(request.path)
    row = ClariusStore(app.store).capture(match.group(1)) if match else None
    if row is None or match is None or match.group(2) != fixtures.MEDIA[row["kind"]][2]:
        raise Problem("not_found", 404, "Not found.")
    _, content_type, _ = fixtures.MEDIA[row["kind"]]
    return MockResponse(200, fixtures.media_bytes(row["kind"]), {"Cache-Control": "private, max-age=3600"}, content_type, raw=True)


@API.control("POST", "/clarius/exams", "simulate a scanner upload (and send the webhook)")
def simulate_upload(app: Any, request: MockRequest) -> MockResponse:
    options = json_body(request, required=False) or {}
    if not isinstance(options, dict):
        raise Problem("invalid_request", 400, "The body is a JSON object (or empty).")
    unknown = set(options) - {"customer_id", "captures", "patient", "exam_uuid", "processing"}
    if unknown:
        raise Problem(
            "invalid_request",
            400,
            f"Unknown fields: {', '.join(sorted(unknown))}; known: customer_id, captures, patient, exam_uuid, processing.",
        )
    processing = options.get("processing")
    if processing is not None and not isinstance(processing, bool):
        raise Problem("invalid_request", 400, "processing must be true or false.")
    db = ClariusStore(app.store)
    now = datetime.now(UTC)
    for attempt in range(20):
        seed_rng = _rng(app, db, options, attempt)
        if options.get("exam_uuid"):
            exam_row = db.exam_row(str(options["exam_uuid"]))
            if exam_row is None:
                raise Problem("not_found", 404, f"No exam {options['exam_uuid']}.")
            customer_id = exam_row["customer_id"]
            exam = fixtures.Exam(exam_row["exam_uuid"], customer_id, {}, exam_row["application_uuid"], now)
            new_exam = False
        else:
            customer_id = options.get("customer_id")
            customers = db.customers()
            if customer_id is None:
                customer_id = customers[0]["token"]
            elif not any(row["token"] == customer_id for row in customers):
                raise Problem("not_found", 404, f"No customer with token {customer_id!r}; see GET /__mock__/credentials.")
            count = options.get("captures", 2)
            if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 50:
                raise Problem("invalid_request", 400, "captures must be an integer from 1 to 50.")
            kind = options.get("patient", "human")
            if kind not in ("human", "animal"):
                raise Problem("invalid_request", 400, 'patient must be "human" or "animal".')
            fake, rng = seed_rng
            patient = fixtures.patient(fake, rng)
            while ("animal_name" in patient) != (kind == "animal"):
                patient = fixtures.patient(fake, rng)
            apps = db.applications()
            exam = fixtures.Exam(fixtures.uuid4_from(rng), customer_id, patient, rng.choice(apps)["uuid"] if apps else None, now)
            kinds = list(fixtures.MEDIA)
            exam.captures = [fixtures.Capture(fixtures.uuid4_from(rng), kinds[i % len(kinds)]) for i in range(count)]
            new_exam = True
        submission = fixtures.DownloadRequest(fixtures.uuid4_from(seed_rng[1]), exam.uuid, customer_id, now)
        try:
            db.add_exam(exam, submission, new_exam)
        except sqlite3.IntegrityError:  # another upload raced this one to the same identifiers: draw again
            continue
        break
    else:
        raise Problem("conflict", 409, "Too many simultaneous simulated uploads; try again.")
    research = ResearchStore(app.store)
    exam_id = research.register(exam.uuid, bool(processing)) if new_exam or processing is not None else research.exam_id(exam.uuid)
    payload = fixtures.notification_payload(submission, request.base_url)
    notification_url = db.settings()["notification_url"]
    notification: dict[str, Any] | None = None
    if notification_url:
        send_notification(app, notification_url, payload, submission.uuid)
        notification = {"url": notification_url, "status": "queued"}
    return json_response(
        {
            **payload,
            "captures": len(exam.captures) if new_exam else None,
            "notification": notification,
            "exam_id": exam_id,
            "processing": bool(processing) if new_exam or processing is not None else None,
        },
        status=201,
    )


def send_notification(app: Any, url: str, payload: dict[str, Any], request_uuid: str) -> None:
    content = fixtures.payload_json(payload)
    delivery = Delivery(
        url=url, body=content.encode(), headers={"Content-Type": "application/json", "User-Agent": "medimock-clarius-webhook"}
    )
    if "clarius.webhook_missing_download_url" in app.config.defects:
        broken = {k: v for k, v in payload.items() if k != "download_url"}
        delivery = Delivery(url=url, body=json.dumps(broken).encode(), headers=delivery.headers)
        content = json.dumps(broken)

    def record(result: DeliveryResult) -> None:
        response = None
        if result.status_code is not None:
            response = {"status_code": result.status_code, "content": result.response_body or ""}
        ClariusStore(app.store).add_record(
            {
                "logged_at": iso(result.finished_at),
                "sent_at": iso(result.sent_at),
                "request": {"url": url, "method": "POST", "content": content},
                "response": response,
                "error": result.error,
            },
            request_uuid,
        )

    app.send_webhook("clarius", delivery, record)


@API.control("GET", "/clarius/reports", "the reports uploaded through the Report Upload API")
def uploaded_reports(app: Any, request: MockRequest) -> MockResponse:
    request_uuid = dict(request.query).get("request_uuid")
    db = ClariusStore(app.store)
    reports = db.reports(request_uuid)
    for report in reports:
        row = db.report_data(report["uuid"])
        report["sha256"] = hashlib.sha256(row["data"]).hexdigest() if row else None
    return json_response({"count": len(reports), "results": reports})


def _rng(app: Any, db: ClariusStore, options: dict[str, Any], attempt: int) -> tuple[Any, Any]:
    # A fresh exam per upload, deterministic from the seed, the uploads so far and the options: two mocks seeded alike
    # that are sent the same calls make the same exams (``medimock diff`` between them compares every value).
    what = json.dumps(options, sort_keys=True, default=str)
    return fixtures.seeded(app.config.seed, f"upload:{db.download_request_count()}:{what}:{attempt}")


# -- Research API ---------------------------------------------------------------------------------
def _research_options(request: MockRequest, known: set[str]) -> dict[str, Any]:
    options = json_body(request)
    if not isinstance(options, dict):
        raise Problem("invalid_request", 400, "The body is a JSON object.")
    unknown = set(options) - known
    if unknown:
        raise Problem("invalid_request", 400, f"Unknown fields: {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}.")
    return options


@API.control("GET", "/clarius/research/exams", "the exams with their Research API ids (?institution=<customer token>)")
def research_exams(app: Any, request: MockRequest) -> MockResponse:
    found = ResearchStore(app.store).exams(dict(request.query).get("institution"))
    return json_response({"count": len(found), "results": found})


@API.control(
    "POST", "/clarius/research/exams/processing", 'finish (or restart) the processing of an exam: {"exam_id": N, "processing": false}'
)
def set_processing(app: Any, request: MockRequest) -> MockResponse:
    options = _research_options(request, {"exam_id", "exam_uuid", "processing"})
    db = ResearchStore(app.store)
    processing = options.get("processing", False)
    if not isinstance(processing, bool):
        raise Problem("invalid_request", 400, "processing must be true or false (default false: processing is done).")
    exam_id = options.get("exam_id")
    if exam_id is None and isinstance(options.get("exam_uuid"), str):
        exam_id = db.exam_id(options["exam_uuid"])
    if isinstance(exam_id, str) and exam_id.isdigit():
        exam_id = int(exam_id)
    if not isinstance(exam_id, int) or isinstance(exam_id, bool) or not db.set_processing(exam_id, processing):
        raise Problem("not_found", 404, 'No such exam; give {"exam_id": N} or {"exam_uuid": "..."} of an existing exam.')
    return json_response({"exam_id": exam_id, "processing": processing})


@API.control("POST", "/clarius/research/tokens/revoke", 'revoke research tokens: {"token": "..."} or {"username": "..."}')
def revoke_research_tokens(app: Any, request: MockRequest) -> MockResponse:
    options = _research_options(request, {"token", "username"})
    if len(options) != 1 or not isinstance(next(iter(options.values())), str):
        raise Problem("invalid_request", 400, 'Give one of {"token": "..."} or {"username": "..."}.')
    revoked = ResearchStore(app.store).revoke(now_iso(), token=options.get("token"), username=options.get("username"))
    return json_response({"revoked": revoked})


@API.control(
    "POST", "/clarius/research/bundle", 'grant or withdraw the Research Bundle of a research user: {"username": "...", "granted": true}'
)
def research_bundle(app: Any, request: MockRequest) -> MockResponse:
    options = _research_options(request, {"username", "granted"})
    if not isinstance(options.get("username"), str) or not isinstance(options.get("granted"), bool):
        raise Problem("invalid_request", 400, 'The body is {"username": "...", "granted": true or false}.')
    if not ResearchStore(app.store).set_bundle(options["username"], options["granted"]):
        raise Problem("not_found", 404, f"No research user {options['username']!r}; see GET /__mock__/credentials.")
    return json_response({"username": options["username"], "research_bundle": options["granted"]})
