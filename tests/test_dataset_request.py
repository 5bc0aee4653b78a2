"""The dataset request's fields and the folder of finished datasets (no Orthanc)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from segmesh.datasets.dataset_files import (
    finish_dataset,
    finished_dataset,
    new_dataset_path,
    remove_expired,
)
from segmesh.datasets.dataset_request import CaseNaming, DatasetFormat
from segmesh.errors import BadRequestError, GoneError, NotFoundError
from segmesh.requests.dataset_body import dataset_request
from segmesh.settings import Settings


def test_the_smallest_body_takes_the_defaults() -> None:
    request = dataset_request({"Resources": ["a", "b", "a"]})
    assert request.resources == ("a", "b")
    assert request.query is None
    assert request.format is DatasetFormat.NNUNET
    assert request.labels is None
    assert request.spacing is None
    assert request.case_naming is CaseNaming.HASH
    assert request.dataset_name == "Dataset001_segmesh"
    assert request.channel_name is None


def test_every_field_is_read() -> None:
    request = dataset_request(
        {
            "Query": {"Level": "Study", "Query": {"ModalitiesInStudy": "SEG"}},
            "Format": "hdf5",
            "Labels": {"liver": ["Liver", "SCT:10200004"]},
            "Spacing": [1, 1.5, 2],
            "CaseNames": "Number",
            "DatasetName": "Dataset042_Livers",
            "ChannelName": " CT ",
        }
    )
    assert request.query == {"Level": "Study", "Query": {"ModalitiesInStudy": "SEG"}}
    assert request.format.suffix == ".h5"
    assert request.labels is not None
    assert request.labels.dataset_json_labels() == {"background": 0, "liver": 1}
    assert request.spacing == (1.0, 1.5, 2.0)
    assert request.case_naming is CaseNaming.NUMBER
    assert request.dataset_name == "Dataset042_Livers"
    assert request.channel_name == "CT"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Bad parameters"),
        ({"Resources": ["a"], "Query": {"Level": "Study"}}, "Bad parameters"),
        ({"Resources": "a"}, "Bad parameter Resources"),
        ({"Resources": [""]}, "Bad parameter Resources"),
        ({"Query": ["Study"]}, "Bad parameter Query"),
        ({"Resources": ["a"], "Format": "nifti"}, "Bad parameter Format"),
        ({"Resources": ["a"], "Spacing": [1, 1]}, "Bad parameter Spacing"),
        ({"Resources": ["a"], "Spacing": [1, True, 1]}, "Bad parameter Spacing"),
        ({"Resources": ["a"], "Spacing": [1, -1, 1]}, "Bad parameter Spacing"),
        ({"Resources": ["a"], "CaseNames": "PatientName"}, "Bad parameter CaseNames"),
        ({"Resources": ["a"], "DatasetName": "livers"}, "Bad parameter DatasetName"),
        ({"Resources": ["a"], "ChannelName": " "}, "Bad parameter ChannelName"),
        ({"Resources": ["a"], "Asynchronous": False}, "Unknown parameters"),
    ],
)
def test_bad_fields_are_400(body: dict[str, Any], message: str) -> None:
    with pytest.raises(BadRequestError) as raised:
        dataset_request(body)
    assert raised.value.message == message


def test_finished_datasets_are_kept_their_hours_then_removed(tmp_path: Path) -> None:
    settings = Settings(dataset_folder=str(tmp_path / "sets"), dataset_hours=2)
    part = new_dataset_path(settings, ".zip")
    assert part.name.endswith(".zip.part")
    part.write_bytes(b"zip")
    finished = finish_dataset(part)
    assert finished.name.endswith(".zip")
    assert not part.exists()
    assert finished_dataset(settings, finished.name).read_bytes() == b"zip"
    with pytest.raises(NotFoundError):
        finished_dataset(settings, f"../{finished.name}")
    stale = new_dataset_path(settings, ".h5")
    stale.write_bytes(b"left by a node that stopped")
    three_hours_ago = time.time() - 3 * 3600
    os.utime(stale, (three_hours_ago, three_hours_ago))
    remove_expired(settings)
    assert not stale.exists()
    assert finished.exists()
    os.utime(finished, (three_hours_ago, three_hours_ago))
    with pytest.raises(GoneError):
        finished_dataset(settings, finished.name)
    assert not finished.exists()
