"""Two flags of a study as /study/get shows them: "thin • Flag to add this as a thin study (optional)" (/study/add)
and /study/get's "thin • Is this a thin study": a study added without the flag is no thin study; /study/star's
"star • Star flag set on or off (1|0)" and /study/get's "star • The study star flag": starred, then unstarred, the
study's star flag is off again. The study is deleted afterwards.
"""

from __future__ import annotations

from medimock.ambra_contract import MAIN, ok, own_study
from medimock.verdict import Document, expect

THIN = Document.of(
    Document(MAIN, "thin • Flag to add this as a thin study (optional)"),
    Document(MAIN, "thin • Is this a thin study, a thin study is not in storage"),
)
STAR = Document.of(
    Document(MAIN, "star • Star flag set on or off (1|0)"),
    Document(MAIN, "star • The study star flag"),
)


def test_a_study_added_without_thin_is_no_thin_study_and_unstars(ambra):
    with own_study(ambra, "STUDY^FLAGS") as study:
        got = ok(ambra, "/study/get", {"uuid": study}, THIN, "/study/get of a study added without thin")
        expect(THIN, str(got.get("thin", 0)) in ("0", "None", ""), f"a study added without thin is no thin study: thin={got.get('thin')!r}")
        ok(ambra, "/study/star", {"uuid": study, "star": 1}, STAR, "/study/star star=1")
        ok(ambra, "/study/star", {"uuid": study, "star": 0}, STAR, "/study/star star=0")
        star = ok(ambra, "/study/get", {"uuid": study}, STAR, "/study/get after star=1 then star=0").get("star")
        expect(STAR, str(star) in ("0", "None", ""), f"starred, then unstarred, the study's star flag is off: star={star!r}")
