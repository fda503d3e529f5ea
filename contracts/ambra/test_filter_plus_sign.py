"""A filter value holding a plus sign: the preamble's "equals - an exact match e.g. filter.name.equals=jack". A study
of the suite's own whose patient_name holds a "+" (sent form-encoded, so the server receives the "+" itself) is found
by /study/list with filter.patient_name.equals of that very name (and its uuid); a server that read the "+" as a space
would find nothing. The study is deleted afterwards.
"""

from __future__ import annotations

import uuid

from medimock.ambra_contract import MAIN, ok
from medimock.verdict import Document, expect

STUDY_ADD = Document(MAIN, "uuid • The study uuid", after="URL /study/add")
EQUALS = Document("ambra-v3-services-api-preamble.txt", "equals - an exact match e.g. filter.name.equals=jack")


def test_an_equals_filter_matches_a_value_with_a_plus_sign(ambra):
    namespace = ambra.namespace_id()
    name = f"PLUS+{uuid.uuid4().hex[:8].upper()}^SIGN"
    params = {"study_uid": f"2.25.{uuid.uuid4().int}", "phi_namespace": namespace, "storage_namespace": namespace,
              "patient_name": name, "modality": "CT", "study_date": "20240102"}  # fmt: skip
    study = ok(ambra, "/study/add", params, STUDY_ADD, "a study of the suite's own").get("uuid")
    try:
        what = f"/study/list with filter.patient_name.equals={name}"
        listed = ok(ambra, "/study/list", {"filter.patient_name.equals": name, "filter.uuid.equals": study}, EQUALS, what)
        found = [s.get("uuid") for s in listed.get("studies") or [] if isinstance(s, dict)]
        expect(EQUALS, study in found, f"{what}: the study {study} named so is found, not {found}")
    finally:
        if study:
            ambra.call("/study/delete", {"uuid": study})
