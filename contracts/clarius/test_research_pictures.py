"""Clarius Research API: what a DICOM B image shows, beside test_research.py's sizes, syntaxes and overlay flags.

The raw data lists each capture's "B pre-scan" stream (the blob) and links its raw image; the DICOM API gives the
capture's B image, with overlays unless ``b_image_only``. A B image is that pre-scan data scan-converted for the
probe, so a capture whose raw image holds echoes cannot come back as a blank (all-black) B image, nor as one whose
echoes all fall in a single column or row where the raw image's cover more than one line and sample. Scan conversion
depends on the probe's geometry, which the blob's lines give (their angles: 0 degrees for a linear probe, a sweep for
a curvilinear or phased one): the check looks at the research exam and, where the target lists the research user's
other exams (a medimock target's ``research_users``), at one more exam for each sweep the research exam does not
show. Against any other target it looks at ``CLARIUS_RESEARCH_EXAM_ID`` alone.

The helpers and the ``research`` fixture (a research user's token, revoked at the end on a medimock target) are
test_research.py's.
"""

from __future__ import annotations

import io
import json
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from medimock.verdict import Document, expect

sys.path.insert(0, str(Path(__file__).resolve().parent))  # test_research.py beside this file, however it is imported
import test_research
from test_research import B_IMAGE_ONLY, BLOB, RAW_LINKS, SMALL, Research, decoded, download, export, raw_data

research = test_research.research  # the fixture (module-scoped here too: a token of the research user, revoked after)

# "b_image_only ... disable all overlays on the image": the image is the B image, the scan conversion of the
# capture's "B pre-scan" data the raw data's blob describes
B_IMAGE = Document.of(B_IMAGE_ONLY, BLOB)


def sweep(item: dict[str, Any]) -> tuple[str, ...]:
    """The angles of a capture's lines as its blob gives them ("lines": [{..., "angle": "0 °"}, ...]); () if it gives none."""
    try:
        blob = json.loads(item.get("blob") or "")
        streams = [s for section in blob["sections"] for s in section["streams"]]
        return tuple(str(line.get("angle")) for s in streams for line in s["info"]["lines"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return ()


def pictured_exams(research: Research) -> list[tuple[str, list[dict[str, Any]]]]:
    """The research exam, and (where the target lists the user's exams) one more per sweep not yet seen: [(id, raw data)]."""
    named = str(research.creds["research_exam_id"])
    users = research.creds.get("research_users") or []
    listed = next(
        (u.get("exam_ids") or [] for u in users if isinstance(u, dict) and u.get("username") == research.creds.get("research_username")),
        [],
    )
    chosen: list[tuple[str, list[dict[str, Any]]]] = []
    seen: set[tuple[str, ...]] = set()
    for exam_id in [named, *(str(e) for e in listed if str(e) != named)]:
        items = raw_data(research, exam_id)
        sweeps = {sweep(item) for item in items}
        if exam_id == named or not sweeps <= seen:
            chosen.append((exam_id, items))
            seen |= sweeps
    return chosen


def pre_scan_frames(research: Research, item: dict[str, Any]) -> list[Any]:
    """A capture's raw image as 8-bit frames (a JPEG, or a ZIP of JPEGs); [] where it does not decode as such."""
    content = download(research, item.get("raw_image"), RAW_LINKS, f"capture {item.get('capture_uuid')}'s raw_image")
    try:
        if content[:4] == b"PK\x03\x04":
            with zipfile.ZipFile(io.BytesIO(content)) as archive:
                pictures = [archive.read(name) for name in archive.namelist()]
        else:
            pictures = [content]
        return [np.asarray(Image.open(io.BytesIO(picture))) for picture in pictures]
    except Exception:  # noqa: BLE001 - test_research.py judges the raw image's form; here it only shows whether there are echoes
        return []


def b_image_frames(research: Research, raw_frame_counts: Callable[[Any], bool]) -> Iterator[tuple[str, str, int, int, Any]]:
    """Each b_image_only frame at SMALL of the pictured exams whose every capture's raw frames all pass
    ``raw_frame_counts``: (what, the file's name, the frame's index, the file's frame count, the 2-D frame)."""
    for exam_id, items in pictured_exams(research):
        frames = [pre_scan_frames(research, item) for item in items]
        if not items or not all(f and all(raw_frame_counts(frame) for frame in f) for f in frames):
            continue  # some capture's raw image does not show what the check needs (or does not decode): nothing to expect
        what = f"exam {exam_id} (lines at {sorted({sweep(item) for item in items})}), b_image_only"
        for name, dataset in export(research, {"resolution": SMALL, "b_image_only": True}, what, exam_id=exam_id):
            pixels = decoded(name, dataset, B_IMAGE, what)
            if pixels is None:
                continue
            count = int(dataset.get("NumberOfFrames", 1) or 1)  # a multi-frame file's pixels come frames first
            for index, frame in enumerate(np.asarray(pixels) if count > 1 else [np.asarray(pixels)]):
                yield what, name, index, count, frame


def test_b_image_of_a_capture_with_echoes_is_not_blank(research):
    for what, name, index, count, frame in b_image_frames(research, lambda raw: np.count_nonzero(raw) > 0):
        expect(
            B_IMAGE,
            np.count_nonzero(frame) > 0,
            f"{what}: {name} frame {index + 1} of {count} is blank (every pixel 0), though every capture's B pre-scan "
            "raw image holds echoes: a B image is their scan conversion",
        )


def echo_span(frame: Any) -> tuple[int, int]:
    """How many columns and how many rows of a 2-D frame hold an echo (a non-zero pixel)."""
    pixels = np.asarray(frame)
    if pixels.ndim != 2:
        return 0, 0
    return int(pixels.any(axis=0).sum()), int(pixels.any(axis=1).sum())


def test_b_image_spreads_the_echoes_of_many_lines(research):
    # The blob describes the "B pre-scan" stream as "number of lines" lines of "samples per line" samples each, at
    # distinct transducer elements ("rx element" 0 to 191) or angles: the raw image holds one line per column. A B image
    # converting such lines for display lays them side by side and along depth, so where the raw image's echoes cover
    # more than one line and more than one sample, the B image's cannot all fall in a single column or a single row.
    # (raw frames with echoes on one line or one sample only, or none: nothing to expect of that exam)
    for what, name, index, count, frame in b_image_frames(research, lambda raw: min(echo_span(raw)) > 1):
        columns, rows = echo_span(frame)
        expect(
            B_IMAGE,
            columns > 1 and rows > 1,
            f"{what}: {name} frame {index + 1} of {count} holds its echoes in {columns} column(s) and {rows} row(s) "
            "only, though every capture's B pre-scan raw image holds echoes on more than one of its lines and "
            "samples: a B image lays the scanned lines side by side and along depth",
        )
