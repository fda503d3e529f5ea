"""The general sections of the Ambra document against the target (specs/sources/
ambra-v3-services-api-preamble.txt): field selection with fields.OBJECT and fields._top, every date
format of a filter, the seconds a filter without microseconds compares, filter.tz as an offset and
as an Olson name, saved filters through filter_id (and FILTER_NOT_FOUND), filters on a secondary
table, custom-field filters and sorts typed by the custom field, and the default page size.

The tests work on studies and custom fields they create in the administrator's account namespace
and delete afterwards (also what the target wrongly accepted).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from medimock.ambra_contract import (
    CUSTOMFIELD_FILTER,
    CUSTOMFIELD_SORT,
    DATES,
    FIELDS,
    FIELDS_TOP,
    FILTER_NOT_FOUND,
    FILTER_TZ,
    PAGE_DEFAULT,
    SAVED,
    SECONDARY,
    SECONDARY_TABLES,
    STAMP_FORM,
    TIMESTAMP_FORM,
    moment,
    ok,
    refused,
)
from medimock.suite import SetupStep
from medimock.verdict import Document, expect

STUDY_ADD = Document("ambra-v3-services-api.txt", "URL /study/add")


class Scratch:
    """Three studies of the suite's own (in the administrator's account namespace), deleted afterwards."""

    def __init__(self, ambra: Any) -> None:
        self.ambra = ambra
        self.namespace = ambra.namespace_id()
        self.account = ambra.account_id()
        self.studies: list[dict[str, Any]] = []
        self.customfields: list[str] = []

    def make(self) -> Scratch:
        for index, modality in enumerate(("CT", "MR", "US")):
            params = {"study_uid": f"2.25.{uuid.uuid4().int}", "phi_namespace": self.namespace, "storage_namespace": self.namespace,
                      "patient_name": f"GENERAL^SECTIONS{index}", "modality": modality, "study_date": "20240102"}  # fmt: skip
            added = ok(self.ambra, "/study/add", params, STUDY_ADD, "adding a scratch study")
            if added.get("uuid"):
                self.studies.append(ok(self.ambra, "/study/get", {"uuid": added["uuid"]}, STUDY_ADD, "the added study"))
        return self

    def remove(self) -> None:
        for study in self.studies:
            self.ambra.call("/study/delete", {"uuid": study.get("uuid")})
        for customfield in self.customfields:
            self.ambra.call("/customfield/delete", {"uuid": customfield})

    def listed(self, params: dict[str, Any], source: Document, what: str) -> list[str]:
        """The uuids of the scratch studies a /study/list with ``params`` returns."""
        mine = [s.get("uuid") for s in self.studies]
        body = ok(self.ambra, "/study/list", {"filter.uuid.in": mine, "page.rows": 100, **params}, source, what)
        return [s.get("uuid") for s in body.get("studies") or [] if isinstance(s, dict)]


@pytest.fixture(scope="module")
def _scratch(ambra: Any) -> Iterator[tuple[Scratch, SetupStep]]:
    scratch = Scratch(ambra)
    try:
        yield scratch, SetupStep("scratch studies in the administrator's namespace (/study/add)", scratch.make)
    finally:
        scratch.remove()


@pytest.fixture
def scratch(_scratch: tuple[Scratch, SetupStep], request: pytest.FixtureRequest) -> Scratch:
    made: Scratch = _scratch[1].get(request)
    if not made.studies:
        pytest.skip("the target added no scratch study")
    return made


# -- Fields ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["POST", "GET"])
def test_fields_object_limits_the_objects_of_a_reply(ambra: Any, scratch: Scratch, method: str) -> None:
    accounts = ok(ambra, "/account/list", {"fields.account": ["uuid", "name"]}, FIELDS, "fields.account on /account/list", method=method)
    for account in accounts.get("accounts") or []:
        expect(FIELDS, set(account) <= {"uuid", "name"}, f"fields.account=[uuid, name] returns only those: {sorted(account)}")
    wanted = ["uuid", "patient_name"]
    studies = ok(ambra, "/study/list", {"filter.uuid.in": [s.get("uuid") for s in scratch.studies], "fields.study": wanted},
                 FIELDS, "fields.study on /study/list", method=method)["studies"]  # fmt: skip
    expect(FIELDS, len(studies) == len(scratch.studies), f"fields selects fields, not rows: {len(studies)} studies")
    for study in studies:
        expect(FIELDS, set(study) <= set(wanted) and "patient_name" in study, f"fields.study={wanted} returns those: {sorted(study)}")
    one = ok(
        ambra, "/study/get", {"uuid": scratch.studies[0].get("uuid"), "fields.study": ["modality"]}, FIELDS, "fields.study on /study/get"
    )
    expect(FIELDS, set(one) - {"status"} == {"modality"}, f"/study/get with fields.study=[modality]: {sorted(one)}")


def test_fields_top_limits_the_top_level_of_a_reply(ambra: Any) -> None:
    user = ok(ambra, "/session/user", {"fields._top": ["session_expire"]}, FIELDS_TOP, "fields._top on /session/user")
    expect(FIELDS_TOP, set(user) == {"status", "session_expire"}, f"fields._top=[session_expire] returns it and status: {sorted(user)}")
    page = ok(ambra, "/study/list", {"fields._top": ["page"], "page.rows": 1}, FIELDS_TOP, "fields._top on /study/list")
    expect(FIELDS_TOP, set(page) == {"status", "page"}, f"fields._top=[page] on a list: {sorted(page)}")


# -- dates, seconds and time zones --------------------------------------------------------------------
def created_of(study: dict[str, Any]) -> datetime:
    found = moment(study.get("created"))
    expect(DATES, found is not None, f"a study's created is a date and time: {study.get('created')!r}")
    expect(
        TIMESTAMP_FORM, bool(STAMP_FORM.match(str(study.get("created")))), f"created has the live service's form: {study.get('created')!r}"
    )
    return found[0] if found else datetime(1970, 1, 1)


@pytest.mark.parametrize("form", ["YYYY-MM-DD", "YYYYMMDD", "YYYY-MM-DD hh:mm:ss", "YYYY-MM-DD hh:mm:ss.uuuuuu", "with an offset"])
def test_every_date_format_filters_a_timestamp(ambra: Any, scratch: Scratch, form: str) -> None:
    study = scratch.studies[0]
    created = created_of(study)
    seconds = created.strftime("%Y-%m-%d %H:%M:%S")
    checks = {
        "YYYY-MM-DD": {"filter.created.ge": f"{created:%Y-%m-%d}", "filter.created.lt": f"{created + timedelta(days=1):%Y-%m-%d}"},
        "YYYYMMDD": {"filter.created.ge": f"{created:%Y%m%d}", "filter.created.lt": f"{created + timedelta(days=1):%Y%m%d}"},
        "YYYY-MM-DD hh:mm:ss": {"filter.created.equals": seconds},  # truncated to seconds before comparison
        "YYYY-MM-DD hh:mm:ss.uuuuuu": {"filter.created.equals": f"{seconds}.{created:%f}"},
        "with an offset": {"filter.created.equals": f"{seconds}+05:00"},  # "Timezone offsets are ignored"
    }
    found = scratch.listed(checks[form], DATES, f"a created filter in the form {form}")
    expect(DATES, study.get("uuid") in found, f"filter {checks[form]} ({form}) finds the study created {study.get('created')}: {found}")
    if form == "YYYY-MM-DD hh:mm:ss.uuuuuu":
        other = created.replace(microsecond=(created.microsecond + 1) % 1_000_000)
        missed = scratch.listed({"filter.created.equals": other.strftime("%Y-%m-%d %H:%M:%S.%f")}, DATES, "another microsecond")
        expect(DATES, study.get("uuid") not in missed, "a filter with microseconds compares them")


@pytest.mark.parametrize(("tz", "hours"), [("+03:00", 3), ("-4:00", -4), ("Asia/Tokyo", 9)])
def test_filter_tz_applies_to_every_date_in_the_filters(ambra: Any, scratch: Scratch, tz: str, hours: int) -> None:
    study = scratch.studies[0]
    local = (created_of(study) + timedelta(hours=hours)).strftime("%Y-%m-%d %H:%M:%S")
    found = scratch.listed({"filter.created.equals": local, "filter.tz": tz}, FILTER_TZ, f"filter.tz={tz}")
    expect(FILTER_TZ, study.get("uuid") in found, f"created equals {local} in {tz} finds the study created {study.get('created')} UTC")
    utc = scratch.listed({"filter.created.equals": local}, FILTER_TZ, "the same filter without filter.tz")
    expect(FILTER_TZ, study.get("uuid") not in utc, f"without filter.tz, {local} is read as UTC and misses the study")


# -- saved filters, secondary tables ---------------------------------------------------------------------
def test_a_saved_filter_applies_through_filter_id(ambra: Any, scratch: Scratch) -> None:
    first, second = scratch.studies[0].get("uuid"), scratch.studies[1].get("uuid")
    saved: list[str] = []
    try:
        for study in (first, second):
            added = ok(ambra, "/filter/add", {"name": f"contract {uuid.uuid4().hex[:6]}", "type": "study", "account_id": scratch.account,
                                              "configuration": {"filter.uuid.equals": study}}, SAVED, "saving a filter")  # fmt: skip
            if added.get("uuid"):
                saved.append(added["uuid"])
        if len(saved) < 2:
            return
        expect(SAVED, scratch.listed({"filter_id": saved[0]}, SAVED, "filter_id of a hash") == [first], "a saved hash of filters applies")
        either = ok(ambra, "/filter/add", {"name": "contract either", "type": "study", "account_id": scratch.account, "configuration": saved},
                    SAVED, "saving a list of filters")  # fmt: skip
        if either.get("uuid"):
            saved.append(either["uuid"])
            both = scratch.listed({"filter_id": either["uuid"]}, SAVED, "filter_id of a list")
            expect(SAVED, set(both) == {first, second}, f"a saved list of filters is OR'ed: {both}")
        missing = str(uuid.uuid4())
        body = refused(ambra, "/study/list", {"filter_id": missing}, "FILTER_NOT_FOUND", FILTER_NOT_FOUND, "an unknown filter_id")
        expect(
            FILTER_NOT_FOUND, body.get("error_subtype") == missing, f"error_subtype holds the filter uuid: {body.get('error_subtype')!r}"
        )
    finally:
        for filter_id in reversed(saved):
            ambra.call("/filter/delete", {"uuid": filter_id})


def test_an_unknown_filter_id_is_filter_not_found_on_other_lists_too(ambra: Any) -> None:
    """The preamble's filters (saved ones through filter_id, FILTER_NOT_FOUND) are general: a list whose block takes
    ``filter.* Filters`` answers an unknown filter_id as /study/list does, not with its own NOT_FOUND (the account's)."""
    missing, account = str(uuid.uuid4()), ambra.account_id()
    for path in ("/group/list", "/location/list"):
        what = f"{path} with an unknown filter_id"
        body = refused(ambra, path, {"account_id": account, "filter_id": missing}, "FILTER_NOT_FOUND", FILTER_NOT_FOUND, what)
        subtype = body.get("error_subtype")
        expect(FILTER_NOT_FOUND, not body or subtype == missing, f"{what}: error_subtype holds the filter uuid: {subtype!r}")


def test_a_filter_can_name_a_field_of_a_secondary_table(ambra: Any, scratch: Scratch) -> None:
    account = ok(ambra, "/account/get", {"uuid": scratch.account}, SECONDARY, "the administrator's account")
    name = account.get("name")
    found = scratch.listed({"filter.account.name.equals": name}, SECONDARY, "filter.account.name.equals")
    expect(
        SECONDARY_TABLES, set(found) == {s.get("uuid") for s in scratch.studies}, f"filter.account.name.equals={name!r} finds its studies"
    )
    none = scratch.listed({"filter.account.name.equals": f"no such account {uuid.uuid4()}"}, SECONDARY, "a name no account has")
    expect(SECONDARY_TABLES, none == [], f"filter.account.name.equals=<no account> finds nothing: {none}")


# -- custom fields -----------------------------------------------------------------------------------------
def test_customfields_filter_and_sort_by_their_type(ambra: Any, scratch: Scratch) -> None:
    added = ok(ambra, "/customfield/add", {"account_id": scratch.account, "name": f"contract dose {uuid.uuid4().hex[:6]}", "object": "Study",
                                           "type": "number"}, CUSTOMFIELD_SORT, "adding a number custom field")  # fmt: skip
    field = added.get("uuid")
    if not field:
        return
    scratch.customfields.append(field)
    values = dict(zip([s.get("uuid") for s in scratch.studies], ("10", "9", "100"), strict=False))
    for study, value in values.items():
        ok(ambra, "/study/set", {"study_id": study, f"customfield-{field}": value}, CUSTOMFIELD_FILTER, "setting a custom field")
    ascending = scratch.listed({"sort_by": f"customfield-{field}-asc"}, CUSTOMFIELD_SORT, "sort by a number custom field")
    expect(
        CUSTOMFIELD_SORT,
        [values.get(u) for u in ascending] == ["9", "10", "100"],
        f"numbers sort as numbers: {[values.get(u) for u in ascending]}",
    )
    descending = scratch.listed({"sort_by": f"customfield-{field}-desc"}, CUSTOMFIELD_SORT, "sort descending")
    expect(CUSTOMFIELD_SORT, descending == list(reversed(ascending)), "descending is the reverse")
    over = scratch.listed({f"filter.customfield-{field}.gt": "9.5"}, CUSTOMFIELD_FILTER, "a custom field filter")
    expect(CUSTOMFIELD_FILTER, {values.get(u) for u in over} == {"10", "100"}, f"customfield-UUID gt 9.5: {[values.get(u) for u in over]}")


def test_the_default_page_is_100_or_1000_rows(ambra: Any) -> None:
    body = ok(ambra, "/study/list", {}, PAGE_DEFAULT, "/study/list without page.rows")
    rows = (body.get("page") or {}).get("rows")
    expect(PAGE_DEFAULT, rows in (100, 1000), f"the default page.rows is 100 or 1000, not {rows!r}")
