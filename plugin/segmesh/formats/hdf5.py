"""HDF5 files: datasets ``labels`` (layers, slices, rows, columns) and ``image``, chunked per
slice (bands of rows where a slice exceeds :data:`MAX_CHUNK_BYTES`), with the affine, the
segments and the frame of reference as attributes.

Written in memory by HDF5's own "core" driver, not through a Python file object: HDF5 frees a
file-object driver's property lists in its exit handler, after an embedding interpreter (as
Orthanc's) has been finalized, and calling back into Python then crashed Orthanc as it exited
(SIGSEGV in ``H5FD_fileobj_fapl_free``, Python 3.14).
"""

from __future__ import annotations

import uuid
from typing import Any

import h5py
import numpy as np
import numpy.typing as npt

from ..labelmap import LabelMap, segments_json

#: Most bytes of a chunk: HDF5 1.x refuses chunks of 4 GiB or more (a float32 slice of
#: 32768 x 32768 voxels is one), and a reader decompresses a whole chunk to read any of it.
MAX_CHUNK_BYTES = 1 << 30


def plane_chunk(rows: int, columns: int, dtype: np.dtype[Any]) -> tuple[int, int]:
    """(rows, columns) of a chunk of one slice: the whole slice where it holds at most
    :data:`MAX_CHUNK_BYTES`, else bands of whole rows, else parts of one row."""
    row_part = max(1, min(columns, MAX_CHUNK_BYTES // dtype.itemsize))
    return max(1, min(rows, MAX_CHUNK_BYTES // (row_part * dtype.itemsize))), row_part


def to_hdf5(labelmap: LabelMap, image: npt.NDArray[Any] | None = None) -> bytes:
    """An HDF5 file: ``labels`` (layers, slices, rows, columns) and optionally ``image``
    (slices, rows, columns), chunked per slice (:func:`plane_chunk`); attributes ``affine``
    and ``segments``."""
    _, _, rows, columns = labelmap.layers.shape
    # The name only tells in-memory files apart: none is written (backing_store=False).
    with h5py.File(f"segmesh-{uuid.uuid4().hex}.h5", "w", driver="core", backing_store=False) as h5:
        labels = h5.create_dataset(
            "labels",
            data=labelmap.layers,
            chunks=(1, 1, *plane_chunk(rows, columns, labelmap.layers.dtype)),
            compression="gzip",
            compression_opts=1,
        )
        labels.attrs["axes"] = "layer, slice, row, column"
        if image is not None:
            volume = h5.create_dataset(
                "image",
                data=image,
                chunks=(1, *plane_chunk(rows, columns, image.dtype)),
                compression="gzip",
                compression_opts=1,
            )
            volume.attrs["axes"] = "slice, row, column"
        h5.attrs["affine"] = labelmap.geometry.affine
        h5.attrs["affine_maps"] = "[column, row, slice, 1] to LPS mm"
        h5.attrs["segments"] = segments_json(labelmap)
        h5.attrs["FrameOfReferenceUID"] = labelmap.geometry.frame_of_reference_uid
        h5.flush()
        image_bytes: bytes = h5.id.get_file_image()
    return image_bytes
