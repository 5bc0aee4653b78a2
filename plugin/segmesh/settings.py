"""The ``SegMesh`` section of the Orthanc configuration, read once into a frozen object."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from .errors import BadRequestError

logger = logging.getLogger(__name__)

_OPTION_NAMES = {
    "MaxVoxels": "max_voxels",
    "CacheMegabytes": "cache_megabytes",
    "MaxSegments": "max_segments",
    "MaxContourPoints": "max_contour_points",
    "MaxNiftiMegabytes": "max_nifti_megabytes",
    "MaxTriangles": "max_triangles",
}


@dataclass(frozen=True)
class Settings:
    """segmesh's settings.

    Attributes
    ----------
    max_voxels:
        Largest label map (layers x slices x rows x columns) a request may build; above it the
        request is answered with 413.
    cache_megabytes:
        Memory for decoded label maps kept between requests (overlays while scrolling).
    max_segments:
        Most segments (SEG) or ROIs (RT-STRUCT) a source may hold to be converted.
    max_contour_points:
        Most contour points, all ROIs together, of an RT-STRUCT to be converted.
    max_nifti_megabytes:
        Largest NIfTI file (as posted, after base64) a ``nifti-stl`` request may carry.
    max_triangles:
        Most triangles of one stored model.
    """

    max_voxels: int = 2_000_000_000
    cache_megabytes: int = 1024
    max_segments: int = 4096
    max_contour_points: int = 10_000_000
    max_nifti_megabytes: int = 1024
    max_triangles: int = 20_000_000

    @classmethod
    def from_configuration(cls, configuration: Mapping[str, Any]) -> Settings:
        """Read the ``SegMesh`` section of a parsed Orthanc configuration (missing: defaults)."""
        section = configuration.get("SegMesh", {})
        if not isinstance(section, Mapping):
            raise BadRequestError("Invalid configuration", "'SegMesh' must be a JSON object")
        values: dict[str, Any] = {}
        defaults: dict[str, Any] = {f.name: f.default for f in fields(cls)}
        for key, value in section.items():
            name = _OPTION_NAMES.get(key)
            if name is None:
                logger.warning("segmesh: unknown configuration option SegMesh.%s is ignored", key)
                continue
            if type(value) is not type(defaults[name]) or value <= 0:
                raise BadRequestError(
                    "Invalid configuration", f"SegMesh.{key} must be a positive integer"
                )
            values[name] = value
        return cls(**values)
