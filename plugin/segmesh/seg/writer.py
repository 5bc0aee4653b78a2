"""Writing DICOM SEG (BINARY, or LABELMAP of Supplement 243) from a label map, with highdicom.

The label map must be on the grid of the referenced images (``geometry_from_images``); the
written SEG references them and lies in their frame of reference. Segment labels, colours
(RecommendedDisplayCIELabValue), property codes and algorithm attributes are kept; RT-STRUCT
ROIs get codes from their RTROIInterpretedType (:mod:`segmesh.dicom.segment_codes`).

- BINARY: highdicom numbers segments 1 to N without gaps, as the standard asks, so segments
  are renumbered in the order of the label map; overlapping segments are fine.
- LABELMAP: segment numbers are kept (they are the pixel values); overlapping segments raise
  :class:`UnprocessableError`, or with ``split`` go to as few instances (one series) as first
  fit packing needs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import highdicom as hd
import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import ExplicitVRLittleEndian

from ..dicom.attributes import PATIENT_AND_STUDY_KEYWORDS, copy_patient_and_study
from ..dicom.color import rgb_to_cielab
from ..dicom.conversion_uids import conversion_uid
from ..dicom.provenance import MANUFACTURER, MODEL_NAME, SOFTWARE_VERSIONS
from ..dicom.segment_codes import segment_codes
from ..dicom.tags import apply_tags
from ..errors import UnprocessableError
from ..images.image_order import images_in_slice_order
from ..labelmap import LabelMap, Segment, check_voxel_limit, select_segments
from .layer_packing import pack_layers, segment_boxes

logger = logging.getLogger(__name__)

BINARY = hd.seg.SegmentationTypeValues.BINARY
LABELMAP = hd.seg.SegmentationTypeValues.LABELMAP
_NOT_MANUAL = {"AUTOMATIC", "SEMIAUTOMATIC"}
#: The algorithm family of an imported model's segments (DCM 123110, CID 7162).
ARTIFICIAL_INTELLIGENCE = codes.DCM.ArtificialIntelligence


def source_images(
    labelmap: LabelMap, images: Sequence[Dataset]
) -> tuple[list[Dataset], npt.NDArray[np.intp]]:
    """The images as highdicom wants them, and for each of its frames the slice k of the label
    map it shows: single-frame images sorted as the slices, or one multi-frame image; the first
    completed (:func:`_with_study`). 422 where the label map is not on their grid."""
    ordered, slice_of_frame = images_in_slice_order(labelmap.geometry, images)
    spacing = labelmap.geometry.spacing[2]
    return [_with_study(ordered[0], spacing), *ordered[1:]], slice_of_frame


def _with_study(image: Dataset, slice_step: float) -> Dataset:
    """``image``, or a copy (sharing element values) with what highdicom reads from the first
    image and fails without: type 2 patient and study attributes set empty, SliceThickness set
    to the slice step (``slice_step`` mm; many series leave it out). ``copy.copy`` would share
    the elements and edit the caller's dataset."""
    missing = [keyword for keyword in PATIENT_AND_STUDY_KEYWORDS if keyword not in image]
    thickness = image.get("SliceThickness") not in (None, "")
    if not missing and thickness:
        return image
    completed = Dataset()
    completed.update(image)
    if hasattr(image, "file_meta"):
        completed.file_meta = image.file_meta
    for keyword in missing:
        setattr(completed, keyword, "")
    if not thickness:
        completed.SliceThickness = round(slice_step, 6)
    return completed


def _source_item(source: Dataset, number: int) -> Dataset | None:
    """The SegmentSequence item of a SEG source for segment ``number``."""
    for item in source.get("SegmentSequence", []):
        if int(item.get("SegmentNumber", -1)) == number:
            return item
    return None


def _set_algorithm(description: Dataset, source: Dataset, segment: Segment) -> None:
    """Keep the source's algorithm type: a SEG's algorithm attributes as they were, an
    RT-STRUCT's ROIGenerationAlgorithm with an unknown algorithm name (type 1C)."""
    attributes = segment.attributes
    algorithm = str(attributes.get("AlgorithmType") or attributes.get("GenerationAlgorithm", ""))
    if algorithm.upper() not in _NOT_MANUAL:
        return
    description.SegmentAlgorithmType = algorithm.upper()
    if attributes.get("AlgorithmName"):
        # An imported label map's model, named by the caller.
        _set_named_algorithm(description, attributes)
        return
    item = _source_item(source, segment.number) if "AlgorithmType" in attributes else None
    copied = False
    for keyword in ("SegmentAlgorithmName", "SegmentationAlgorithmIdentificationSequence"):
        if item is not None and keyword in item:
            setattr(description, keyword, item[keyword].value)
            copied = True
    if not copied:
        description.SegmentAlgorithmName = "unknown"


def _set_named_algorithm(description: Dataset, attributes: Mapping[str, Any]) -> None:
    """SegmentAlgorithmName, and the Segmentation Algorithm Identification with the version
    where one is given (AlgorithmVersion is type 1 there)."""
    name = str(attributes["AlgorithmName"])[:64]
    description.SegmentAlgorithmName = name
    version = str(attributes.get("AlgorithmVersion") or "")
    if version:
        description.SegmentationAlgorithmIdentificationSequence = (
            hd.AlgorithmIdentificationSequence(
                name=name, family=ARTIFICIAL_INTELLIGENCE, version=version[:64]
            )
        )


def _description(source: Dataset, segment: Segment, number: int) -> hd.seg.SegmentDescription:
    """The SegmentSequence item of ``segment``, written as segment ``number``."""
    category, property_type, modifier = segment_codes(segment.attributes)
    description = hd.seg.SegmentDescription(
        segment_number=number,
        segment_label=segment.label or f"Segment {segment.number}",
        segmented_property_category=category,
        segmented_property_type=property_type,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        display_color=hd.color.CIELabColor.from_dicom_value(rgb_to_cielab(segment.color)),
    )
    if modifier is not None:
        type_item = description.SegmentedPropertyTypeCodeSequence[0]
        type_item.SegmentedPropertyTypeModifierCodeSequence = [modifier]
    if segment.attributes.get("Description"):
        description.SegmentDescription = str(segment.attributes["Description"])
    _set_algorithm(description, source, segment)
    return description


def _manual_first(descriptions: Sequence[Dataset]) -> str | None:
    """Make the first description MANUAL for highdicom's sake, and return its own type: for a
    LABELMAP, highdicom copies the first segment's algorithm type to the background item it
    adds, and then requires an algorithm identification it drops again. None where the first is
    MANUAL or identified already."""
    first = descriptions[0]
    kind = str(first.SegmentAlgorithmType)
    if kind == "MANUAL" or "SegmentationAlgorithmIdentificationSequence" in first:
        return None
    first.SegmentAlgorithmType = "MANUAL"
    return kind


def _restore_first(seg: Dataset, first: Dataset, kind: str) -> None:
    """Give the written first segment its own algorithm type back (:func:`_manual_first`)."""
    for item in seg.SegmentSequence:
        if int(item.SegmentNumber) == int(first.SegmentNumber):
            item.SegmentAlgorithmType = kind


def _stacked(
    labelmap: LabelMap, segments: Sequence[Segment], max_voxels: int | None
) -> npt.NDArray[np.bool_]:
    """(slices, rows, columns, segments) bool, for a BINARY SEG of overlapping segments (what
    highdicom takes for them); 413 where it would hold more than ``max_voxels`` (a thousand
    overlapping segments on a CT's grid would be tens of gigabytes)."""
    if max_voxels is not None:
        check_voxel_limit(labelmap.geometry.shape, max_voxels, layers=len(segments))
    stacked = np.zeros((*labelmap.geometry.shape, len(segments)), dtype=np.bool_)
    boxes = segment_boxes(labelmap, segments)
    for index, segment in enumerate(segments):
        box = boxes.get(segment.number)
        if box is not None:
            stacked[(*box, index)] = labelmap.layers[segment.layer][box] == segment.value
    return stacked


def write_seg(
    source: Dataset,
    labelmap: LabelMap,
    images: Sequence[Dataset],
    segmentation_type: hd.seg.SegmentationTypeValues | str = BINARY,
    segments: Sequence[int] | None = None,
    split: bool = False,
    series_number: int = 300,
    series_description: str | None = None,
    transfer_syntax_uid: str = ExplicitVRLittleEndian,
    tags: Mapping[str, Any] | None = None,
    max_voxels: int | None = None,
) -> list[hd.seg.Segmentation]:
    """SEG instances (one series) of ``labelmap`` (converted from ``source``) on ``images``.

    ``segments`` picks segment numbers (all where None; 400 for unknown ones). BINARY gives one
    instance; LABELMAP one per packed layer with ``split``, else 422 where segments overlap.
    ``tags`` (a request's ``Tags``, :func:`segmesh.dicom.tags.apply_tags`) are set last.
    UIDs derive from the source's SOPInstanceUID, the type, the selection, the tags and the
    version.
    """
    kind = hd.seg.SegmentationTypeValues(segmentation_type)
    if kind not in (BINARY, LABELMAP):
        raise UnprocessableError("Unsupported SEG type", f"{kind.value}: use BINARY or LABELMAP")
    selected = list(select_segments(labelmap.segments, segments, "the source holds segments"))
    if not selected:
        raise UnprocessableError("No segments", "the selection holds no segment to write")
    ordered_images, slice_of_frame = source_images(labelmap, images)
    target = "SEG" if kind is BINARY else "LABELMAP"
    numbers = [segment.number for segment in selected]
    source_uid = str(source.SOPInstanceUID)
    series_uid = conversion_uid(source_uid, target, numbers, "series", tags)
    if kind is BINARY:
        renumbered = {segment.number: index for index, segment in enumerate(selected, start=1)}
        layers = pack_layers(labelmap, selected, lambda s: renumbered[s.number], split=True)
        written = [(renumbered, layers)]
    else:
        layers = pack_layers(labelmap, selected, lambda s: s.number, split=split)
        written = [({s.number: s.number for s in layer.segments}, [layer]) for layer in layers]
    description = (
        series_description or f"{source.get('SeriesDescription') or 'segments'} (as {target})"
    )
    results = []
    for instance, (number_of, packed) in enumerate(written, start=1):
        ordered = sorted(
            (s for layer in packed for s in layer.segments), key=lambda s: number_of[s.number]
        )
        # One layer goes as a label array; overlapping segments (BINARY only: a LABELMAP
        # instance holds one packed layer) as stacked masks in the order of their numbers.
        pixels = packed[0].labels if len(packed) == 1 else _stacked(labelmap, ordered, max_voxels)
        descriptions = [_description(source, s, number_of[s.number]) for s in ordered]
        restore = _manual_first(descriptions) if kind is LABELMAP else None
        start = time.perf_counter()
        seg = hd.seg.Segmentation(
            source_images=ordered_images,
            pixel_array=pixels[slice_of_frame],
            segmentation_type=kind,
            segment_descriptions=descriptions,
            series_instance_uid=series_uid,
            series_number=series_number,
            sop_instance_uid=conversion_uid(
                source_uid, target, numbers, f"instance {instance}", tags
            ),
            instance_number=instance,
            manufacturer=MANUFACTURER,
            manufacturer_model_name=MODEL_NAME,
            software_versions=SOFTWARE_VERSIONS,
            device_serial_number="0",
            series_description=description[:64],
            transfer_syntax_uid=transfer_syntax_uid,
            omit_empty_frames=True,
        )
        logger.debug("highdicom Segmentation: %.2f s", time.perf_counter() - start)
        if restore is not None:
            _restore_first(seg, descriptions[0], restore)
        # highdicom copied them verbatim; this cuts overlong values to their VR.
        copy_patient_and_study(ordered_images[0], seg)
        if "ContentCreatorName" not in seg:
            # Type 2 of the Content Identification macro; highdicom leaves it out.
            seg.ContentCreatorName = ""
        apply_tags(seg, tags or {})
        results.append(seg)
    return results
