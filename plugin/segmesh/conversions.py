"""Conversions between segmentation objects by target: a label map to SEG (BINARY), LABELMAP
SEG or RT-STRUCT, written as Part-10 files (what a worker sends back and Orthanc stores)."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian

from .dicom.part10 import part10
from .dicom.sop_classes import (
    LABEL_MAP_SEGMENTATION_STORAGE,
    RT_STRUCTURE_SET_STORAGE,
    SEGMENTATION_STORAGE,
    Kind,
    kind_of,
)
from .errors import BadRequestError, UnprocessableError
from .labelmap import LabelMap, select_segments
from .rtstruct.from_labelmap import labelmap_to_rtstruct
from .seg.layer_packing import segment_boxes
from .seg.writer import BINARY, LABELMAP, write_seg


class Target(StrEnum):
    """What a source is converted to (the ``To`` of a request)."""

    SEG = "SEG"  # Segmentation Storage, BINARY
    LABELMAP = "LABELMAP"  # Label Map Segmentation Storage (Supplement 243)
    RTSTRUCT = "RTSTRUCT"

    @classmethod
    def parse(cls, value: Any) -> Target:
        """``To`` of a request body; 400 for anything else."""
        try:
            return cls(value)
        except ValueError as error:
            choices = ", ".join(target.value for target in cls)
            raise BadRequestError("Bad parameter To", f"{value!r}: use {choices}") from error


def target_of(dataset: Dataset) -> Target:
    """The target a source already is: a conversion to it is refused (400)."""
    if kind_of(dataset) is Kind.RTSTRUCT:
        return Target.RTSTRUCT
    if str(dataset.SOPClassUID) == LABEL_MAP_SEGMENTATION_STORAGE:
        return Target.LABELMAP
    return Target.SEG


def target_of_sop_class(sop_class_uid: str) -> Target | None:
    """:func:`target_of` by SOP Class UID alone; None for what is no SEG or RT-STRUCT."""
    return {
        SEGMENTATION_STORAGE: Target.SEG,
        LABEL_MAP_SEGMENTATION_STORAGE: Target.LABELMAP,
        RT_STRUCTURE_SET_STORAGE: Target.RTSTRUCT,
    }.get(sop_class_uid)


def check_not_same(source: Target | None, target: Target) -> None:
    """400 where ``source`` (the kind a source already is) is ``target``."""
    if source is target:
        raise BadRequestError(
            "Same kind", f"the source is already {target.value}: convert it to another kind"
        )


@dataclass(frozen=True)
class ConvertedObject:
    """One written instance: its Part-10 ``file``, SOP Class UID and the source's segment
    numbers it holds (a BINARY SEG numbers them 1 to N in this order)."""

    file: bytes
    sop_class_uid: str
    segments: tuple[int, ...]


@dataclass(frozen=True)
class Conversion:
    """What a conversion wrote (one series), and the asked segments left out as empty."""

    objects: tuple[ConvertedObject, ...]
    empty: tuple[int, ...]


def convert(
    source: Dataset,
    labelmap: LabelMap,
    images: Sequence[Dataset],
    target: Target,
    segments: Sequence[int] | None = None,
    split: bool = False,
    tags: Mapping[str, Any] | None = None,
    max_voxels: int | None = None,
) -> Conversion:
    """Write the segments of ``labelmap`` (of ``source``, on the grid of ``images``, which may
    be headers without pixel data) as ``target``: :func:`write_objects`, refused (400) where
    the source already is ``target``."""
    check_not_same(target_of(source), target)
    return write_objects(
        source, labelmap, images, target, segments, split, tags, max_voxels=max_voxels
    )


def write_objects(
    source: Dataset,
    labelmap: LabelMap,
    images: Sequence[Dataset],
    target: Target,
    segments: Sequence[int] | None = None,
    split: bool = False,
    tags: Mapping[str, Any] | None = None,
    transfer_syntax_uid: str = ExplicitVRLittleEndian,
    max_voxels: int | None = None,
) -> Conversion:
    """Write the segments of ``labelmap`` as ``target``; ``source`` gives the UIDs' seed
    (SOPInstanceUID) and the series description. A SEG is encoded in ``transfer_syntax_uid``.

    Segments without voxels are left out (``empty``); 422 where none is left. 400 for unknown
    segment numbers; 422 for overlapping segments into one LABELMAP without ``split``, or a
    label map not on the images' grid; 413 where overlapping segments into one BINARY SEG
    would stack more than ``max_voxels`` (MaxVoxels).
    """
    selected = list(select_segments(labelmap.segments, segments, "the source holds segments"))
    boxes = segment_boxes(labelmap, selected)
    empty = tuple(s.number for s in selected if s.number not in boxes)
    numbers = [s.number for s in selected if s.number in boxes]
    if not numbers:
        raise UnprocessableError("Nothing to convert", "every asked segment is empty")
    with gc_paused():
        written = _written(
            source, labelmap, images, target, numbers, split, tags, transfer_syntax_uid, max_voxels
        )
        objects = tuple(
            ConvertedObject(part10(ds), str(ds.SOPClassUID), held) for ds, held in written
        )
    return Conversion(objects, empty)


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection meanwhile: highdicom builds a dataset of a hundred thousand
    small objects, none in a cycle, and the collector's passes over them (and over the series'
    headers) cost a tenth of its time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _written(
    source: Dataset,
    labelmap: LabelMap,
    images: Sequence[Dataset],
    target: Target,
    numbers: list[int],
    split: bool,
    tags: Mapping[str, Any] | None,
    transfer_syntax_uid: str,
    max_voxels: int | None,
) -> list[tuple[Dataset, tuple[int, ...]]]:
    """The datasets of :func:`write_objects`, each with the segment numbers it holds."""
    if target is Target.RTSTRUCT:
        rtstruct = labelmap_to_rtstruct(source, labelmap, images, numbers, tags=tags)
        return [(rtstruct, tuple(numbers))]
    kind = BINARY if target is Target.SEG else LABELMAP
    instances = write_seg(
        source,
        labelmap,
        images,
        kind,
        numbers,
        split=split,
        transfer_syntax_uid=transfer_syntax_uid,
        tags=tags,
        max_voxels=max_voxels,
    )
    return [(seg, tuple(_source_numbers(seg, numbers, target is Target.SEG))) for seg in instances]


def _source_numbers(seg: Dataset, numbers: Sequence[int], renumbered: bool) -> list[int]:
    """The source's numbers of the segments of a written SEG: a BINARY SEG holds all of them,
    renumbered 1 to N in order; a LABELMAP SEG keeps them (0 is its background item)."""
    if renumbered:
        return list(numbers)
    return [int(item.SegmentNumber) for item in seg.SegmentSequence if int(item.SegmentNumber)]
