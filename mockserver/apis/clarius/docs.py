"""What a newcomer sees of Clarius (``GET /`` and ``/docs``): a first call, and seeded values for "Try it out"."""

from __future__ import annotations

from typing import Any

from ...api import DocsExamples
from . import API
from . import store as clarius_store

API.quickstart = """\
curl -s -H "Authorization: {authorization}" "{base_url}/api/public/v0/exams/accessible/?limit=2"
curl -s -H "Authorization: {authorization}" "{base_url}/api/public/v0/services/notifications/records/"
TOKEN=$(curl -s -H "Content-Type: application/json" -d '{{"username": "{research_username}", "password": "{research_password}"}}' \\
        {base_url}/api/public/v0/token-auth/ | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
curl -s -H "Authorization: Token $TOKEN" "{base_url}/api/public/v0/exams/rawdata/{research_exam_id}\""""


def docs_examples(app: Any) -> DocsExamples:
    """The newest submission (its customer, request and exam), the customised application, an unconfirmed customer;
    for the Research API, the researcher with the research bundle and one of the exams they may read."""
    db = clarius_store.ClariusStore(app.store)
    values: dict[str, Any] = {}
    _, newest = db.download_requests(None, 1, 0)
    if newest:
        values.update(customer_id=newest[0]["customer_id"], request_uuid=newest[0]["request_uuid"], exam_uuid=newest[0]["exam_uuid"])
    customized = db.customizations()
    if customized:
        values["application_uuid"] = customized[0]["uuid"]
    bodies: dict[str, Any] = {}
    unconfirmed = [row["token"] for row in db.customers() if not row["confirmed_at"]]
    if unconfirmed:
        bodies["confirmCustomer"] = {"token": unconfirmed[0]}
    credentials = API.credentials(app, "") if API.credentials else {}
    if credentials.get("research_username"):
        bodies["obtainResearchToken"] = {"username": credentials["research_username"], "password": credentials.get("research_password")}
    if credentials.get("research_exam_id"):
        values.update({"getExamRawData.id": credentials["research_exam_id"], "createExamDicom.id": credentials["research_exam_id"]})
    return DocsExamples(values, bodies)


API.docs_examples = docs_examples
