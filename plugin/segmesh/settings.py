"""The ``SegMesh`` section of the Orthanc configuration, read once into a frozen object."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from .errors import BadRequestError

logger = logging.getLogger(__name__)

_OPTION_NAMES = {
    "MaxVoxels": "max_voxels",
    "CacheMegabytes": "cache_megabytes",
    "Workers": "workers",
    "AutoGenerateTimeout": "auto_generate_timeout",
    "MaxSegments": "max_segments",
    "MaxContourPoints": "max_contour_points",
    "MaxNiftiMegabytes": "max_nifti_megabytes",
    "MaxTriangles": "max_triangles",
    "DeflateModelsAboveMegabytes": "deflate_models_above_megabytes",
    "DatasetFolder": "dataset_folder",
    "DatasetHours": "dataset_hours",
}
#: Options that may be 0 (every other integer must be positive).
_MAY_BE_ZERO = frozenset({"workers", "deflate_models_above_megabytes"})


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
    workers:
        Worker processes for the heavy work (default: the number of cores); 0 runs it in
        Orthanc's own Python interpreter, for debugging.
    auto_stl:
        ``AutoGenerate.Stl``: the body of ``POST .../segmesh/stl`` used to make the models of
        every SEG or RT-STRUCT stored (None: no automatic models).
    auto_labelmap:
        ``AutoGenerate.LabelMap``: store the label map of every SEG or RT-STRUCT stored (at the
        routes' default options) as an attachment of the source, which every route reuses.
    auto_generate_timeout:
        Seconds an automatic run waits for the referenced images before it fails.
    max_segments:
        Most segments (SEG) or ROIs (RT-STRUCT) a source may hold to be converted.
    max_contour_points:
        Most contour points, all ROIs together, of an RT-STRUCT to be converted.
    max_nifti_megabytes:
        Largest NIfTI file (as posted, after base64) a ``nifti-stl`` request may carry.
    max_triangles:
        Most triangles of one stored model.
    deflate_models_above_megabytes:
        A stored model whose STL is larger is written in the Deflated Explicit VR Little
        Endian transfer syntax (Orthanc then holds less than half as much while storing it).
    dataset_folder:
        Where finished training datasets are kept until downloaded ("": ``segmesh-datasets``
        in the system's temporary folder).
    dataset_hours:
        Hours a finished dataset is kept; older ones are removed.
    """

    max_voxels: int = 2_000_000_000
    cache_megabytes: int = 1024
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    auto_stl: Mapping[str, Any] | None = None
    auto_labelmap: bool = False
    auto_generate_timeout: int = 3600
    max_segments: int = 4096
    max_contour_points: int = 10_000_000
    max_nifti_megabytes: int = 1024
    max_triangles: int = 20_000_000
    deflate_models_above_megabytes: int = 256
    dataset_folder: str = ""
    dataset_hours: int = 24

    @classmethod
    def from_configuration(cls, configuration: Mapping[str, Any]) -> Settings:
        """Read the ``SegMesh`` section of a parsed Orthanc configuration (missing: defaults)."""
        section = configuration.get("SegMesh", {})
        if not isinstance(section, Mapping):
            raise BadRequestError("Invalid configuration", "'SegMesh' must be a JSON object")
        values: dict[str, Any] = {}
        defaults: dict[str, Any] = {f.name: getattr(cls(), f.name) for f in fields(cls)}
        for key, value in section.items():
            if key == "AutoGenerate":
                values["auto_stl"], values["auto_labelmap"] = _auto_generate(value)
                continue
            name = _OPTION_NAMES.get(key)
            if name is None:
                logger.warning("segmesh: unknown configuration option SegMesh.%s is ignored", key)
                continue
            if isinstance(defaults[name], str):
                if not isinstance(value, str):
                    raise BadRequestError("Invalid configuration", f"SegMesh.{key} must be a text")
                values[name] = value
                continue
            least = 0 if name in _MAY_BE_ZERO else 1
            if type(value) is not type(defaults[name]) or value < least:
                wanted = "an integer of at least 0" if least == 0 else "a positive integer"
                raise BadRequestError("Invalid configuration", f"SegMesh.{key} must be {wanted}")
            values[name] = value
        return cls(**values)


def _auto_generate(value: Any) -> tuple[Mapping[str, Any] | None, bool]:
    """``{"Stl": {mesh options}, "LabelMap": true}`` (either part, or absent, or null) to the
    body of the models' request and whether label maps are stored."""
    if value is None:
        return None, False
    wanted = 'SegMesh.AutoGenerate must be {"Stl": {mesh options}, "LabelMap": true or false}'
    if (
        not isinstance(value, Mapping)
        or not isinstance(value.get("Stl", {}), Mapping)
        or not isinstance(value.get("LabelMap", False), bool)
    ):
        raise BadRequestError("Invalid configuration", wanted)
    unknown = sorted(set(value) - {"Stl", "LabelMap"})
    if unknown:
        logger.warning("segmesh: unknown options SegMesh.AutoGenerate.%s are ignored", unknown)
    return (dict(value["Stl"]) if "Stl" in value else None), bool(value.get("LabelMap", False))
