"""A posted label map written as DICOM on a series' grid: what a worker runs for an import.

The file is read (:mod:`segmesh.formats`), placed on the series' grid exactly or, where
asked, resampled (:mod:`.grid_placement`), its segments described from the file, the
caller's fields and defaults, and written per target by :func:`segmesh.conversions.
write_objects`. The objects' UIDs derive from the file's digest, the fields and the series, so
the same import twice stores nothing new.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, RLELossless, generate_uid
from scipy import ndimage

from ..conversions import Conversion, Target, write_objects
from ..dicom.color import default_color
from ..dicom.provenance import IMPORT_MODEL_NAME
from ..errors import LimitExceededError, UnprocessableError
from ..formats.label_volume import LabelFileFormat, LabelVolume
from ..formats.nifti import read_nifti_labels
from ..formats.npz import read_npy_labels, read_npz_labels
from ..formats.nrrd_labels import read_nrrd_labels
from ..geometry import geometry_from_images
from ..labelmap import LabelMap, LayerBoxes, Segment, check_voxel_limit
from ..settings import Settings
from ..worker_io.stored_files import read_headers
from .grid_placement import Match, Placement, place_on_series
from .import_options import ImportOptions, SegmentFields


@dataclass(frozen=True)
class ImportedObject:
    """One written instance: the ``path`` of its Part-10 file, its SOP Class UID and the file's
    labels it holds (a BINARY SEG numbers them 1 to N in this order)."""

    path: str
    sop_class_uid: str
    segments: tuple[int, ...]


@dataclass(frozen=True)
class ImportedTarget:
    """What one target wrote, and the asked labels it left out as empty."""

    target: Target
    objects: tuple[ImportedObject, ...]
    empty: tuple[int, ...]


@dataclass(frozen=True)
class ImportResult:
    """The objects written per target, how the file lay on the series, what it was, and the
    file's labels left out (``skipped``: (value, label, reason))."""

    written: tuple[ImportedTarget, ...]
    placement: Placement
    file_format: str
    segments: tuple[Segment, ...]
    skipped: tuple[tuple[int, str, str], ...]


def read_label_volume(data: bytes, options: ImportOptions, settings: Settings) -> LabelVolume:
    """The posted file as a label volume, in the format asked or sniffed."""
    file_format = options.file_format or LabelFileFormat.sniff(data)
    affine = options.affine
    if file_format is LabelFileFormat.NIFTI:
        return read_nifti_labels(data, settings)
    if file_format is LabelFileFormat.NRRD:
        return read_nrrd_labels(data, settings)
    if file_format is LabelFileFormat.NPZ:
        return read_npz_labels(data, affine, settings)
    return read_npy_labels(data, affine, settings)


def _segment(
    value: int,
    layer: int,
    own: Segment | None,
    fields: SegmentFields | None,
    options: ImportOptions,
) -> Segment:
    """The segment of ``value``: the caller's fields first, then the file's own, then
    defaults; the algorithm the caller's (per segment, else for all)."""
    attributes: dict[str, Any] = dict(own.attributes) if own is not None else {}
    label = own.label if own is not None else f"Segment {value}"
    color = own.color if own is not None else default_color(value)
    algorithm = options.algorithm
    if fields is not None:
        attributes.update(fields.codes)
        label = fields.label or label
        color = fields.color or color
        if fields.description:
            attributes["Description"] = fields.description
        algorithm = fields.algorithm or algorithm
    attributes.update(algorithm.attributes())
    return Segment(value, label, color, layer, attributes)


def _segments(
    layer_of: dict[int, int], volume: LabelVolume, options: ImportOptions
) -> tuple[tuple[Segment, ...], list[tuple[int, str, str]]]:
    """The segments to write (``layer_of``: the layer of each value on the series' grid), and
    the file's labels left out with their reason."""
    present = sorted(layer_of)
    own = {segment.number: segment for segment in volume.segments}
    fields = {segment.value: segment for segment in options.segments}
    wanted = sorted(fields) if fields else present
    segments = tuple(
        _segment(v, layer_of.get(v, 0), own.get(v), fields.get(v), options) for v in wanted
    )
    skipped = [
        (v, own[v].label if v in own else f"Segment {v}", "not among the Segments asked for")
        for v in present
        if v not in set(wanted)
    ]
    return segments, skipped


def _layers_of_values(boxes: LayerBoxes) -> dict[int, int]:
    """The layer of each value that occurs, from each layer's ``find_objects`` boxes (the
    boxes the writers ask for next, found once); 422 where a value occurs in several layers
    (a file whose layers number their segments apart must describe them, as a .seg.nrrd
    does)."""
    layer_of: dict[int, int] = {}
    for layer, found in boxes.items():
        for value in (index + 1 for index, box in enumerate(found) if box is not None):
            if layer_of.setdefault(value, layer) != layer:
                raise UnprocessableError(
                    "Ambiguous label",
                    f"value {value} occurs in layers {layer_of[value]} and {layer}",
                )
    return layer_of


def _lost_in_resampling(
    volume: LabelVolume, layer_of: dict[int, int]
) -> list[tuple[int, str, str]]:
    """The file's labels that no series voxel took once resampled (thin structures on a finer
    grid): found in a table indexed by value (``np.unique`` would sort the file's voxels)."""
    present = np.zeros(np.iinfo(volume.layers.dtype).max + 1, dtype=np.bool_)
    for layer in volume.layers:
        present[layer.ravel(order="K")] = True
    lost = sorted(set((np.flatnonzero(present[1:]) + 1).tolist()) - set(layer_of))
    return [
        (value, f"Segment {value}", "no voxel on the series' grid once resampled") for value in lost
    ]


def _source(file: bytes, options: ImportOptions, series_uid: str, volume: LabelVolume) -> Dataset:
    """What the written objects are converted from, for :func:`write_objects`: a UID from the
    file's digest, the options and the series (the UIDs of the outputs derive from it)."""
    digest = hashlib.sha256(file).hexdigest()
    fields = json.dumps(asdict(options), sort_keys=True, default=str)
    source = Dataset()
    source.SOPInstanceUID = generate_uid(
        entropy_srcs=["segmesh-import", digest, fields, series_uid]
    )
    source.SeriesDescription = options.series_description or f"{volume.file_format} labels"
    return source


def _description_tags(target: Target, placement: Placement, file_format: str) -> dict[str, str]:
    """The written object's own account of where it came from, resampling included."""
    how = (
        "resampled onto the series' grid by nearest neighbour"
        if placement.match is Match.RESAMPLED
        else "on the series' grid"
    )
    text = f"Imported from a {file_format} label map, {how}"[:64]
    keyword = "StructureSetDescription" if target is Target.RTSTRUCT else "ContentDescription"
    return {keyword: text}


def _saved(target: Target, conversion: Conversion, folder: str) -> ImportedTarget:
    """The objects of ``conversion`` written to files in ``folder``."""
    objects = []
    for index, converted in enumerate(conversion.objects, start=1):
        path = os.path.join(folder, f"{target.value}-{index}.dcm")
        with open(path, "wb") as handle:
            handle.write(converted.file)
        objects.append(ImportedObject(path, converted.sop_class_uid, converted.segments))
    return ImportedTarget(target, tuple(objects), conversion.empty)


def import_labelmap(
    *,
    file: bytes,
    options: ImportOptions,
    image_files: Sequence[bytes],
    settings: Settings,
    output_folder: str,
) -> ImportResult:
    """Write ``file`` as each target of ``options`` on the grid of the series of
    ``image_files`` (headers only read), the Part-10 files into ``output_folder``.

    400 for a file that is no label map or bad fields, 413 above the limits, 422 where the
    grids differ (without resampling) or nothing is left to write.
    """
    volume = read_label_volume(file, options, settings)
    images = read_headers(image_files)
    geometry = geometry_from_images(images)[0]
    check_voxel_limit(geometry.shape, settings.max_voxels, volume.layers.shape[0])
    layers, placement = place_on_series(volume, geometry, options.resample)
    boxes = {layer: ndimage.find_objects(layers[layer]) for layer in range(layers.shape[0])}
    layer_of = _layers_of_values(boxes)
    segments, skipped = _segments(layer_of, volume, options)
    if placement.match is Match.RESAMPLED and not options.segments:
        skipped += _lost_in_resampling(volume, layer_of)
    if len(segments) > settings.max_segments:
        raise LimitExceededError(
            "Too many segments", f"{len(segments)}, above MaxSegments {settings.max_segments}"
        )
    labelmap = LabelMap(layers, geometry, segments)
    labelmap.adopt_boxes(boxes)
    series_uid = str(images[0].get("SeriesInstanceUID", ""))
    source = _source(file, options, series_uid, volume)
    if placement.match is Match.RESAMPLED:
        source.SeriesDescription = f"{source.SeriesDescription} (resampled)"
    written = []
    for target in options.targets:
        tags = {
            "SeriesDescription": source.SeriesDescription[:64],
            **_description_tags(target, placement, volume.file_format),
            **options.tags_for(target),
            # Last: what makes automatic runs take the objects as sources.
            "ManufacturerModelName": IMPORT_MODEL_NAME,
        }
        conversion = write_objects(
            source,
            labelmap,
            images,
            target,
            [segment.number for segment in segments],
            split=options.split,
            tags=tags,
            transfer_syntax_uid=RLELossless
            if options.rle and target is Target.LABELMAP
            else ExplicitVRLittleEndian,
            max_voxels=settings.max_voxels,
        )
        written.append(_saved(target, conversion, output_folder))
    return ImportResult(tuple(written), placement, volume.file_format, segments, tuple(skipped))
