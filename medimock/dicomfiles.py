"""Reading DICOM downloads for the contract suites (and the mock's own tests): what a DICOM API
served, as Part 10 datasets, and which JPEG process a compressed frame really uses.

pydicom decodes a frame with whichever installed plugin handles the transfer syntax the file
declares, and a decoder such as libjpeg reads any JPEG family codestream, so a JPEG Lossless
frame labelled JPEG-LS still decodes: ``frame_process`` reads the codestream's start-of-frame
marker, so a suite can check that the pixels are encoded the way the label says.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

JPEG_LOSSLESS_UIDS = frozenset({"1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70"})
JPEG_LS_UIDS = frozenset({"1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"})
# start-of-frame marker -> what it starts
SOF = {
    0xC0: "baseline",
    0xC1: "extended",
    0xC2: "progressive",
    0xC3: "lossless",  # process 14
    0xC5: "hierarchical",
    0xC6: "hierarchical",
    0xC7: "hierarchical lossless",
    0xC9: "arithmetic",
    0xCA: "arithmetic",
    0xCB: "arithmetic lossless",
    0xCD: "arithmetic",
    0xCE: "arithmetic",
    0xCF: "arithmetic",
    0xF7: "jpeg-ls",
}
PREAMBLE = 128


class NotDicom(ValueError):
    """The download holds no DICOM Part 10 file."""


def is_part10(data: bytes) -> bool:
    return len(data) > PREAMBLE + 4 and data[PREAMBLE : PREAMBLE + 4] == b"DICM"


def members(data: bytes) -> list[tuple[str, bytes]]:
    """The Part 10 files of a download: the file itself, or every Part 10 member of a ZIP."""
    if is_part10(data):
        return [("(download)", data)]
    if data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            found = [(name, archive.read(name)) for name in archive.namelist() if not name.endswith("/")]
        files = [(name, content) for name, content in found if is_part10(content)]
        if files:
            return files
        raise NotDicom(f"a ZIP of {len(found)} file(s), none of them a DICOM Part 10 file (no 'DICM' after a 128-byte preamble)")
    raise NotDicom(f"neither a DICOM Part 10 file nor a ZIP: starts {data[:16]!r}")


def read(content: bytes) -> Any:
    """A Part 10 file as a pydicom dataset (pydicom refuses a file without its preamble and file meta)."""
    import pydicom

    return pydicom.dcmread(io.BytesIO(content))


def frames(dataset: Any) -> list[bytes]:
    """The encapsulated frames of a dataset's pixel data."""
    from pydicom.encaps import generate_frames

    count = int(dataset.get("NumberOfFrames", 1) or 1)
    return list(generate_frames(dataset.PixelData, number_of_frames=count))


def frame_process(frame: bytes) -> str:
    """What the JPEG codestream's start-of-frame marker says (``lossless``, ``jpeg-ls``, ...), or ``not jpeg``."""
    if frame[:2] != b"\xff\xd8":
        return "not jpeg"
    at = 2
    while at + 4 <= len(frame):
        if frame[at] != 0xFF:
            return "not jpeg"
        marker = frame[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in SOF:
            return SOF[marker]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            at += 2
            continue
        at += 2 + int.from_bytes(frame[at + 2 : at + 4], "big")
    return "not jpeg"


def expected_process(transfer_syntax_uid: str) -> str | None:
    """The start-of-frame a transfer syntax's frames must carry (None: not one of the JPEG lossless syntaxes)."""
    if transfer_syntax_uid in JPEG_LOSSLESS_UIDS:
        return "lossless"
    if transfer_syntax_uid in JPEG_LS_UIDS:
        return "jpeg-ls"
    return None


def pixels(dataset: Any) -> Any:
    """The decoded pixels of a dataset (frames first for a multi-frame file), as a numpy array.

    pydicom decodes with whichever pixel-data plugin is installed (the project's tests install
    pylibjpeg-libjpeg, another implementation than the mock's encoders); where none handles the
    syntax, the frames are decoded with imagecodecs (BSD; liblj92 for JPEG Lossless, CharLS for
    JPEG-LS), which medimock installs anyway, so an installed ``medimock contract`` decodes too.
    """
    try:
        return dataset.pixel_array
    except (RuntimeError, NotImplementedError) as exc:  # pydicom: no plugin available for this transfer syntax
        uid = str(getattr(getattr(dataset, "file_meta", None), "TransferSyntaxUID", ""))
        if expected_process(uid) is None:
            raise
        import imagecodecs
        import numpy

        decoded = []
        for frame in frames(dataset):
            process = frame_process(frame)
            if process == "jpeg-ls":
                decoded.append(imagecodecs.jpegls_decode(frame))
            elif process == "lossless":
                decoded.append(imagecodecs.ljpeg_decode(frame))
            else:
                raise ValueError(f"a {process} frame in a {uid} file: {exc}") from exc
        return decoded[0] if len(decoded) == 1 else numpy.stack(decoded)
