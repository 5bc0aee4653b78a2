"""Writing DICOM SEG (BINARY, or LABELMAP of Supplement 243) from a label map, with highdicom.

The label map must be on the grid of the referenced images (``geometry_from_images``); the
written SEG references them and lies in their frame of reference. Segment labels, colours
(RecommendedDisplayCIELabValue), property codes and algorithm attributes are kept; RT-STRUCT
ROIs get codes from their RTROIInterpretedType (:mod:`segmesh.segment_codes`).

- BINARY: highdicom numbers segments 1 to N without gaps, as the standard asks, so segments
  are renumbered in the order of the label map; overlapping segments are fine.
- LABELMAP: segment numbers are kept (they are the pixel values); overlapping segments raise
  :class:`UnprocessableError`, or with ``split`` go to as few instances (one series) as first
  fit packing needs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import highdicom as hd
import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian

from . import __version__
from .attributes import PATIENT_AND_STUDY_KEYWORDS, copy_patient_and_study
from .color import rgb_to_cielab
from .conversion_uids import conversion_uid
from .errors import UnprocessableError
from .geometry import geometry_from_images
from .labelmap import LabelMap, Segment, select_segments
from .layer_packing import pack_layers, segment_boxes
from .segment_codes import segment_codes
from .vr_limits import clip_to_vr

logger = logging.getLogger(__name__)

BINARY = hd.seg.SegmentationTypeValues.BINARY
LABELMAP = hd.seg.SegmentationTypeValues.LABELMAP
_NOT_MANUAL = {"AUTOMATIC", "SEMIAUTOMATIC"}


def source_images(
    labelmap: LabelMap, images: Sequence[Dataset]
) -> tuple[list[Dataset], npt.NDArray[np.intp]]:
    """The images as highdicom wants them, and for each of its frames the slice k of the label
    map it shows: single-frame images sorted as the slices, or one multi-frame image."""
    geometry, sources = geometry_from_images(images)
    target = labelmap.geometry
    if (
        geometry.shape != target.shape
        or not np.allclose(geometry.affine, target.affine, atol=1e-3)
        or geometry.frame_of_reference_uid != target.frame_of_reference_uid
    ):
        raise UnprocessableError(
            "Label map not on the images' grid",
            f"label map {target.shape} in {target.frame_of_reference_uid}, images "
            f"{geometry.shape} in {geometry.frame_of_reference_uid}",
        )
    if len(images) == 1:
        slice_of_frame = np.empty(len(sources), dtype=np.intp)
        slice_of_frame[[frame for _index, frame in sources]] = np.arange(len(sources))
        return [_with_study(images[0], geometry.spacing[2])], slice_of_frame
    ordered = [images[index] for index, _frame in sources]
    return [_with_study(ordered[0], geometry.spacing[2]), *ordered[1:]], np.arange(len(sources))


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
    item = _source_item(source, segment.number) if "AlgorithmType" in attributes else None
    copied = False
    for keyword in ("SegmentAlgorithmName", "SegmentationAlgorithmIdentificationSequence"):
        if item is not None and keyword in item:
            setattr(description, keyword, item[keyword].value)
            copied = True
    if not copied:
        description.SegmentAlgorithmName = "unknown"


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


def _stacked(labelmap: LabelMap, segments: Sequence[Segment]) -> npt.NDArray[np.bool_]:
    """(slices, rows, columns, segments) bool, for a BINARY SEG of overlapping segments."""
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
) -> list[hd.seg.Segmentation]:
    """SEG instances (one series) of ``labelmap`` (converted from ``source``) on ``images``.

    ``segments`` picks segment numbers (all where None; 400 for unknown ones). BINARY gives one
    instance; LABELMAP one per packed layer with ``split``, else 422 where segments overlap.
    UIDs derive from the source's SOPInstanceUID, the type, the selection and the version.
    """
    kind = hd.seg.SegmentationTypeValues(segmentation_type)
    if kind not in (BINARY, LABELMAP):
        raise UnprocessableError("Unsupported SEG type", f"{kind.value}: use BINARY or LABELMAP")
    selected = [
        s
        for s in select_segments(labelmap.segments, segments, "the source holds segments")
        if s.number > 0  # background is never a segment
    ]
    if not selected:
        raise UnprocessableError("No segments", "the selection holds no segment to write")
    ordered_images, slice_of_frame = source_images(labelmap, images)
    target = "SEG" if kind is BINARY else "LABELMAP"
    numbers = [segment.number for segment in selected]
    source_uid = str(source.SOPInstanceUID)
    series_uid = conversion_uid(source_uid, target, numbers, "series")
    if kind is BINARY:
        renumbered = {segment.number: index for index, segment in enumerate(selected, start=1)}
        layers = pack_layers(labelmap, selected, lambda s: renumbered[s.number], split=True)
        written = [(renumbered, layers)]
    else:
        layers = pack_layers(labelmap, selected, lambda s: s.number, split=split)
        written = [({s.number: s.number for s in layer.segments}, [layer]) for layer in layers]
    description = (
        series_description or f"{source.get('SeriesDescription') or 'segments'} ({target})"
    )
    results = []
    for instance, (number_of, packed) in enumerate(written, start=1):
        ordered = sorted(
            (s for layer in packed for s in layer.segments), key=lambda s: number_of[s.number]
        )
        # One layer goes as a label array; overlapping segments (BINARY only: a LABELMAP
        # instance holds one packed layer) as stacked masks in the order of their numbers.
        pixels = packed[0].labels if len(packed) == 1 else _stacked(labelmap, ordered)
        start = time.perf_counter()
        seg = hd.seg.Segmentation(
            source_images=ordered_images,
            pixel_array=pixels[slice_of_frame],
            segmentation_type=kind,
            segment_descriptions=[_description(source, s, number_of[s.number]) for s in ordered],
            series_instance_uid=series_uid,
            series_number=series_number,
            sop_instance_uid=conversion_uid(source_uid, target, numbers, f"instance {instance}"),
            instance_number=instance,
            manufacturer="segmesh",
            manufacturer_model_name="segmesh",
            software_versions=__version__,
            device_serial_number="0",
            series_description=description[:64],
            transfer_syntax_uid=transfer_syntax_uid,
            omit_empty_frames=True,
        )
        logger.debug("highdicom Segmentation: %.2f s", time.perf_counter() - start)
        copy_patient_and_study(ordered_images[0], seg)
        clip_to_vr(seg, PATIENT_AND_STUDY_KEYWORDS)
        results.append(seg)
    return results
