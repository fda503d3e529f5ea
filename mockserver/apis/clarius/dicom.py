"""The Clarius DICOM API's downloads: the options of ``POST /api/public/v0/exams/dicom/{id}`` and
the ZIP of DICOM Part 10 files a ``download_url`` serves.

Choices (medimock's; the document is silent, see specs/clarius/README.md):

- **Container**: always a ZIP (stored, not deflated) with one Part 10 file per capture, named
  ``<capture uuid>.dcm`` in the exam's order: a still image is US Image Storage, a cine (video)
  capture US Multi-frame Image Storage with ``CINE_FRAMES`` frames.
- **Pixels**: 8-bit MONOCHROME2 B images, ``Columns`` x ``Rows`` = the requested ``<w>x<h>``.
- **Transfer syntaxes**: the document's two, both encoded with imagecodecs and encapsulated
  by pydicom: ``jpeg lossless nonheirarchical process 14`` -> JPEG Lossless, Non-Hierarchical
  (Process 14) ``1.2.840.10008.1.2.4.57`` (first-order prediction, selection value 1), and
  ``jpeg ls lossless`` -> JPEG-LS Lossless ``1.2.840.10008.1.2.4.80``.
- **Overlays** are burned into the pixels (``imaging.burn``), each kind in its own quadrant;
  ``BurnedInAnnotation`` is YES when demographics are burned in, ``ImageComments`` lists
  what was burned in. ``b_image_only`` burns nothing, whatever the other flags say.
- **Attributes** agree with the Service API's download data of the same exam (patient
  identifier, names, birth date, sex; the Study Instance UID is ``2.25.<exam uuid as an
  integer>``) and with the raw data's ``blob`` (probe model and serial, acoustic indices);
  dates and times are local to ``tz``.

This module imports no Flask.
"""

from __future__ import annotations

import base64
import io
import json
import uuid
import zipfile
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from medimock.fixtures import clarius_research as research_fixtures

from .research_store import ResearchExam

SYNTAX_UIDS = {
    "jpeg lossless nonheirarchical process 14": "1.2.840.10008.1.2.4.57",
    "jpeg ls lossless": "1.2.840.10008.1.2.4.80",
}
DEFAULT_SYNTAX = "jpeg lossless nonheirarchical process 14"
DEMOGRAPHICS = (
    "PATIENT_NAME",
    "PATIENT_ID",
    "PATIENT_GENDER",
    "PATIENT_DATE_OF_BIRTH",
    "INSTITUTION_NAME",
    "INSTITUTION_ADDRESS",
    "OPERATOR_ID",
    "EXAM_DATE",
    "PROBE_MODEL",
    "APPLICATION",
    "ACOUSTIC_INDICES",
)
DEFAULT_RESOLUTION = (1024, 768)
MIN_SIDE, MAX_SIDE = 16, 2048  # medimock's bounds on each side of `resolution` (the document gives none)
US_IMAGE = "1.2.840.10008.5.1.4.1.1.6.1"
US_MULTIFRAME_IMAGE = "1.2.840.10008.5.1.4.1.1.3.1"
MANUFACTURER = "Clarius Mobile Health"
_SEX = {"male": "M", "female": "F", "other": "O"}


class InvalidOptions(ValueError):
    """Parameters the DICOM API refuses: ``fields`` maps each to its messages (a DRF 400 body)."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items()))
        self.fields = fields


@dataclass(frozen=True)
class DicomOptions:
    """The DICOM API's parameters, defaults applied (the document's defaults)."""

    syntax: str = DEFAULT_SYNTAX
    b_image_only: bool = False
    width: int = DEFAULT_RESOLUTION[0]
    height: int = DEFAULT_RESOLUTION[1]
    include_annotations: bool = False
    include_demographics: bool = False
    include_measurements: bool = False
    include_scan_parameters: bool = False
    demographics: tuple[str, ...] = DEMOGRAPHICS
    tz: str = "UTC"

    @classmethod
    def parse(cls, body: dict[str, Any] | None) -> DicomOptions:
        """The options of a request body the spec already validated (types, choices, the resolution's
        form); checks what the schema cannot: each side's bounds and that ``tz`` is a time zone."""
        body = body or {}
        errors: dict[str, list[str]] = {}
        width, height = DEFAULT_RESOLUTION
        if "resolution" in body:
            first, _, second = str(body["resolution"]).partition("x")
            try:
                width, height = int(first), int(second)
            except ValueError:
                errors["resolution"] = ["Enter the resolution as <number>x<number>, e.g. 1024x768."]
            else:
                if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
                    errors["resolution"] = [f"Each side of the resolution must be from {MIN_SIDE} to {MAX_SIDE} pixels."]
        tz = str(body.get("tz", "UTC"))
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            errors["tz"] = ["A valid timezone is required."]
        if errors:
            raise InvalidOptions(errors)
        demographics = body.get("demographics")
        return cls(
            syntax=str(body.get("syntax", DEFAULT_SYNTAX)),
            b_image_only=bool(body.get("b_image_only", False)),
            width=width,
            height=height,
            include_annotations=bool(body.get("include_annotations", False)),
            include_demographics=bool(body.get("include_demographics", False)),
            include_measurements=bool(body.get("include_measurements", False)),
            include_scan_parameters=bool(body.get("include_scan_parameters", False)),
            # in the document's order (the order they are displayed in), each once
            demographics=DEMOGRAPHICS if demographics is None else tuple(d for d in DEMOGRAPHICS if d in set(map(str, demographics))),
            tz=tz,
        )

    def token(self) -> str:
        """A compact, canonical form for a link: the values that differ from the defaults, the
        demographics as a bit mask of ``DEMOGRAPHICS`` (``from_token`` reads it back)."""
        defaults = DicomOptions()
        data: dict[str, Any] = {k: v for k, v in asdict(self).items() if k != "demographics" and v != getattr(defaults, k)}
        if self.demographics != DEMOGRAPHICS:
            data["d"] = sum(1 << DEMOGRAPHICS.index(name) for name in self.demographics)
        return base64.urlsafe_b64encode(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).decode().rstrip("=")

    @classmethod
    def from_token(cls, token: str) -> DicomOptions:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(data, dict):
            raise ValueError("not an options token")
        mask = data.pop("d", None)
        options = cls(**data)
        if mask is not None:
            options = replace(options, demographics=tuple(name for i, name in enumerate(DEMOGRAPHICS) if int(mask) >> i & 1))
        if options.syntax not in SYNTAX_UIDS:
            raise ValueError("unknown syntax")
        return options

    @property
    def transfer_syntax_uid(self) -> str:
        return SYNTAX_UIDS[self.syntax]

    def burned(self) -> list[str]:
        """The overlay kinds these options burn into the image."""
        if self.b_image_only:
            return []
        flags = {
            "demographics": self.include_demographics and bool(self.demographics),
            "scan_parameters": self.include_scan_parameters,
            "measurements": self.include_measurements,
            "annotations": self.include_annotations,
        }
        return [kind for kind, on in flags.items() if on]


def capture_infos(exam: ResearchExam) -> list[research_fixtures.CaptureInfo]:
    created = parse_time(exam.created)
    return [
        research_fixtures.capture_info(exam.exam_uuid, capture_uuid, kind, created, position, exam.application)
        for position, (capture_uuid, kind) in enumerate(exam.captures)
    ]


def parse_time(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def study_uid(exam_uuid: str) -> str:
    """The exam's Study Instance UID: its uuid as a ``2.25`` UID (ISO/IEC 9834-8), the same in every export."""
    return f"2.25.{uuid.UUID(exam_uuid).int}"


_NAME_PREFIXES = frozenset({"Mr.", "Mrs.", "Ms.", "Miss", "Mx.", "Dr.", "Prof."})
_NAME_SUFFIXES = frozenset({"Jr.", "Sr.", "I", "II", "III", "IV", "V", "MD", "DDS", "DVM", "PhD"})


def owner_name(written: str) -> tuple[str, str, str, str]:
    """An owner's name as written ("Dr. Scott Lopez", "Carol Jones MD") in DICOM PN's components: (family, given,
    prefix, suffix). The family name is the last word once a title before the name and a suffix after it are set
    apart (PS3.5 6.2.1: family^given^middle^prefix^suffix)."""
    words = written.split()
    prefix = [words.pop(0)] if len(words) > 1 and words[0] in _NAME_PREFIXES else []
    suffix: list[str] = []
    while len(words) > 1 and words[-1] in _NAME_SUFFIXES:
        suffix.insert(0, words.pop())
    return (words[-1] if words else "", " ".join(words[:-1]), " ".join(prefix), " ".join(suffix))


def patient_name(patient: dict[str, Any]) -> str:
    """DICOM PN: ``Last^First^Middle``; an animal is ``Owner's family name^Animal's name`` (the veterinary convention)."""
    if "animal_name" in patient:
        return f"{owner_name(str(patient.get('owner_name') or ''))[0]}^{patient['animal_name']}"
    parts = [patient.get("last_name") or "", patient.get("first_name") or "", patient.get("middle_name") or ""]
    return "^".join(parts).rstrip("^")


def display_name(patient: dict[str, Any]) -> str:
    if "animal_name" in patient:
        return f"{patient['animal_name']} ({patient.get('animal_type', '')}, owner {patient.get('owner_name', '')})"
    given = " ".join(p for p in (patient.get("first_name"), patient.get("middle_name")) if p)
    return f"{(patient.get('last_name') or '').upper()}, {given}".strip(", ")


def overlays(exam: ResearchExam, info: research_fixtures.CaptureInfo, options: DicomOptions) -> Any:
    from .imaging import Overlays

    burned = options.burned()
    found = Overlays()
    if "demographics" in burned:
        zone = ZoneInfo(options.tz)
        operator_id, _ = research_fixtures.operator(exam.exam_uuid)
        patient = exam.patient
        exam_time = parse_time(exam.created).astimezone(zone)
        text = {
            "PATIENT_NAME": f"Name: {display_name(patient)}",
            "PATIENT_ID": f"ID: {patient.get('identifier', '')}",
            "PATIENT_GENDER": f"Sex: {patient.get('gender') or 'unknown'}",
            "PATIENT_DATE_OF_BIRTH": f"DOB: {patient.get('date_of_birth', '')}",
            "INSTITUTION_NAME": exam.institution_name,
            "INSTITUTION_ADDRESS": research_fixtures.institution_address(exam.customer_id),
            "OPERATOR_ID": f"Operator: {operator_id}",
            "EXAM_DATE": f"Exam: {exam_time:%Y-%m-%d %H:%M %Z}",
            "PROBE_MODEL": f"Probe: {info.probe.model}",
            "APPLICATION": exam.application,
            "ACOUSTIC_INDICES": f"MI {info.mi:.2f}  TIb {info.tib:.2f}  TIs {info.tis:.2f}",
        }
        found.demographics = [text[name] for name in options.demographics]
    if "scan_parameters" in burned:
        found.scan_parameters = [
            f"Depth {info.depth_cm:.1f} cm",
            f"Gain {info.gain_percent}%",
            f"Freq {info.probe.frequency_mhz:g} MHz",
            f"DR {info.dynamic_range_db} dB",
        ]
    if "annotations" in burned:
        found.annotations = list(info.labels)
    if "measurements" in burned:
        found.measurement = f"{info.measurement[0]} {info.measurement[1]:.2f} cm"
    return found


def frames(exam: ResearchExam, info: research_fixtures.CaptureInfo, options: DicomOptions) -> list[Any]:
    """The capture's frames as 8-bit arrays, ``height`` x ``width``, overlays burned in."""
    from . import imaging

    drawn = overlays(exam, info, options)
    return [
        imaging.burn(imaging.b_image(info.capture_uuid, info.probe.geometry, options.height, options.width, frame, info.frames), drawn)
        for frame in range(info.frames)
    ]


def encode_frame(pixels: Any, syntax_uid: str) -> bytes:
    import imagecodecs

    if syntax_uid == SYNTAX_UIDS["jpeg ls lossless"]:
        return bytes(imagecodecs.jpegls_encode(pixels, level=0))
    return bytes(imagecodecs.jpeg8_encode(pixels, lossless=True, predictor=1))


def capture_dataset(exam: ResearchExam, info: research_fixtures.CaptureInfo, number: int, options: DicomOptions, syntax_uid: str) -> Any:
    """One capture as a DICOM dataset with its file meta, its pixels encoded in ``syntax_uid``."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.encaps import encapsulate
    from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID, generate_uid

    zone = ZoneInfo(options.tz)
    acquired = info.acquired.astimezone(zone)
    exam_time = parse_time(exam.created).astimezone(zone)
    cine = info.frames > 1
    sop_class = US_MULTIFRAME_IMAGE if cine else US_IMAGE
    sop_instance = generate_uid(prefix=None, entropy_srcs=[info.capture_uuid, options.token()])
    patient = exam.patient
    operator_id, operator_name = research_fixtures.operator(exam.exam_uuid)

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(sop_class)
    meta.MediaStorageSOPInstanceUID = UID(sop_instance)
    meta.TransferSyntaxUID = UID(syntax_uid)
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = "MEDIMOCK"

    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_instance
    ds.StudyDate = exam_time.strftime("%Y%m%d")
    ds.ContentDate = acquired.strftime("%Y%m%d")
    ds.StudyTime = exam_time.strftime("%H%M%S")
    ds.ContentTime = acquired.strftime("%H%M%S.%f")
    ds.AcquisitionDateTime = acquired.strftime("%Y%m%d%H%M%S.%f%z")
    ds.TimezoneOffsetFromUTC = exam_time.strftime("%z")
    ds.AccessionNumber = ""
    ds.Modality = "US"
    ds.Manufacturer = MANUFACTURER
    ds.InstitutionName = exam.institution_name[:64]
    ds.InstitutionAddress = research_fixtures.institution_address(exam.customer_id)
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = exam.application[:64]
    ds.SeriesDescription = "Clarius research export"
    ds.OperatorsName = "^".join(reversed(operator_name.split(maxsplit=1)))
    ds.OperatorIdentificationSequence = [Dataset()]
    ds.OperatorIdentificationSequence[0].PersonIdentificationCodeSequence = [Dataset()]
    code = ds.OperatorIdentificationSequence[0].PersonIdentificationCodeSequence[0]
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = operator_id, "L", "Operator ID"
    ds.OperatorIdentificationSequence[0].InstitutionName = exam.institution_name[:64]
    ds.ManufacturerModelName = info.probe.model
    ds.PatientName = patient_name(patient)
    ds.PatientID = str(patient.get("identifier", ""))
    ds.PatientBirthDate = str(patient.get("date_of_birth", "")).replace("-", "")
    ds.PatientSex = _SEX.get(str(patient.get("gender")), "")
    if "animal_name" in patient:
        ds.PatientSpeciesDescription = str(patient.get("animal_type", ""))
        ds.PatientBreedDescription = ""
        family, given, prefix, suffix = owner_name(str(patient.get("owner_name", "")))
        ds.ResponsiblePerson = f"{family}^{given}^^{prefix}^{suffix}".rstrip("^")
        ds.ResponsiblePersonRole = "OWNER"
    ds.DeviceSerialNumber = info.probe.serial
    ds.SoftwareVersions = "medimock"
    ds.DepthOfScanField = round(info.depth_cm * 10)
    ds.MechanicalIndex = f"{info.mi:.3f}"
    ds.BoneThermalIndex = f"{info.tib:.3f}"
    ds.SoftTissueThermalIndex = f"{info.tis:.3f}"
    ds.StudyInstanceUID = study_uid(exam.exam_uuid)
    ds.SeriesInstanceUID = generate_uid(prefix=None, entropy_srcs=[exam.exam_uuid, options.token()])
    ds.StudyID = str(exam.id)[:16]
    ds.SeriesNumber = 1
    ds.Laterality = ""  # type 2C: empty, the application says no paired organ
    ds.InstanceNumber = number
    ds.PatientOrientation = ""
    burned = options.burned()
    ds.BurnedInAnnotation = "YES" if "demographics" in burned else "NO"
    ds.ImageComments = "Burned-in overlays: " + (", ".join(burned) if burned else "none")
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = options.height
    ds.Columns = options.width
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.LossyImageCompression = "00"
    if cine:
        ds.NumberOfFrames = info.frames
        ds.FrameTime = f"{research_fixtures.CINE_FRAME_MS:g}"
        ds.FrameIncrementPointer = 0x00181063  # Frame Time
        ds.CineRate = int(1000 / research_fixtures.CINE_FRAME_MS)
    pixels = frames(exam, info, options)
    ds.PixelData = encapsulate([encode_frame(frame, syntax_uid) for frame in pixels], has_bot=cine)
    ds["PixelData"].VR = "OB"
    return ds


@lru_cache(maxsize=4)
def export(exam: ResearchExam, options: DicomOptions, syntax_uid: str) -> bytes:
    """The ZIP of one Part 10 file per capture, its pixels in ``syntax_uid`` (the options' syntax, but for a deliberate defect)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for number, info in enumerate(capture_infos(exam), start=1):
            dataset = capture_dataset(exam, info, number, options, syntax_uid)
            part10 = io.BytesIO()
            dataset.save_as(part10, enforce_file_format=True)
            archive.writestr(f"{info.capture_uuid}.dcm", part10.getvalue())
    return buffer.getvalue()
