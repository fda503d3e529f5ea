"""Ultrasound pictures for the Clarius Research API: a tissue model per capture, its pre-scan
image (the raw data's ``raw_image``), its scan-converted B image at any resolution (the DICOM
pixels), and the overlays the DICOM API burns into that image.

The tissue model is drawn on a fixed grid from a generator seeded by the capture's uuid, so a
capture looks the same at every resolution, in every worker and on every request; a cine
capture's frames move its speckle and make its vessels pulse. Overlays are white text and
calipers burned into the pixels, each kind in its own quadrant of the image (``QUADRANTS``),
drawn with Pillow's own scalable font.

This module imports no Flask; the research handlers import it (and so numpy and Pillow) on first use.
"""

from __future__ import annotations

import io
import math
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

GRID = 256  # the tissue model's samples along each axis
# overlay kind -> (left, top, right, bottom) as fractions of the image: where it is burned in
QUADRANTS = {
    "demographics": (0.0, 0.0, 0.5, 0.5),
    "scan_parameters": (0.5, 0.0, 1.0, 0.5),
    "measurements": (0.0, 0.5, 0.5, 1.0),
    "annotations": (0.5, 0.5, 1.0, 1.0),
}
WHITE = 255


@dataclass
class Overlays:
    """What to burn into an image: text lines per kind, and the caliper measurement."""

    demographics: list[str] = field(default_factory=list)
    scan_parameters: list[str] = field(default_factory=list)
    annotations: list[str] = field(default_factory=list)
    measurement: str = ""  # e.g. "D1 2.34 cm"; calipers are drawn with it

    def kinds(self) -> list[str]:
        return [kind for kind in QUADRANTS if (self.measurement if kind == "measurements" else getattr(self, kind))]


def _seed(capture_uuid: str) -> int:
    return uuid.UUID(capture_uuid).int % (2**63)


@lru_cache(maxsize=16)
def _tissue_parts(capture_uuid: str) -> tuple[np.ndarray, list[tuple[float, float, float, float]]]:
    """Speckle (one extra row band for cine motion) and the anechoic ellipses (cu, cv, ru, rv) of a capture."""
    rng = np.random.default_rng(_seed(capture_uuid))
    speckle = rng.rayleigh(0.5, size=(GRID + 16, GRID)).astype(np.float32)
    # smooth along both axes a little: real speckle is correlated over a few samples
    speckle = ((speckle + np.roll(speckle, 1, 0) + np.roll(speckle, 1, 1) + np.roll(speckle, (1, 1), (0, 1))) / 4).astype(np.float32)
    ellipses = [
        (float(rng.uniform(0.25, 0.75)), float(rng.uniform(0.3, 0.8)), float(rng.uniform(0.05, 0.14)), float(rng.uniform(0.04, 0.1)))
        for _ in range(int(rng.integers(1, 4)))
    ]
    return speckle, ellipses


def tissue(capture_uuid: str, frame: int = 0, frames: int = 1) -> np.ndarray:
    """Echo strength in [0, 1] on the model grid (rows: depth v, columns: lateral u)."""
    speckle, ellipses = _tissue_parts(capture_uuid)
    shift = frame * 2 % 16
    field_ = speckle[shift : shift + GRID] * 0.55
    v, u = np.mgrid[0:GRID, 0:GRID].astype(np.float32) / (GRID - 1)
    field_ += 0.9 * np.exp(-(((v - 0.12 - 0.02 * np.sin(u * 6.0)) / 0.012) ** 2))  # a bright fascia line
    pulse = 1.0 + 0.08 * math.sin(2 * math.pi * frame / max(frames, 1))
    for cu, cv, ru, rv in ellipses:
        inside = ((u - cu) / (ru * pulse)) ** 2 + ((v - cv) / (rv * pulse)) ** 2 <= 1.0
        below = (np.abs(u - cu) < ru * 0.8) & (v > cv) & (v < cv + 3 * rv)
        field_ = np.where(below, field_ * 1.35, field_)  # posterior enhancement
        field_ = np.where(inside, field_ * 0.08, field_)
    field_ *= 1.0 - 0.45 * v  # attenuation with depth
    return np.clip(field_, 0.0, 1.0)


def _index(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Flat indices into the model grid for coordinates in [0, 1]; -1 where a pixel lies outside the scan."""
    valid = (u >= 0) & (u <= 1) & (v >= 0) & (v <= 1)
    iu = np.clip((u * (GRID - 1)).astype(np.int32), 0, GRID - 1)
    iv = np.clip((v * (GRID - 1)).astype(np.int32), 0, GRID - 1)
    return np.where(valid, iv * GRID + iu, -1).astype(np.int32)


def _render(model: np.ndarray, index: np.ndarray) -> np.ndarray:
    flat = np.append(model.ravel(), np.float32(0.0))  # index -1 reads the appended black
    return np.asarray(flat[index] * 255.0 + 0.5, dtype=np.uint8)


@lru_cache(maxsize=8)
def _pre_scan_index(lines: int, samples: int) -> np.ndarray:
    v, u = np.mgrid[0:samples, 0:lines].astype(np.float32)
    return _index(u / max(lines - 1, 1), v / max(samples - 1, 1))


@lru_cache(maxsize=2)
def _scan_index(geometry: str, rows: int, columns: int) -> np.ndarray:
    """Where each pixel of a ``rows`` x ``columns`` B image reads the model: a sector for curvilinear
    and phased probes, a rectangle for linear ones (computed once per geometry and size)."""
    y, x = np.mgrid[0:rows, 0:columns].astype(np.float32)
    top, bottom = rows * 0.04, rows * 0.98
    if geometry == "linear":
        left, right = columns * 0.2, columns * 0.8
        return _index((x - left) / max(right - left, 1), (y - top) / max(bottom - top, 1))
    half = math.radians(30 if geometry == "curvilinear" else 45)
    near = (bottom - top) * (0.3 if geometry == "curvilinear" else 0.02)  # the probe face's radius
    apex_y = top - near
    far = bottom - apex_y
    radius = np.hypot(x - columns / 2, y - apex_y)
    angle = np.arctan2(x - columns / 2, y - apex_y)
    return _index((angle + half) / (2 * half), (radius - near) / max(far - near, 1))


def pre_scan(capture_uuid: str, lines: int, samples: int, frame: int = 0, frames: int = 1) -> np.ndarray:
    """The pre-scan image: one column per line, one row per sample (depth), 8 bits."""
    return _render(tissue(capture_uuid, frame, frames), _pre_scan_index(lines, samples))


def b_image(capture_uuid: str, geometry: str, rows: int, columns: int, frame: int = 0, frames: int = 1) -> np.ndarray:
    """The scan-converted B image, ``rows`` x ``columns``, 8 bits, black around the scanned area."""
    return _render(tissue(capture_uuid, frame, frames), _scan_index(geometry, rows, columns))


@lru_cache(maxsize=16)
def _font(size: int) -> Any:
    return ImageFont.load_default(size=size)


def burn(image: np.ndarray, overlays: Overlays) -> np.ndarray:
    """The image with the overlays burned in (white), each kind clipped to its quadrant."""
    rows, columns = image.shape
    if not overlays.kinds():
        return image
    out = image.copy()
    size = max(8, rows // 40)
    font = _font(size)
    step = size + max(2, size // 4)
    margin = max(2, size // 2)
    for kind in overlays.kinds():
        left, top, right, bottom = QUADRANTS[kind]
        x0, y0, x1, y1 = int(left * columns), int(top * rows), int(right * columns), int(bottom * rows)
        if x1 <= x0 or y1 <= y0:
            continue
        layer = Image.new("L", (x1 - x0, y1 - y0), 0)
        draw = ImageDraw.Draw(layer)
        width, height = layer.size
        if kind == "demographics":
            for i, line in enumerate(overlays.demographics):
                draw.text((margin, margin + i * step), line, fill=WHITE, font=font)
        elif kind == "scan_parameters":
            for i, line in enumerate(overlays.scan_parameters):
                draw.text((width - margin, margin + i * step), line, fill=WHITE, font=font, anchor="ra")
        elif kind == "annotations":
            for i, line in enumerate(overlays.annotations):
                draw.text((width // 3, height // 4 + i * step), line, fill=WHITE, font=font)
        else:  # measurements: two calipers, a dotted line between them, the result at the bottom
            a, b = (width * 0.55, height * 0.15), (width * 0.8, height * 0.55)
            arm = max(3, size // 2)
            for cx, cy in (a, b):
                draw.line([(cx - arm, cy), (cx + arm, cy)], fill=WHITE)
                draw.line([(cx, cy - arm), (cx, cy + arm)], fill=WHITE)
            for t in np.linspace(0.1, 0.9, 9):
                px, py = a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t
                draw.point([(px, py)], fill=WHITE)
            draw.text((margin, height - margin), overlays.measurement, fill=WHITE, font=font, anchor="ld")
        region = out[y0:y1, x0:x1]
        np.maximum(region, np.asarray(layer, dtype=np.uint8), out=region)
    return out


def jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
