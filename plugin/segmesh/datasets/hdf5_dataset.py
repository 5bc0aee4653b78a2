"""A training dataset as one HDF5 file: ``cases/<case>/image`` and ``labels``, an ``index``
of every (case, slice) for slice-wise loaders, and the labels and report as attributes.

Written to a path with HDF5's default driver, never through a Python file object (see
:mod:`segmesh.formats.hdf5`). Each call opens and closes the file under its lock
(:mod:`.file_lock`), so that worker processes add cases side by side.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import h5py
import numpy as np
import numpy.typing as npt
from isal import isal_zlib

from ..errors import UnprocessableError
from ..formats.hdf5 import plane_chunk
from ..geometry import VolumeGeometry
from .file_lock import exclusive


def _cases(h5: h5py.File) -> h5py.Group:
    return h5["cases"] if "cases" in h5 else h5.create_group("cases")


def _deflated_slices(volume: npt.NDArray[Any]) -> list[bytes] | None:
    """Each slice of ``volume`` as the zlib stream HDF5's gzip filter stores for a whole-slice
    chunk, deflated by ISA-L (HDF5's own zlib took three times as long as the rest of a case),
    before the file is locked; None where a slice is split into several chunks (above 1 GiB):
    those go through HDF5's filter."""
    _, rows, columns = volume.shape
    if plane_chunk(rows, columns, volume.dtype) != (rows, columns):
        return None
    return [isal_zlib.compress(np.ascontiguousarray(plane).tobytes(), 1) for plane in volume]


def _write_volume(
    group: h5py.Group, name: str, volume: npt.NDArray[Any], slices: list[bytes] | None
) -> None:
    """``volume`` (slices, rows, columns) as dataset ``name``, gzip level 1, one slice per
    chunk: the ``slices`` of :func:`_deflated_slices` written as stored."""
    _, rows, columns = volume.shape
    dataset = group.create_dataset(
        name,
        shape=volume.shape,
        dtype=volume.dtype,
        chunks=(1, *plane_chunk(rows, columns, volume.dtype)),
        compression="gzip",
        compression_opts=1,
    )
    if slices is None:
        dataset[...] = volume
        return
    for k, data in enumerate(slices):
        dataset.id.write_direct_chunk((k, 0, 0), data)


def add_hdf5_case(
    path: str,
    case: str,
    image: npt.NDArray[Any],
    labels: npt.NDArray[Any],
    geometry: VolumeGeometry,
    attributes: Mapping[str, str],
) -> None:
    """Group ``cases/{case}`` with datasets ``image`` and ``labels`` (slices, rows, columns),
    one slice per chunk (:func:`~segmesh.formats.hdf5.plane_chunk`), gzip level 1; group
    attributes ``affine`` (4x4, [column, row, slice, 1] -> LPS mm), ``spacing`` (x, y, z mm),
    ``shape`` and ``attributes`` (source UIDs). The file is created if absent; 422 where it
    holds that case already."""
    volumes = {"image": image, "labels": labels}
    deflated = {name: _deflated_slices(volume) for name, volume in volumes.items()}
    with exclusive(path), h5py.File(path, "a") as h5:
        cases = _cases(h5)
        if case in cases:
            raise UnprocessableError("Duplicate case", f"{case} is in the HDF5 file already")
        group = cases.create_group(case)
        for name, volume in volumes.items():
            _write_volume(group, name, volume, deflated[name])
        group.attrs["affine"] = geometry.affine
        group.attrs["affine_maps"] = "[column, row, slice, 1] to LPS mm"
        group.attrs["spacing"] = np.array(geometry.spacing, dtype=np.float64)
        group.attrs["shape"] = np.array(geometry.shape, dtype=np.int64)
        for key, value in attributes.items():
            group.attrs[key] = value


def finish_hdf5(
    path: str, case_names: Sequence[str], labels: Mapping[str, int], report: Mapping[str, Any]
) -> None:
    """Top level: ``case_names`` (variable-length str: the cases in the dataset's order, which
    is not the order they were added in, side by side), ``index`` (N, 2) int32 of (case number,
    slice) over every case's slices in that order, attributes ``labels`` and ``report`` (JSON
    text)."""
    with h5py.File(path, "a") as h5:
        cases = _cases(h5)
        names = list(case_names)
        slices = [int(cases[name]["image"].shape[0]) for name in names]
        counts = np.array(slices, dtype=np.int64)
        starts = np.cumsum(counts) - counts
        index = np.zeros((int(counts.sum()), 2), dtype=np.int32)
        index[:, 0] = np.repeat(np.arange(len(names)), counts)
        index[:, 1] = np.arange(len(index)) - np.repeat(starts, counts)
        # A second finish (a retried job) replaces what the first wrote.
        for name in ("index", "case_names"):
            if name in h5:
                del h5[name]
        h5.create_dataset("index", data=index)
        h5["index"].attrs["columns"] = "case number (in case_names), slice"
        h5.create_dataset("case_names", data=names, dtype=h5py.string_dtype())
        h5.attrs["labels"] = json.dumps(dict(labels))
        h5.attrs["report"] = json.dumps(report)
