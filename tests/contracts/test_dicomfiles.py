"""medimock.dicomfiles: what the Clarius research suite uses to open a DICOM API's downloads."""

from __future__ import annotations

import io
import zipfile

import imagecodecs
import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import JPEGLossless, JPEGLSLossless, generate_uid

from medimock import dicomfiles

PIXELS = (np.arange(32 * 24, dtype=np.uint16) % 251).astype(np.uint8).reshape(24, 32)


def part10(syntax: str, frame: bytes) -> bytes:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = syntax
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.6.1"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = generate_uid()
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = 24, 32, 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = encapsulate([frame])
    ds["PixelData"].VR = "OB"
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def test_frame_process_reads_the_start_of_frame():
    assert dicomfiles.frame_process(imagecodecs.jpeg8_encode(PIXELS, lossless=True, predictor=1)) == "lossless"
    assert dicomfiles.frame_process(imagecodecs.jpegls_encode(PIXELS, level=0)) == "jpeg-ls"
    assert dicomfiles.frame_process(imagecodecs.jpeg8_encode(PIXELS, level=90)) == "baseline"
    assert dicomfiles.frame_process(b"\x89PNG\r\n") == "not jpeg"
    assert dicomfiles.expected_process(str(JPEGLossless)) == "lossless" and dicomfiles.expected_process("1.2.840.10008.1.2.1") is None


def test_members_of_a_file_or_a_zip():
    lossless = part10(JPEGLossless, imagecodecs.jpeg8_encode(PIXELS, lossless=True, predictor=1))
    jpeg_ls = part10(JPEGLSLossless, imagecodecs.jpegls_encode(PIXELS, level=0))
    assert dicomfiles.members(lossless) == [("(download)", lossless)]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as writer:
        writer.writestr("a.dcm", lossless)
        writer.writestr("README.txt", "not dicom")
        writer.writestr("b.dcm", jpeg_ls)
    assert [name for name, _ in dicomfiles.members(archive.getvalue())] == ["a.dcm", "b.dcm"]
    for _, content in dicomfiles.members(archive.getvalue()):
        ds = dicomfiles.read(content)
        assert np.array_equal(ds.pixel_array, PIXELS), "pydicom decodes both syntaxes with the installed plugin"
        assert dicomfiles.frame_process(dicomfiles.frames(ds)[0]) == dicomfiles.expected_process(ds.file_meta.TransferSyntaxUID)
    with pytest.raises(dicomfiles.NotDicom):
        dicomfiles.members(b"<html>")
    empty = io.BytesIO()
    with zipfile.ZipFile(empty, "w") as writer:
        writer.writestr("x.txt", "x")
    with pytest.raises(dicomfiles.NotDicom, match="none of them"):
        dicomfiles.members(empty.getvalue())


@pytest.mark.parametrize(
    ("syntax", "encode"),
    [
        (JPEGLossless, lambda: imagecodecs.jpeg8_encode(PIXELS, lossless=True, predictor=1)),
        (JPEGLSLossless, lambda: imagecodecs.jpegls_encode(PIXELS, level=0)),
    ],
    ids=["jpeg-lossless", "jpeg-ls"],
)
def test_pixels_decode_without_a_pydicom_plugin(monkeypatch, syntax, encode):
    """An installed medimock has no GPL decoder: where pydicom finds no plugin, imagecodecs decodes the frames."""
    ds = dicomfiles.read(part10(syntax, encode()))

    def no_plugin(self):
        raise RuntimeError("Unable to decompress: no plugin is available")

    monkeypatch.setattr(Dataset, "pixel_array", property(no_plugin))
    with pytest.raises(RuntimeError):
        ds.pixel_array  # the plugin is gone
    assert np.array_equal(dicomfiles.pixels(ds), PIXELS)
