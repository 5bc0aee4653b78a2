"""A label map as a file (NIfTI, NRRD, npz, HDF5): written once per label map and format and
kept in the cache beside it, so that a repeat, or many clients asking at once, only send it."""

from __future__ import annotations

import dataclasses

from ... import timings
from ...formats import ExportedFile, Format, export
from ...images.image_volume import image_volume
from ...options import LabelMapOptions
from ..loaded_source import LoadedSource
from .context import TaskContext
from .labelmaps import load_labelmap


def labelmap_file(
    instance_id: str,
    options: LabelMapOptions,
    file_format: Format,
    include_image: bool,
    context: TaskContext,
) -> tuple[LoadedSource, ExportedFile]:
    """The label map of ``instance_id`` and its file; with ``include_image`` the image volume
    too (422 without a source grid, before any conversion), written anew each time: such files
    are large and rarely asked twice."""
    if include_image:
        loaded = load_labelmap(instance_id, options, context, with_image_pixels=True)
        assert loaded.images is not None  # load_labelmap answered 422 otherwise
        image = image_volume(loaded.images, loaded.labelmap.geometry)
        with timings.stage("encode"):
            return loaded, export(loaded.labelmap, file_format, image)
    loaded = load_labelmap(instance_id, options, context, file_format=file_format)

    def encoded() -> ExportedFile:
        if loaded.file is not None:  # written by the worker that decoded it
            return loaded.file
        with timings.stage("encode"):
            return export(loaded.labelmap, file_format)

    file = context.cache.file(loaded, instance_id, (options, file_format), encoded)
    return dataclasses.replace(loaded, file=None), file
