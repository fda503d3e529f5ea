"""A filter value holding a plus sign: the preamble's "equals - an exact match e.g. filter.name.equals=jack". A study
of the suite's own whose patient_name holds a "+" (sent form-encoded, so the server receives the "+" itself) is found
by /study/list with filter.patient_name.equals of that very name (and its uuid); a server that read the "+" as a space
would find nothing. The study is deleted afterwards.
"""

from __future__ import annotations

import uuid

from medimock.ambra_contract import ok, own_study
from medimock.verdict import Document, expect

EQUALS = Document("ambra-v3-services-api-preamble.txt", "equals - an exact match e.g. filter.name.equals=jack")


def test_an_equals_filter_matches_a_value_with_a_plus_sign(ambra):
    name = f"PLUS+{uuid.uuid4().hex[:8].upper()}^SIGN"
    with own_study(ambra, name) as study:
        what = f"/study/list with filter.patient_name.equals={name}"
        listed = ok(ambra, "/study/list", {"filter.patient_name.equals": name, "filter.uuid.equals": study}, EQUALS, what)
        found = [s.get("uuid") for s in listed.get("studies") or [] if isinstance(s, dict)]
        expect(EQUALS, study in found, f"{what}: the study {study} named so is found, not {found}")
