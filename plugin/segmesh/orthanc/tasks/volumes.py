"""The image volume a SEG or RT-STRUCT is drawn on: its referenced series as one array, for
the viewer's planes."""

from __future__ import annotations

from ...errors import UnprocessableError
from ...options import LabelMapOptions
from ...sources import image_volume_npy_of_files
from .. import store
from .context import TaskContext
from .labelmaps import read_source


def referenced_image_volume_npy(instance_id: str, context: TaskContext) -> bytes:
    """The .npy file of the (slices, rows, columns) values of the series ``instance_id``
    references, after the modality rescale (int16 HU for CT), on the grid its label map uses
    by default.

    The files travel unparsed to a worker, which parses, decodes, stacks and encodes them. 422
    where the referenced series is not stored here.
    """
    source = read_source(instance_id, LabelMapOptions())
    if source.series_id is None:
        missing = ", ".join(source.description.referenced_series_uids) or "(none referenced)"
        raise UnprocessableError(
            "Referenced series not stored", f"the image volume needs the series {missing}"
        )
    files = store.series_files(source.series_id)
    return context.workers.run(image_volume_npy_of_files, files)
