"""Renderings of segment statistics: JSON items and CSV rows (the route's two formats)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

import numpy as np

from .image_values import ImageFigures
from .measures import FloatArray, SegmentStatistics

#: Significant digits of every rendered float: beyond any measurement's accuracy, and
#: scale-free (micro-CT in micrometres and whole-body CT in litres alike).
SIGNIFICANT_DIGITS = 7
_IMAGE_KEYS = ("Mean", "Std", "Min", "P5", "Median", "P95", "Max")
_AXES = ("x", "y", "z")
_EXTENT_KEYS = ("along_rows", "along_columns", "along_slices")


def _round(value: float) -> float:
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}")


def _rounded(values: FloatArray | None) -> Any:
    return None if values is None else [_round(float(v)) for v in np.ravel(values)]


def to_json(statistics: SegmentStatistics) -> dict[str, Any]:
    """JSON-ready figures of one segment (floats to :data:`SIGNIFICANT_DIGITS` digits)."""
    s = statistics
    bounds = _rounded(s.bounds_lps)
    image = s.image
    return {
        "Number": s.number,
        "Label": s.label,
        "Layer": s.layer,
        "Voxels": s.voxels,
        "VolumeMl": _round(s.volume_ml),
        "MeshVolumeMl": _round(s.mesh_volume_ml),
        "SurfaceAreaMm2": _round(s.surface_area_mm2),
        "CentroidLps": _rounded(s.centroid_lps),
        "BoundsLps": None if bounds is None else [bounds[:3], bounds[3:]],
        "ExtentMm": _rounded(s.extent_mm),
        "Image": None
        if image is None
        else dict(zip(_IMAGE_KEYS, (_round(v) for v in _image_values(image)), strict=True)),
    }


def _image_values(image: ImageFigures) -> tuple[float, ...]:
    return (image.mean, image.std, image.min, image.p5, image.median, image.p95, image.max)


def statistics_json(statistics: Iterable[SegmentStatistics]) -> dict[str, Any]:
    """``{"Segments": [...]}`` of :func:`to_json` items."""
    return {"Segments": [to_json(s) for s in statistics]}


CSV_COLUMNS = (
    "Number", "Label", "Layer", "Voxels", "VolumeMl", "MeshVolumeMl", "SurfaceAreaMm2",
    *(f"CentroidLps_{a}" for a in _AXES),
    *(f"BoundsLps_{end}_{a}" for end in ("min", "max") for a in _AXES),
    *(f"ExtentMm_{e}" for e in _EXTENT_KEYS),
    *(f"Image_{key}" for key in _IMAGE_KEYS),
)  # fmt: skip


def statistics_csv(statistics: Iterable[SegmentStatistics]) -> str:
    """CSV text, one row per segment with the :data:`CSV_COLUMNS` header; fields that do not
    apply (no voxel, no image) are empty."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for s in statistics:
        item = to_json(s)
        bounds = item["BoundsLps"] or [[None] * 3, [None] * 3]
        image = item["Image"] or {}
        row = [item[key] for key in CSV_COLUMNS[:7]]
        row += item["CentroidLps"] or [None] * 3
        row += [*bounds[0], *bounds[1], *item["ExtentMm"]]
        row += [image.get(key) for key in _IMAGE_KEYS]
        writer.writerow(["" if value is None else value for value in row])
    return out.getvalue()
