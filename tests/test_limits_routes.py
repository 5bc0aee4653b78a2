"""The configured limits answer 413 before the work, on an Orthanc with low limits."""

from __future__ import annotations

import base64
import copy
import gzip
from collections.abc import Iterator

import nibabel as nib
import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from segmesh.demo import DemoStudy
from tests import builders
from tests.conftest import encode
from tests.orthanc_server import OrthancServer

LIMITS = {"MaxSegments": 5, "MaxContourPoints": 100, "MaxNiftiMegabytes": 1, "MaxTriangles": 50}


@pytest.fixture(scope="module")
def limited(
    tmp_path_factory: pytest.TempPathFactory, demo_study: DemoStudy
) -> Iterator[tuple[OrthancServer, dict[str, str]]]:
    """An Orthanc with low limits, holding the demo study."""
    server = OrthancServer(tmp_path_factory.mktemp("orthanc-limits"), {"SegMesh": LIMITS})
    server.start()
    images = [server.upload(encode(image)) for image in demo_study.images]
    ids = {
        "SEG": server.upload(encode(demo_study.seg)),
        "RTSTRUCT": server.upload(encode(demo_study.rtstruct)),
        "RTSTRUCT1": server.upload(encode(_one_roi(demo_study.rtstruct))),
        "Study": server.get(f"/instances/{images[0]}/study").json()["ID"],
        "Series": server.get(f"/instances/{images[0]}/series").json()["ID"],
    }
    yield server, ids
    server.stop()
    assert "Traceback" not in server.log(), "Orthanc logged a Python traceback"


def _one_roi(rtstruct: Dataset) -> Dataset:
    """The RT-STRUCT with its first ROI only (within MaxSegments), as another instance."""
    copied = copy.deepcopy(rtstruct)
    for keyword in ("StructureSetROISequence", "ROIContourSequence", "RTROIObservationsSequence"):
        setattr(copied, keyword, getattr(copied, keyword)[:1])
    copied.SOPInstanceUID = generate_uid()
    return copied


def _instances(server: OrthancServer) -> int:
    return len(server.get("/instances").json())


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("SEG", "Too many segments"),
        ("RTSTRUCT", "Too many segments"),
        ("RTSTRUCT1", "Too many contour points"),
    ],
)
def test_sources_over_a_limit_answer_413(
    limited: tuple[OrthancServer, dict[str, str]], source: str, error: str
) -> None:
    server, ids = limited
    for path in ("labelmap?format=npz", "stl?segment=1"):
        response = server.get(f"/instances/{ids[source]}/segmesh/{path}")
        assert response.status_code == 413, response.text
        assert response.json()["Error"] == error
    # Describing a source is cheap and stays allowed.
    assert server.get(f"/instances/{ids[source]}/segmesh/segments").status_code == 200


def test_a_seg_over_max_segments_answers_413_on_every_route_that_converts(
    limited: tuple[OrthancServer, dict[str, str]],
) -> None:
    """Every route that decodes the source refuses it before the work, with the same error;
    nothing is stored."""
    server, ids = limited
    seg = ids["SEG"]
    image = server.get(f"/series/{ids['Series']}").json()["Instances"][0]
    before = _instances(server)
    asked = [
        ("get", f"/instances/{seg}/segmesh/labelmap?format=nrrd", None),
        ("get", f"/instances/{seg}/segmesh/statistics?format=csv", None),
        ("get", f"/instances/{seg}/segmesh/overlay/{image}.png", None),
        ("get", f"/instances/{seg}/segmesh/volume/labels.npy", None),
        ("get", f"/instances/{seg}/segmesh/stl?segment=1&format=3mf", None),
        ("post", f"/instances/{seg}/segmesh/stl", {"Merge": True}),
        ("post", f"/instances/{seg}/segmesh/convert", {"To": "RTSTRUCT"}),
        ("post", f"/instances/{seg}/segmesh/convert", {"To": "LABELMAP", "Split": True}),
    ]
    for method, path, body in asked:
        response = getattr(server, method)(path, **({} if body is None else {"json": body}))
        assert response.status_code == 413, (path, response.text)
        assert response.json()["Error"] == "Too many segments", path
        assert "above MaxSegments 5" in response.json()["Details"], path
    assert _instances(server) == before


def test_a_model_over_max_triangles_is_not_stored(
    limited: tuple[OrthancServer, dict[str, str]], demo_study: DemoStudy
) -> None:
    server, ids = limited
    before = _instances(server)
    # The threshold route's single segment passes MaxSegments; its mesh has thousands of faces.
    series = next(
        series["ID"]
        for series in server.get(f"/studies/{ids['Study']}/series").json()
        if series["MainDicomTags"]["Modality"] == "CT"
    )
    response = server.post(f"/series/{series}/segmesh/stl", json={"Threshold": 100})
    assert response.status_code == 413, response.text
    assert response.json()["Error"] == "Model too large"
    assert "MaxTriangles 50" in response.json()["Details"]
    assert _instances(server) == before


def test_models_stored_before_one_over_max_triangles_are_deleted(
    limited: tuple[OrthancServer, dict[str, str]],
) -> None:
    """Models are stored as they are built: two small ones are in Orthanc when the third,
    above MaxTriangles, fails the request, and are deleted again."""
    server, _ = limited
    shape = (12, 24, 24)
    labels = builders.ellipsoid_labels(
        shape,
        [[4, 4, 3], [18, 4, 3], [12, 14, 6]],
        [[0.5, 0.5, 0.5], [0.5, 0.5, 0.5], [6.0, 6.0, 4.0]],
    )
    assert [int((labels == n).sum()) for n in (1, 2)] == [1, 1]  # 8 triangles each
    images = builders.ct_series(shape, (1.0, 1.0, 1.0), study=builders.study_dataset())
    for image in images:
        server.upload(encode(image))
    seg_id = server.upload(encode(builders.seg(images, labels, ["A", "B", "C"])))
    before = _instances(server)
    response = server.post(f"/instances/{seg_id}/segmesh/stl", json={})
    assert response.status_code == 413, response.text
    assert "MaxTriangles 50" in response.json()["Details"]
    assert _instances(server) == before
    # The first two alone are within the limit: the third failed the request.
    small = server.post(f"/instances/{seg_id}/segmesh/stl", json={"Segments": [1, 2]})
    assert small.status_code == 200, small.text
    assert [model["Triangles"] <= 50 for model in small.json()["Instances"]] == [True, True]


def test_a_nifti_over_max_nifti_megabytes_answers_413(
    limited: tuple[OrthancServer, dict[str, str]],
) -> None:
    server, ids = limited
    image = nib.Nifti1Image(np.zeros((128, 128, 80), dtype=np.uint8), np.eye(4))
    data = image.to_bytes()  # 1.3 MB, uncompressed
    assert len(data) > 1024 * 1024
    response = server.post(
        f"/studies/{ids['Study']}/segmesh/nifti-stl",
        json={"Nifti": base64.b64encode(data).decode()},
    )
    assert response.status_code == 413, response.text
    assert response.json()["Error"] == "NIfTI file too large"
    # The same label map compressed is below the limit, and answered on its merits.
    small = server.post(
        f"/studies/{ids['Study']}/segmesh/nifti-stl",
        json={"Nifti": base64.b64encode(gzip.compress(data)).decode()},
    )
    assert small.status_code == 422, small.text


def test_an_imported_file_over_max_nifti_megabytes_answers_413_and_stores_nothing(
    limited: tuple[OrthancServer, dict[str, str]],
) -> None:
    server, ids = limited
    before = server.get(f"/studies/{ids['Study']}/instances").json()
    image = nib.Nifti1Image(np.zeros((128, 128, 80), dtype=np.uint8), np.eye(4))
    response = server.post(f"/series/{ids['Series']}/segmesh/import", data=image.to_bytes())
    assert response.status_code == 413, response.text
    assert response.json()["Error"] == "Label-map file too large"
    assert "MaxNiftiMegabytes 1" in response.json()["Details"]
    assert server.get(f"/studies/{ids['Study']}/instances").json() == before
