"""The image volume a SEG or RT-STRUCT is drawn on: its referenced series as one array, for
the viewer's planes, and the three planes through one voxel, for its first view."""

from __future__ import annotations

from ...errors import UnprocessableError
from ...images.cross_sections import Voxel
from ...work import CrossSections, ImageVolume
from ...worker_io.packed_files import temporary_path
from .. import store
from .context import TaskContext
from .labelmaps import referenced_series_id, source_description


def _referenced_series_id(instance_id: str, context: TaskContext) -> str:
    """The Orthanc id of the series ``instance_id`` references (from its description, read
    once per file: the viewer asks for it with several routes at once); 422 where it is not
    stored."""
    description = source_description(instance_id, context)
    series_id = referenced_series_id(context.host, description)
    if series_id is None:
        missing = ", ".join(description.referenced_series_uids) or "(none referenced)"
        raise UnprocessableError(
            "Referenced series not stored", f"the image volume needs the series {missing}"
        )
    return series_id


def referenced_image_volume_npy(instance_id: str, context: TaskContext) -> bytes:
    """The .npy file of the (slices, rows, columns) values of the series ``instance_id``
    references, after the modality rescale (int16 HU for CT), on the grid its label map uses
    by default.

    A worker fetches the files (see :func:`store.stored_series_files`), parses, decodes,
    stacks and writes them as a .npy file read back here: no volume is pickled. 422 where the
    referenced series is not stored here.
    """
    series_id = _referenced_series_id(instance_id, context)
    with temporary_path(".npy") as path:
        files = store.stored_series_files(context.host, series_id)
        context.workers.run(ImageVolume(image_files=files, path=path))
        with open(path, "rb") as handle:
            return handle.read()


def referenced_image_planes_npy(
    instance_id: str, voxel: Voxel | None, context: TaskContext
) -> bytes:
    """The .npy file of the values of :func:`referenced_image_volume_npy` on the three planes
    through ``voxel`` (the centre where None; see :mod:`segmesh.images.cross_sections`), cut in a
    worker image by image: no volume is made or sent. 400 where ``voxel`` is outside."""
    series_id = _referenced_series_id(instance_id, context)
    files = store.stored_series_files(context.host, series_id)
    return context.workers.run(CrossSections(image_files=files, voxel=voxel))
