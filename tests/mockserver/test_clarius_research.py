"""The Clarius Research API in the mock (in process, strict response validation on): research
users and tokens, raw data, DICOM downloads opened and decoded with pydicom, links that expire
with the mock clock, and the control routes."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from urllib.parse import urlsplit

import numpy as np
import pydicom
import pytest
from PIL import Image

from medimock import dicomfiles
from medimock.fixtures import clarius as fixtures
from mockserver.apis.clarius import dicom, imaging
from mockserver.apis.clarius.research_store import ResearchStore

API = "/api/public/v0"
JPEG_LOSSLESS, JPEG_LS = "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.80"
DAY = 86400


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def creds(client):
    return client.get("/__mock__/credentials").get_json()["clarius"]


def login(client, username, password):
    return client.post(f"{API}/token-auth/", json={"username": username, "password": password})


@pytest.fixture
def token(client, creds):
    response = login(client, creds["research_username"], creds["research_password"])
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Token {response.get_json()['token']}"}


def get(client, url):
    """GET an absolute link the mock gave (path and query only: the test client has no network)."""
    parts = urlsplit(url)
    return client.get(parts.path, query_string=parts.query)


def export(client, token, exam_id, **options):
    response = client.post(f"{API}/exams/dicom/{exam_id}", headers=token, json=options)
    assert response.status_code == 200, response.get_json()
    download = get(client, response.get_json()["download_url"])
    assert download.status_code == 200 and download.content_type == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(download.data))
    return [pydicom.dcmread(io.BytesIO(archive.read(name))) for name in archive.namelist()], archive.namelist()


# -- fixtures ------------------------------------------------------------------------------------
def test_research_users_are_deterministic_and_leave_the_service_fixtures_alone():
    first, again, other = fixtures.build(11), fixtures.build(11), fixtures.build(12)
    assert [(u.username, u.password) for u in first.research_users] == [(u.username, u.password) for u in again.research_users]
    assert [u.password for u in first.research_users] != [u.password for u in other.research_users]
    assert first.processing == again.processing and first.processing
    assert {u.research_bundle for u in first.research_users} == {True, False}
    assert len({u.institution for u in first.research_users}) == 2
    # seed 20240607's Service API key, as README lists it: the research users came from a generator of their own
    assert fixtures.build(20240607).api_key.key == "fvNy9n81.x30evkzwPzyBf267tgt5hkY7Zfm1e774"


def test_credentials_name_users_and_exams(creds):
    users = creds["research_users"]
    assert len(users) == 3 and sum(u["research_bundle"] for u in users) == 2
    main = next(u for u in users if u["username"] == creds["research_username"])
    assert creds["research_exam_id"] == str(main["exam_ids"][0]) and creds["research_processing_exam_id"] == str(
        main["processing_exam_ids"][0]
    )
    assert int(creds["research_other_exam_id"]) not in main["exam_ids"]
    assert creds["research_no_bundle_username"] != creds["research_username"]


# -- tokens --------------------------------------------------------------------------------------
def test_token_is_the_same_until_revoked(client, creds):
    first = login(client, creds["research_username"], creds["research_password"]).get_json()["token"]
    assert login(client, creds["research_username"], creds["research_password"]).get_json()["token"] == first
    assert len(first) == 64 and int(first, 16) >= 0
    revoked = client.post("/__mock__/clarius/research/tokens/revoke", json={"token": first})
    assert revoked.get_json() == {"revoked": 1}
    refused = client.get(f"{API}/exams/rawdata/{creds['research_exam_id']}", headers={"Authorization": f"Token {first}"})
    assert refused.status_code == 401 and refused.get_json() == {"detail": "Invalid token."}
    assert refused.headers["WWW-Authenticate"] == "Token"
    second = login(client, creds["research_username"], creds["research_password"]).get_json()["token"]
    assert second != first


def test_tokens_survive_a_reset(client, creds, token):
    client.post("/__mock__/reset")
    assert client.get(f"{API}/exams/rawdata/{creds['research_exam_id']}", headers=token).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "nobody@example.org", "password": "x"}, "non_field_errors"),
        ({"password": "x"}, "username"),
        ({"username": "x"}, "password"),
    ],
)
def test_bad_credentials_are_400(client, body, field):
    response = client.post(f"{API}/token-auth/", json=body)
    assert response.status_code == 400 and field in response.get_json()


def test_wrong_password_is_400(client, creds):
    response = login(client, creds["research_username"], creds["research_password"] + "x")
    assert response.status_code == 400
    assert response.get_json() == {"non_field_errors": ["Unable to log in with provided credentials."]}


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        (None, "Authentication credentials were not provided."),
        ("Token", "Invalid token header. No credentials provided."),
        ("Token a b", "Invalid token header. Token string should not contain spaces."),
        ("token 00", "Invalid token."),
        ("Service-API-Key fvNy9n81.x30evkzwPzyBf267tgt5hkY7Zfm1e774", "Authentication credentials were not provided."),
    ],
)
def test_research_operations_need_a_token(client, header, detail):
    response = client.get(f"{API}/exams/rawdata/1", headers={"Authorization": header} if header else {})
    assert response.status_code == 401 and response.get_json() == {"detail": detail}
    assert response.headers["WWW-Authenticate"] == "Token"


def test_a_token_does_not_open_the_service_api(client, token):
    assert client.get(f"{API}/exams/accessible/", headers=token).status_code == 401


# -- raw data ------------------------------------------------------------------------------------
def test_raw_data_of_an_accessible_exam(app, client, creds, token):
    exam_id = int(creds["research_exam_id"])
    exam = ResearchStore(app.extensions["medimock"].store).exam(exam_id)
    items = client.get(f"{API}/exams/rawdata/{exam_id}", headers=token).get_json()
    assert [i["capture_uuid"] for i in items] == [c for c, _ in exam.captures]
    kinds = dict(exam.captures)
    assert "mp4" in kinds.values(), "the credentials' exam has a cine capture"
    for item in items:
        blob = json.loads(item["blob"])
        assert blob["id"] == "{" + item["capture_uuid"] + "}" and blob["exam id"] == "{" + exam.exam_uuid + "}"
        stream = blob["sections"][0]["streams"][0]["info"]
        files = [f["filename"] for f in blob["sections"][0]["files"]]
        lines, samples = int(stream["size"]["number of lines"]), int(stream["size"]["samples per line"])
        raw = get(client, item["raw_image"])
        assert raw.status_code == 200
        if kinds[item["capture_uuid"]] == "mp4":
            archive = zipfile.ZipFile(io.BytesIO(raw.data))
            assert raw.content_type == "application/zip" and archive.namelist() == files and len(files) > 1
            pictures = [archive.read(name) for name in files]
        else:
            assert raw.content_type == "image/jpeg" and len(files) == 1 and urlsplit(item["raw_image"]).path.endswith(files[0])
            pictures = [raw.data]
        for picture in pictures:
            assert Image.open(io.BytesIO(picture)).size == (lines, samples), "one column a line, one row a sample"


def test_raw_data_refusals(client, creds, token):
    for exam_id, status in (
        (creds["research_other_exam_id"], 403),
        (creds["research_unknown_exam_id"], 404),
        ("abc", 404),
        ("0", 404),
        ("99999999999999999999999", 404),
        (creds["research_processing_exam_id"], 400),
    ):
        response = client.get(f"{API}/exams/rawdata/{exam_id}", headers=token)
        assert response.status_code == status, (exam_id, response.get_json())
        assert set(response.get_json()) == {"detail"}


def test_without_the_bundle_everything_is_403(client, creds):
    response = login(client, creds["research_no_bundle_username"], creds["research_no_bundle_password"])
    assert response.status_code == 200, "a user without the bundle still logs in"
    headers = {"Authorization": f"Token {response.get_json()['token']}"}
    for exam_id in (creds["research_exam_id"], creds["research_unknown_exam_id"]):  # the bundle is checked first
        assert client.get(f"{API}/exams/rawdata/{exam_id}", headers=headers).status_code == 403
        assert client.post(f"{API}/exams/dicom/{exam_id}", headers=headers, json={}).status_code == 403
    granted = client.post("/__mock__/clarius/research/bundle", json={"username": creds["research_no_bundle_username"], "granted": True})
    assert granted.status_code == 200
    assert client.get(f"{API}/exams/rawdata/{creds['research_exam_id']}", headers=headers).status_code == 200


def test_processing_ends_through_the_control_api(client, creds, token):
    upload = client.post("/__mock__/clarius/exams", json={"customer_id": token_institution(creds), "captures": 2, "processing": True})
    assert upload.status_code == 201
    exam_id = upload.get_json()["exam_id"]
    assert upload.get_json()["processing"] is True and exam_id > 120
    assert client.get(f"{API}/exams/rawdata/{exam_id}", headers=token).status_code == 400
    assert client.post(f"{API}/exams/dicom/{exam_id}", headers=token, json={}).status_code == 400
    listed = client.get("/__mock__/clarius/research/exams").get_json()["results"]
    assert next(e for e in listed if e["id"] == exam_id)["processing"] is True
    assert client.post("/__mock__/clarius/research/exams/processing", json={"exam_id": exam_id}).status_code == 200
    assert len(client.get(f"{API}/exams/rawdata/{exam_id}", headers=token).get_json()) == 2
    plain = client.post("/__mock__/clarius/exams", json={"customer_id": token_institution(creds)}).get_json()
    assert plain["processing"] is False and plain["exam_id"] == exam_id + 1
    assert client.post("/__mock__/clarius/research/exams/processing", json={"exam_id": 10**6}).status_code == 404
    again = client.post(
        "/__mock__/clarius/research/exams/processing", json={"exam_uuid": upload.get_json()["exam_uuid"], "processing": True}
    )
    assert again.status_code == 200 and client.get(f"{API}/exams/rawdata/{exam_id}", headers=token).status_code == 400


def token_institution(creds):
    return next(u["institution"] for u in creds["research_users"] if u["username"] == creds["research_username"])


# -- links ---------------------------------------------------------------------------------------
def test_links_expire_after_seven_days_of_the_mock_clock(client, creds, token):
    raw = client.get(f"{API}/exams/rawdata/{creds['research_exam_id']}", headers=token).get_json()[0]["raw_image"]
    dicom_url = client.post(f"{API}/exams/dicom/{creds['research_exam_id']}", headers=token, json={"resolution": "64x48"}).get_json()
    client.post("/__mock__/clock", json={"advance_seconds": 6 * DAY})
    assert get(client, raw).status_code == 200 and get(client, dicom_url["download_url"]).status_code == 200
    client.post("/__mock__/clock", json={"advance_seconds": DAY + 60})
    for url in (raw, dicom_url["download_url"]):
        expired = get(client, url)
        assert expired.status_code == 403 and expired.content_type == "application/xml"
        assert b"<Code>AccessDenied</Code><Message>Request has expired</Message>" in expired.data
    fresh = client.get(f"{API}/exams/rawdata/{creds['research_exam_id']}", headers=token).get_json()[0]["raw_image"]
    assert get(client, fresh).status_code == 200, "a new call gives a new link"


def test_the_journal_keeps_no_link_signature(client, creds, token):
    raw = client.get(f"{API}/exams/rawdata/{creds['research_exam_id']}", headers=token).get_json()[0]["raw_image"]
    assert get(client, raw).status_code == 200
    entry = client.get("/__mock__/requests?limit=1").get_json()["results"][0]
    assert entry["path"].startswith("/media/clarius/research/raw/") and entry["status"] == 200
    assert "X-Amz-Signature=%5Bredacted%5D" in entry["query"] and raw.rsplit("=", 1)[1] not in entry["query"]


def test_altered_links_are_refused(client, creds, token):
    raw = client.get(f"{API}/exams/rawdata/{creds['research_exam_id']}", headers=token).get_json()[0]["raw_image"]
    path, query = urlsplit(raw).path, urlsplit(raw).query
    other = str(uuid.uuid4())
    assert b"SignatureDoesNotMatch" in client.get(path.replace(path.split("/")[5], other), query_string=query).data
    assert client.get(path).status_code == 403, "no signature"
    tampered = query.replace("X-Amz-Date=", "X-Amz-Date=1")
    assert client.get(path, query_string=tampered).status_code == 403


def test_the_clock_advances_and_can_be_set_back(client, creds, token):
    assert client.post("/__mock__/clock", json={"advance_seconds": -5}).status_code == 400
    before = client.get("/__mock__/clock").get_json()["offset_seconds"]
    assert client.post("/__mock__/clock", json={"advance_seconds": 5}).get_json()["offset_seconds"] == before + 5
    raw = client.get(f"{API}/exams/rawdata/{creds['research_exam_id']}", headers=token).get_json()[0]["raw_image"]
    client.post("/__mock__/clock", json={"advance_seconds": 8 * DAY})
    assert get(client, raw).status_code == 403
    assert client.put("/__mock__/clock", json={"offset_seconds": before}).get_json()["offset_seconds"] == before
    assert get(client, raw).status_code == 200, "setting the clock back (a test cleaning up) makes the link valid again"
    assert client.put("/__mock__/clock", json={"offset_seconds": -1}).status_code == 400


# -- DICOM ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("syntax", [None, "jpeg lossless nonheirarchical process 14", "jpeg ls lossless"])
def test_dicom_per_syntax_is_valid_part10_that_decodes(app, client, creds, token, syntax):
    exam_id = int(creds["research_exam_id"])
    options = {"resolution": "160x120"} | ({"syntax": syntax} if syntax else {})
    datasets, names = export(client, token, exam_id, **options)
    exam = ResearchStore(app.extensions["medimock"].store).exam(exam_id)
    expected_syntax = JPEG_LS if syntax == "jpeg ls lossless" else JPEG_LOSSLESS
    parsed = dicom.DicomOptions.parse(options)
    infos = dicom.capture_infos(exam)
    assert names == [f"{c}.dcm" for c, _ in exam.captures]
    for ds, info in zip(datasets, infos, strict=True):
        assert ds.file_meta.TransferSyntaxUID == expected_syntax and ds.preamble is not None
        encoded = dicomfiles.frames(ds)
        assert len(encoded) == info.frames
        assert {dicomfiles.frame_process(f) for f in encoded} == {dicomfiles.expected_process(expected_syntax)}, "encoded as labelled"
        assert (ds.Rows, ds.Columns) == (120, 160)
        pixels = ds.pixel_array
        expected = np.stack(dicom.frames(exam, info, parsed)) if info.frames > 1 else dicom.frames(exam, info, parsed)[0]
        assert pixels.shape == expected.shape and np.array_equal(pixels, expected), "lossless: the decoded pixels are the rendered ones"
        if info.frames > 1:
            assert ds.SOPClassUID == dicom.US_MULTIFRAME_IMAGE and int(ds.NumberOfFrames) == info.frames
        else:
            assert ds.SOPClassUID == dicom.US_IMAGE and "NumberOfFrames" not in ds


def test_dicom_defaults_are_the_documents(client, creds, token):
    response = client.post(f"{API}/exams/dicom/{creds['research_exam_id']}", headers=token)  # no body at all
    assert response.status_code == 200
    download = get(client, response.get_json()["download_url"])
    archive = zipfile.ZipFile(io.BytesIO(download.data))
    ds = pydicom.dcmread(io.BytesIO(archive.read(archive.namelist()[-1])))
    assert ds.file_meta.TransferSyntaxUID == JPEG_LOSSLESS
    assert (ds.Columns, ds.Rows) == (1024, 768) and ds.pixel_array.shape[-2:] == (768, 1024)
    assert ds.BurnedInAnnotation == "NO" and ds.ImageComments == "Burned-in overlays: none"
    assert ds.TimezoneOffsetFromUTC == "+0000"


def _quadrant(kind, rows, columns):
    left, top, right, bottom = imaging.QUADRANTS[kind]
    mask = np.zeros((rows, columns), dtype=bool)
    mask[int(top * rows) : int(bottom * rows), int(left * columns) : int(right * columns)] = True
    return mask


@pytest.mark.parametrize(
    ("flag", "kind"),
    [
        ("include_demographics", "demographics"),
        ("include_scan_parameters", "scan_parameters"),
        ("include_measurements", "measurements"),
        ("include_annotations", "annotations"),
    ],
)
def test_each_overlay_is_burned_in_its_quadrant(client, creds, token, flag, kind):
    plain, _ = export(client, token, creds["research_exam_id"], resolution="320x240", b_image_only=True)
    drawn, _ = export(client, token, creds["research_exam_id"], resolution="320x240", **{flag: True})
    overridden, _ = export(client, token, creds["research_exam_id"], resolution="320x240", b_image_only=True, **{flag: True})
    for base, with_overlay, without in zip(plain, drawn, overridden, strict=True):
        a, b = base.pixel_array, with_overlay.pixel_array
        changed = (a != b) if a.ndim == 2 else (a != b).any(axis=0)
        inside = _quadrant(kind, 240, 320)
        assert changed[inside].any(), f"{flag} burns something in"
        assert not changed[~inside].any(), f"{flag} stays in its quadrant"
        assert np.array_equal(a, without.pixel_array), "b_image_only overrides the other flags"
        assert with_overlay.ImageComments == f"Burned-in overlays: {kind}"
        assert with_overlay.BurnedInAnnotation == ("YES" if kind == "demographics" else "NO")
        assert base.BurnedInAnnotation == "NO"


def test_demographics_list_and_time_zone(client, creds, token):
    toronto, _ = export(
        client,
        token,
        creds["research_exam_id"],
        resolution="320x240",
        include_demographics=True,
        demographics=["EXAM_DATE"],
        tz="America/Toronto",
    )
    utc, _ = export(client, token, creds["research_exam_id"], resolution="320x240", include_demographics=True, demographics=["EXAM_DATE"])
    name, _ = export(
        client, token, creds["research_exam_id"], resolution="320x240", include_demographics=True, demographics=["PATIENT_NAME"]
    )
    none, _ = export(client, token, creds["research_exam_id"], resolution="320x240", include_demographics=True, demographics=[])
    assert toronto[0].TimezoneOffsetFromUTC in ("-0500", "-0400") and utc[0].TimezoneOffsetFromUTC == "+0000"
    assert toronto[0].StudyTime != utc[0].StudyTime or toronto[0].StudyDate != utc[0].StudyDate
    assert not np.array_equal(toronto[0].pixel_array, utc[0].pixel_array), "the exam date is written in the time zone asked for"
    assert not np.array_equal(name[0].pixel_array, utc[0].pixel_array)
    assert none[0].BurnedInAnnotation == "NO", "an empty list displays no demographics"


def test_dicom_attributes_agree_with_the_service_api(app, client, creds, token):
    exam_id = int(creds["research_exam_id"])
    exam = ResearchStore(app.extensions["medimock"].store).exam(exam_id)
    key = {"Authorization": creds["authorization"]}
    data = client.get(f"{API}/exams/{exam.exam_uuid}/data/", headers=key).get_json()
    patient = data["patient"]
    raw = client.get(f"{API}/exams/rawdata/{exam_id}", headers=token).get_json()
    datasets, _ = export(client, token, exam_id, resolution="64x48")
    for ds, item in zip(datasets, raw, strict=True):
        blob = json.loads(item["blob"])
        assert ds.PatientID == patient["identifier"]
        assert ds.PatientBirthDate == patient["date_of_birth"].replace("-", "")
        assert ds.PatientSex == {"male": "M", "female": "F", "other": "O"}.get(patient["gender"], "")
        if "animal_name" in patient:
            assert ds.PatientName.given_name == patient["animal_name"] and ds.PatientSpeciesDescription == patient["animal_type"]
        else:
            assert ds.PatientName.family_name == patient["last_name"] and ds.PatientName.given_name == patient["first_name"]
        assert ds.StudyInstanceUID == f"2.25.{uuid.UUID(exam.exam_uuid).int}"
        assert ds.StudyID == str(exam_id) and ds.Modality == "US" and ds.InstitutionName == exam.institution_name
        assert ds.ManufacturerModelName == blob["probe model"] and ds.DeviceSerialNumber == blob["probe serial"]
        assert float(ds.MechanicalIndex) == blob["sections"][0]["acoustic"]["mi"]
    assert len({ds.SOPInstanceUID for ds in datasets}) == len(datasets)
    again, _ = export(client, token, exam_id, resolution="64x48")
    assert [ds.SOPInstanceUID for ds in again] == [ds.SOPInstanceUID for ds in datasets], "the same export, the same instances"
    other, _ = export(client, token, exam_id, resolution="80x48")
    assert other[0].SOPInstanceUID != datasets[0].SOPInstanceUID and other[0].StudyInstanceUID == datasets[0].StudyInstanceUID


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"syntax": "jpeg lossless nonhierarchical process 14"}, "syntax"),  # the correct spelling is not the document's
        ({"syntax": "explicit vr little endian"}, "syntax"),
        ({"resolution": "1024"}, "resolution"),
        ({"resolution": "1024x768x3"}, "resolution"),
        ({"resolution": "8x8"}, "resolution"),
        ({"resolution": "4097x10"}, "resolution"),
        ({"demographics": ["PATIENT_NAME", "SHOE_SIZE"]}, "demographics/1"),
        ({"demographics": "PATIENT_NAME"}, "demographics"),
        ({"tz": "Mars/Olympus_Mons"}, "tz"),
        ({"tz": "../../etc/passwd"}, "tz"),
        ({"include_demographics": "maybe"}, "include_demographics"),
    ],
)
def test_invalid_dicom_parameters_are_400(client, creds, token, body, field):
    response = client.post(f"{API}/exams/dicom/{creds['research_exam_id']}", headers=token, json=body)
    assert response.status_code == 400 and field in response.get_json(), response.get_json()


def test_dicom_refusals(client, creds, token):
    for exam_id, status in ((creds["research_other_exam_id"], 403), (creds["research_unknown_exam_id"], 404)):
        assert client.post(f"{API}/exams/dicom/{exam_id}", headers=token, json={}).status_code == status


def test_options_token_round_trips():
    options = dicom.DicomOptions.parse(
        {"syntax": "jpeg ls lossless", "resolution": "800x600", "demographics": ["EXAM_DATE", "PATIENT_NAME"]}
    )
    assert dicom.DicomOptions.from_token(options.token()) == options
    assert options.demographics == ("PATIENT_NAME", "EXAM_DATE"), "displayed in the document's order"
    assert dicom.DicomOptions.from_token(dicom.DicomOptions().token()) == dicom.DicomOptions()


@pytest.mark.parametrize(
    ("written", "responsible", "family"),
    [
        ("John Smith", "Smith^John", "Smith"),
        ("Dr. Scott Lopez", "Lopez^Scott^^Dr.", "Lopez"),
        ("Carol Jones MD", "Jones^Carol^^^MD", "Jones"),
        ("Mr. Frank Garcia Jr.", "Garcia^Frank^^Mr.^Jr.", "Garcia"),
        ("Mary Ann Lee", "Lee^Mary Ann", "Lee"),
        ("Cher", "Cher", "Cher"),
    ],
)
def test_an_owner_s_name_in_dicom_pn_components(written: str, responsible: str, family: str) -> None:
    """An animal's owner (ResponsiblePerson) and the animal's PatientName (owner's family name^animal) read one name
    the same way: a title before it and a suffix after it are not the family name (Faker writes 3% of names so)."""
    family_name, given, prefix, suffix = dicom.owner_name(written)
    assert f"{family_name}^{given}^^{prefix}^{suffix}".rstrip("^") == responsible
    assert dicom.patient_name({"animal_name": "Rex", "owner_name": written}) == f"{family}^Rex"
