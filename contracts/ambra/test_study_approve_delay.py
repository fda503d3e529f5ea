"""/study/approve with a delay beyond its range: the block's "delay • Number of seconds to delay showing the study as
approved" and "INVALID_DELAY • A delay must be between 0 and 600 seconds". A study of the suite's own is approved
with a delay of 601 seconds: refused with INVALID_DELAY. The study is deleted afterwards.
"""

from __future__ import annotations

import pytest

from medimock.ambra_contract import MAIN, error_type, own_study
from medimock.verdict import Document, expect, json_body

INVALID_DELAY = Document.of(
    Document(MAIN, "delay • Number of seconds to delay showing the study as approved"),
    Document(MAIN, "INVALID_DELAY • A delay must be between 0 and 600 seconds"),
)


def test_study_approve_with_a_delay_beyond_600_seconds_is_invalid_delay(ambra):
    with own_study(ambra, "APPROVE^DELAY") as study:
        what = "/study/approve of a study of the suite's own with delay=601"
        response = ambra.call("/study/approve", {"uuid": study, "delay": 601})
        found = error_type(json_body(response, INVALID_DELAY, what)) if response.status_code == 412 else None
        if found == "NOT_PERMITTED":
            pytest.skip("the suite's administrator may not approve studies here (NOT_PERMITTED)")
        expect(INVALID_DELAY, response.status_code == 412, f"{what} is refused (HTTP 412), not {response.status_code}", response)
        expect(INVALID_DELAY, found == "INVALID_DELAY", f"{what}: error_type INVALID_DELAY, not {found!r}", response)
