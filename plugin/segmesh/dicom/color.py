"""Segment colours: DICOM CIELab <-> RGB, and a default palette."""

from __future__ import annotations

from collections.abc import Sequence

from highdicom.color import CIELabColor

RGB = tuple[int, int, int]

# Distinct colours for segments that recommend none (3D Slicer's first generic colours).
DEFAULT_PALETTE: tuple[RGB, ...] = (
    (128, 174, 128),
    (241, 214, 145),
    (177, 122, 101),
    (111, 184, 210),
    (216, 101, 79),
    (221, 130, 101),
    (144, 238, 144),
    (192, 104, 88),
    (220, 245, 20),
    (78, 63, 0),
    (255, 250, 220),
    (230, 220, 70),
)


def default_color(number: int) -> RGB:
    """A palette colour for segment ``number`` (1-based)."""
    return DEFAULT_PALETTE[(number - 1) % len(DEFAULT_PALETTE)]


def cielab_to_rgb(value: Sequence[int]) -> RGB:
    """RecommendedDisplayCIELabValue (three 16-bit integers) to RGB 0-255, clipped to gamut."""
    red, green, blue = CIELabColor.from_dicom_value([int(v) for v in value]).to_rgb(clip=True)
    return round(red), round(green), round(blue)


def rgb_to_cielab(color: RGB) -> list[int]:
    """RGB 0-255 to a RecommendedDisplayCIELabValue (three 16-bit integers)."""
    return list(CIELabColor.from_rgb(*color).value)
