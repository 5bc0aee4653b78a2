"""HDF5 files: datasets ``labels`` (layers, slices, rows, columns) and ``image``, chunked per
slice, with the affine, the segments and the frame of reference as attributes."""

from __future__ import annotations

import io
from typing import Any

import h5py
import numpy.typing as npt

from ..labelmap import LabelMap, segments_json


def to_hdf5(labelmap: LabelMap, image: npt.NDArray[Any] | None = None) -> bytes:
    """An HDF5 file: ``labels`` (layers, slices, rows, columns) and optionally ``image``
    (slices, rows, columns), chunked per slice; attributes ``affine`` and ``segments``."""
    _, _, rows, columns = labelmap.layers.shape
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        labels = h5.create_dataset(
            "labels",
            data=labelmap.layers,
            chunks=(1, 1, rows, columns),
            compression="gzip",
            compression_opts=1,
        )
        labels.attrs["axes"] = "layer, slice, row, column"
        if image is not None:
            volume = h5.create_dataset(
                "image",
                data=image,
                chunks=(1, rows, columns),
                compression="gzip",
                compression_opts=1,
            )
            volume.attrs["axes"] = "slice, row, column"
        h5.attrs["affine"] = labelmap.geometry.affine
        h5.attrs["affine_maps"] = "[column, row, slice, 1] to LPS mm"
        h5.attrs["segments"] = segments_json(labelmap)
        h5.attrs["FrameOfReferenceUID"] = labelmap.geometry.frame_of_reference_uid
    return buffer.getvalue()
