"""The caller's permissions for a study of the suite's own: /study/permissions ("study_edit • The permission flag
setting", ...) answers the same flags as /study/get's "permissions • A hash of the study_* type permissions for this
study", and /namespace/permissions of the study ("Get the study permissions for the namespace") answers each of its
documented permissions as a flag (0 or 1). The study is deleted afterwards. With ``oauth`` ("Flag to return the OAuth
token information for the user"), /namespace/permissions answers "oauth • A JSON hash containing the the OAuth token and
ttl" (the hash's keys are not documented, so only that it is a hash of two or more entries is checked); the token is
logged out afterwards.
"""

from __future__ import annotations

from medimock.ambra_contract import MAIN, flag, ok, own_study
from medimock.verdict import Document, expect

SAME = Document.of(
    Document(MAIN, "study_edit • The permission flag setting", after="URL /study/permissions"),
    Document(MAIN, "permissions • A hash of the study_* type permissions for this study"),
)
FLAGS = Document(MAIN, "study_edit • The permission flag setting", after="URL /namespace/permissions")
OAUTH = Document.of(
    Document(MAIN, "oauth • Flag to return the OAuth token information for the user"),
    Document(MAIN, "oauth • A JSON hash containing the the OAuth token and ttl"),
)


def test_study_permissions_are_the_study_gets_permissions(ambra):
    with own_study(ambra, "STUDY^PERMISSIONS") as study:
        if not study:
            return
        hash_of = ok(ambra, "/study/get", {"uuid": study}, SAME, "/study/get of the suite's study").get("permissions")
        flags = ok(ambra, "/study/permissions", {"uuid": study}, SAME, "/study/permissions of the suite's study")
        if not isinstance(hash_of, dict) or not hash_of:
            return  # /study/get's own checks judge a missing hash
        shared = sorted(name for name in hash_of if name in flags)
        expect(SAME, bool(shared), f"/study/permissions answers the study_* flags /study/get lists: {sorted(flags)[:8]}")
        differ = {name: (flags[name], hash_of[name]) for name in shared if str(flags[name]) != str(hash_of[name])}
        expect(SAME, not differ, f"/study/permissions and /study/get's permissions disagree (permissions, get): {differ}")
        namespace = ok(ambra, "/namespace/permissions", {"study_id": study}, FLAGS, "/namespace/permissions of the suite's study")
        documented = [name for name in ("study_edit", "study_download", "study_browse", "study_share") if name in namespace]
        not_flags = {name: namespace[name] for name in documented if flag(namespace[name]) is None}
        expect(FLAGS, bool(documented) and not not_flags, f"/namespace/permissions answers flags (0 or 1): {not_flags or namespace}")


def test_namespace_permissions_with_oauth_answer_the_token_hash(ambra):
    namespace = ambra.namespace_id()
    body = ok(ambra, "/namespace/permissions", {"namespace_id": namespace, "oauth": 1}, OAUTH, "/namespace/permissions with oauth")
    if not body:
        return
    token = body.get("oauth")
    expect(OAUTH, isinstance(token, dict) and len(token) >= 2, f"oauth is a hash holding the OAuth token and its ttl: {token!r}")
    for value in token.values() if isinstance(token, dict) else ():
        if isinstance(value, str) and len(value) >= 16:  # the token, whatever the hash names it: not left behind
            ambra.call("/session/logout", sid=None, headers={"Authorization": f"Bearer {value}"})
