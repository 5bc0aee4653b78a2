"""nnU-Net v2 raw datasets in a zip: ``<dataset>/imagesTr``, ``<dataset>/labelsTr`` and
``<dataset>/dataset.json``.

Each call opens, appends to and closes the zip, under its lock (:mod:`.file_lock`), so that
worker processes add cases side by side, and the file is a valid zip after every call.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import UnprocessableError
from ..formats.nifti import LPS_TO_RAS, nifti_bytes
from ..geometry import VolumeGeometry
from .file_lock import exclusive

#: What nnU-Net v2 names the files of a case (one channel, 0000).
FILE_ENDING = ".nii.gz"


def _open(zip_path: str) -> zipfile.ZipFile:
    if os.path.exists(zip_path):
        return zipfile.ZipFile(zip_path, "a", allowZip64=True)
    return zipfile.ZipFile(zip_path, "w", allowZip64=True)


def add_nnunet_case(
    zip_path: str,
    dataset_name: str,
    case: str,
    image: npt.NDArray[Any],
    labels: npt.NDArray[Any],
    geometry: VolumeGeometry,
) -> None:
    """Append ``imagesTr/{case}_0000.nii.gz`` and ``labelsTr/{case}.nii.gz`` (under the folder
    ``dataset_name/``) to the zip at ``zip_path`` (created if absent).

    ``image`` and ``labels`` (slices, rows, columns) on ``geometry`` are written (i, j, k) with
    the RAS affine. The members are stored, not deflated: they are gzip already. 422 where the
    zip holds that case already.
    """
    affine = np.asarray(LPS_TO_RAS @ geometry.affine, dtype=np.float64)
    members = {
        f"{dataset_name}/imagesTr/{case}_0000{FILE_ENDING}": image,
        f"{dataset_name}/labelsTr/{case}{FILE_ENDING}": labels,
    }
    files = {name: nifti_bytes(volume.T, affine) for name, volume in members.items()}
    with exclusive(zip_path), _open(zip_path) as archive:
        held = set(archive.namelist())
        for name in files:
            if name in held:
                raise UnprocessableError("Duplicate case", f"{name} is in the zip already")
        for name, data in files.items():
            archive.writestr(name, data, zipfile.ZIP_STORED)


def finish_nnunet_zip(
    zip_path: str,
    dataset_name: str,
    channel_name: str,
    labels: Mapping[str, int],
    cases: int,
    report: Mapping[str, Any],
) -> None:
    """Append ``dataset_name/dataset.json`` ({"channel_names": {"0": channel_name}, "labels":
    labels, "numTraining": cases, "file_ending": ".nii.gz"}) and ``dataset_name/report.json``
    (``report``, indent 2)."""
    dataset = {
        "channel_names": {"0": channel_name},
        "labels": dict(labels),
        "numTraining": cases,
        "file_ending": FILE_ENDING,
    }
    with _open(zip_path) as archive:
        for name, content in (("dataset.json", dataset), ("report.json", report)):
            text = json.dumps(content, indent=2, ensure_ascii=False)
            archive.writestr(f"{dataset_name}/{name}", text, zipfile.ZIP_DEFLATED)
