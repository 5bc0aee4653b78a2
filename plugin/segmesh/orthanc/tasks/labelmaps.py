"""Loading a SEG or RT-STRUCT and its referenced images out of Orthanc into a label map."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydicom.dataset import Dataset

from ...dicom.description import SourceDescription
from ...errors import UnprocessableError
from ...labelmap import LabelMap
from ...options import Grid, LabelMapOptions
from ...sources import describe, labelmap_of_file
from .. import store
from .context import TaskContext

#: (7FE0,0010) Pixel Data: elements from here on are pixels, not header.
PIXEL_DATA = 0x7FE00010


@dataclass(frozen=True)
class LoadedSource:
    """A source instance with what was loaded for it.

    ``dataset`` is the source's header (no pixel data: its pixels were decoded in a worker).

    ``images`` is the referenced series (Orthanc order) where the source grid was used, and
    ``series_id`` its Orthanc id; both None on the native grid.
    """

    dataset: Dataset
    description: SourceDescription
    labelmap: LabelMap
    series_id: str | None
    images: list[Dataset] | None


def referenced_series_id(description: SourceDescription) -> str | None:
    """The Orthanc id of the first referenced series that is stored here, if any."""
    for uid in description.referenced_series_uids:
        identifier = store.series_id_of_uid(uid)
        if identifier:
            return identifier
    return None


def headers(images: Sequence[Dataset]) -> list[Dataset]:
    """``images`` without their pixel data: what a conversion needs, small to send to a worker.

    Rebuilt element by element because a dataset parsed by pydicom 3, even without its pixels,
    pickles with the whole file it was read from (30 CT slices of 512 x 512: 15.9 MB, against
    0.07 MB rebuilt).
    """
    return [
        Dataset({tag: element for tag, element in ds.items() if tag < PIXEL_DATA}) for ds in images
    ]


@dataclass(frozen=True)
class SourceFile:
    """A source instance read out of Orthanc, before conversion: its Part-10 ``data`` (what a
    worker receives), its header, and the Orthanc id of the referenced series where the source
    grid is used, else None."""

    data: bytes
    dataset: Dataset
    description: SourceDescription
    series_id: str | None


def read_source(instance_id: str, options: LabelMapOptions) -> SourceFile:
    """Read the instance and choose the grid (the referenced series, if any).

    grid=source (the default where the referenced series is stored) answers 422 naming the
    missing series where it is not stored.
    """
    data = store.instance_file(instance_id)
    dataset = store.parse(data, instance_id, stop_before_pixels=True)
    description = describe(dataset)
    series_id = None
    if options.grid is not Grid.NATIVE:
        series_id = referenced_series_id(description)
        if series_id is None and options.grid is Grid.SOURCE:
            missing = ", ".join(description.referenced_series_uids) or "(none referenced)"
            raise UnprocessableError(
                "Referenced series not stored",
                f"grid=source needs the referenced series {missing}; use grid=native",
            )
    return SourceFile(data, dataset, description, series_id)


def load_labelmap(
    instance_id: str,
    options: LabelMapOptions,
    context: TaskContext,
    with_image_pixels: bool = False,
) -> LoadedSource:
    """Read the instance (:func:`read_source`), load the referenced images if needed, convert
    in a worker.

    The images are read without their pixel data (the grid needs only their headers) unless
    ``with_image_pixels``, which answers 422 without a source grid, before any conversion.
    """
    source = read_source(instance_id, options)
    series_id = source.series_id
    if with_image_pixels and series_id is None:
        raise UnprocessableError(
            "No image volume", "include=image needs the referenced series on grid=source"
        )
    images = (
        store.read_series(series_id, stop_before_pixels=not with_image_pixels)
        if series_id
        else None
    )
    labelmap = context.workers.run(
        labelmap_of_file,
        source.data,
        headers(images) if images else None,
        options,
        context.settings,
    )
    return LoadedSource(source.dataset, source.description, labelmap, series_id, images)
