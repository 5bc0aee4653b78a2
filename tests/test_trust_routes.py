"""Storing requests cannot move a model to another patient or study, and a model's copied
attributes are valid DICOM even where the source's are not."""

from __future__ import annotations

import copy
import io
from collections.abc import Iterator

import pytest
from pydicom import dcmread

from segmesh.demo import DemoStudy
from tests.conftest import encode
from tests.dciodvfy import dciodvfy_errors
from tests.orthanc_server import OrthancServer


@pytest.mark.parametrize(
    "tags",
    [
        {"StudyInstanceUID": "1.2.826.0.1.3680043.8.498.1"},
        {"PatientID": "SOMEONE-ELSE"},
        {"PatientName": "Other^Patient"},
        {"AccessionNumber": "A42"},
        {"StudyID": "7"},
        {"IssuerOfPatientID": "ELSEWHERE"},
        {"OtherPatientIDs": "X1"},
        {"PatientBirthDate": "19700101"},
    ],
)
def test_tags_cannot_move_a_model_to_another_patient_or_study(
    orthanc: OrthancServer, demo_ids: dict[str, str], tags: dict[str, str]
) -> None:
    series_before = orthanc.get(f"/studies/{demo_ids['Study']}").json()["Series"]
    patients_before = orthanc.get("/patients").json()
    response = orthanc.post(f"/instances/{demo_ids['SEG']}/segmesh/stl", json={"Tags": tags})
    assert response.status_code == 400, response.text
    assert response.json()["Error"] == "Protected tag"
    assert next(iter(tags)) in response.json()["Details"]
    assert orthanc.get(f"/studies/{demo_ids['Study']}").json()["Series"] == series_before
    assert orthanc.get("/patients").json() == patients_before


@pytest.fixture(scope="module")
def long_values(
    tmp_path_factory: pytest.TempPathFactory, demo_study: DemoStudy
) -> Iterator[tuple[OrthancServer, str]]:
    """An Orthanc holding the demo study with a 17-character StudyID (SH holds 16) and a
    65-character StudyDescription (LO holds 64); the SEG's id."""
    server = OrthancServer(tmp_path_factory.mktemp("orthanc-long-values"))
    server.start()
    for dataset in [*demo_study.images, demo_study.seg]:
        broken = copy.deepcopy(dataset)
        broken.StudyID = "1" * 17
        broken.StudyDescription = "D" * 65
        identifier = server.upload(encode(broken))
    yield server, identifier
    server.stop()
    assert "Traceback" not in server.log(), "Orthanc logged a Python traceback"


def test_values_too_long_for_their_vr_are_truncated_in_the_model(
    long_values: tuple[OrthancServer, str],
) -> None:
    server, seg_id = long_values
    response = server.post(f"/instances/{seg_id}/segmesh/stl", json={"Segments": [1]})
    assert response.status_code == 200, response.text
    model_id = response.json()["Instances"][0]["ID"]
    data = server.get(f"/instances/{model_id}/file").content
    assert dciodvfy_errors(data) == []
    model = dcmread(io.BytesIO(data))
    assert model.StudyID == "1" * 16
    assert model.StudyDescription == "D" * 64
    source_study = server.get(f"/instances/{seg_id}/study").json()["ID"]
    assert server.get(f"/instances/{model_id}/study").json()["ID"] == source_study
    assert "StudyID '11111111111111111' of the source is not a valid SH" in server.log()
