"""A label map (say, of a SEG) to an RT Structure Set on the same images, deterministic UIDs.

Contours are traced by :func:`.writer.write_rtstruct` at level 0.5 between voxel centres, so
the even-odd fill that reads RT-STRUCTs (:mod:`.polygon_fill`) gives the mask back; no
smoothing. ROI numbers are the segment numbers; names, colours kept; the RTROIInterpretedType
comes from the segment's own or its SEG codes (:mod:`segmesh.dicom.segment_codes`), the
ROIGenerationAlgorithm and ROIGenerationDescription from its algorithm type and name.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from ..dicom.conversion_uids import conversion_uid
from ..dicom.segment_codes import interpreted_type
from ..dicom.tags import apply_tags
from ..errors import UnprocessableError
from ..images.image_order import images_in_slice_order
from ..labelmap import LabelMap, Segment, select_segments
from .writer import ROI_GENERATION_ALGORITHMS, RoiMask, write_rtstruct


def _generation_algorithm(attributes: Mapping[str, Any]) -> str:
    """The ROIGenerationAlgorithm of a segment: a SEG's (or an imported label map's)
    AlgorithmType, else an RT-STRUCT ROI's GenerationAlgorithm; empty where it is neither
    AUTOMATIC, SEMIAUTOMATIC nor MANUAL."""
    algorithm = str(attributes.get("AlgorithmType") or attributes.get("GenerationAlgorithm", ""))
    algorithm = algorithm.strip().upper()
    return algorithm if algorithm in ROI_GENERATION_ALGORITHMS else ""


def _generation_description(attributes: Mapping[str, Any]) -> str:
    """The algorithm's name where known, as an LO: 64 characters, each run of whitespace
    (line breaks too) one space; empty where unknown."""
    # A backslash would split the LO into two values.
    words = str(attributes.get("AlgorithmName") or "").replace("\\", "/").split()
    return " ".join(words)[:64].rstrip()


def _rois(labelmap: LabelMap, segments: Sequence[Segment]) -> Iterator[RoiMask]:
    """One ROI at a time, each on its segment's bounding box: a (slices, rows, columns) mask
    per segment would not fit in memory for 100 segments on 300 x 512 x 512, and its pass over
    the whole grid would make 1000 segments cost 1000 volumes."""
    for segment in segments:
        box = labelmap.box(segment)
        if box is None:
            mask, start = np.zeros((0, 0, 0), dtype=bool), (0, 0, 0)
        else:
            mask = np.asarray(labelmap.layers[segment.layer][box] == segment.value)
            start = (box[0].start, box[1].start, box[2].start)
        yield RoiMask(
            segment.number,
            segment.label or f"Segment {segment.number}",
            segment.color,
            interpreted_type(segment.attributes),
            mask,
            _generation_algorithm(segment.attributes),
            _generation_description(segment.attributes),
            start,
        )


def labelmap_to_rtstruct(
    source: Dataset,
    labelmap: LabelMap,
    images: Sequence[Dataset],
    segments: Sequence[int] | None = None,
    label: str | None = None,
    tags: Mapping[str, Any] | None = None,
) -> Dataset:
    """An RT-STRUCT of ``labelmap`` (converted from ``source``) on single-frame ``images``.

    ``segments`` picks segment numbers (all where None; 400 for unknown ones); ``tags`` (a
    request's ``Tags``) are set last. UIDs derive from the source's SOPInstanceUID, the
    selection, the tags and segmesh's version. 422 where the label map is not on the images'
    grid or the images are one multi-frame object (an RT-STRUCT references single images).
    """
    selected = list(select_segments(labelmap.segments, segments, "the source holds segments"))
    if not selected:
        raise UnprocessableError("No segments", "the selection holds no segment to write")
    ordered, _slice_of_frame = images_in_slice_order(labelmap.geometry, images)
    if len(ordered) != labelmap.geometry.shape[0]:
        raise UnprocessableError(
            "Multi-frame images", "an RT-STRUCT conversion needs one single-frame image per slice"
        )
    numbers = [segment.number for segment in selected]
    source_uid = str(source.SOPInstanceUID)
    name = label or str(source.get("SeriesDescription") or "segmesh")
    rtstruct = write_rtstruct(
        ordered,
        labelmap.geometry,
        _rois(labelmap, selected),
        conversion_uid(source_uid, "RTSTRUCT", numbers, "series", tags),
        conversion_uid(source_uid, "RTSTRUCT", numbers, "instance 1", tags),
        # StructureSetLabel is an SH: 16 characters.
        name[:16],
    )
    # SeriesDescription is an LO (64 characters), and says what this series is a copy of.
    rtstruct.SeriesDescription = f"{name} (as RTSTRUCT)"[:64]
    apply_tags(rtstruct, tags or {})
    return rtstruct
