"""/study/exists asked by "study_uid && account_id", the document's third way to name a study ("(uuid || study_uid &&
storage_namespace && phi_namespace || study_uid && account_id) • The study uuid, the storage triplet, or the study uid and
account id"; "exists • Flag if the study exists"): the suite's own study, named by its study_uid and the suite's account,
exists; a study_uid no study has, in the same account, does not (an OK reply with exists 0, not an error); the suite's
study_uid with another account's id does not either (when the target names another account). The study is deleted
afterwards.
"""

from __future__ import annotations

from medimock.ambra_contract import MAIN, ok, own_study
from medimock.verdict import Document, expect

BY_UID = Document.of(
    Document(
        MAIN,
        "(uuid || study_uid && storage_namespace && phi_namespace || study_uid && account_id) • The study uuid, the storage triplet, "
        "or the study uid and account id",
    ),
    Document(MAIN, "exists • Flag if the study exists", after="URL /study/exists"),
)


def test_study_exists_by_study_uid_and_account_id(ambra):
    account = ambra.account_id()
    with own_study(ambra, "STUDY^EXISTS") as study:
        got = ok(ambra, "/study/get", {"uuid": study}, BY_UID, "/study/get of the suite's study") if study else {}
        study_uid = got.get("study_uid")
        if not study_uid:
            return
        found = ok(ambra, "/study/exists", {"study_uid": study_uid, "account_id": account}, BY_UID, "/study/exists of the study's uid")
        expect(BY_UID, str(found.get("exists")) == "1", f"the study named by its study_uid and account exists: {found}")
        unknown = f"{study_uid}.404"
        absent = ok(ambra, "/study/exists", {"study_uid": unknown, "account_id": account}, BY_UID, "/study/exists of a uid no study has")
        expect(BY_UID, str(absent.get("exists")) == "0", f"a study_uid no study has does not exist in the account: {absent}")
        other = ambra.credentials.get("other_account_id")
        if other and str(other) != account:
            elsewhere = ok(
                ambra, "/study/exists", {"study_uid": study_uid, "account_id": other}, BY_UID, "/study/exists in another account"
            )
            expect(BY_UID, str(elsewhere.get("exists")) == "0", f"the study's uid with another account's id does not exist: {elsewhere}")
