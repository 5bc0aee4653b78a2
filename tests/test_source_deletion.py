"""A SEG or its CT deleted while a request or job uses it, in a real Orthanc: a 404 or 410 JSON
error, nothing stored for it, and the label map cache forgets it.

These tests use their own Orthanc (one worker, so that a job can be caught running): they
delete the demo CT, which other tests need.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from copy import deepcopy
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.uid import UID

from segmesh.demo import DemoStudy
from segmesh.demo.phantom import ORIGIN, PIXEL_SPACING, SHAPE, SLICE_THICKNESS
from tests import builders
from tests.conftest import encode
from tests.orthanc_server import OrthancServer
from tests.test_automatic import auto_server, wait_for_run
from tests.test_jobs import SLOW, upload_demo, wait

#: Segments of the SEG whose models job is caught running: 100 Laplacian meshes of 500
#: iterations in one worker take several seconds, the deletion a few milliseconds.
SEGMENTS = 100


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    orthanc = OrthancServer(tmp_path_factory.mktemp("deletion"), {"SegMesh": {"Workers": 1}})
    orthanc.start()
    yield orthanc
    orthanc.stop()
    assert "Traceback" not in orthanc.log(), "Orthanc logged a Python traceback"


@pytest.fixture(scope="module")
def many_segments(demo_study: DemoStudy) -> Dataset:
    """A SEG of 100 ellipsoids on the demo CT."""
    spacing = (PIXEL_SPACING[1], PIXEL_SPACING[0], SLICE_THICKNESS)
    labels = builders.lattice_ellipsoids(SHAPE, spacing, ORIGIN, SEGMENTS)
    names = [f"Ellipsoid {number}" for number in range(1, SEGMENTS + 1)]
    return builders.seg(demo_study.images, labels, names)


def meshing(server: OrthancServer, path: str) -> None:
    """Poll a job until its first models are built (Progress above 0)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        record = server.get(path).json()
        assert record["State"] in ("Pending", "Running"), record
        if record["Progress"] > 0:
            return
        time.sleep(0.02)
    raise AssertionError(f"job {path} built no model")


def delete(server: OrthancServer, path: str) -> None:
    response = server.session.delete(f"{server.url}{path}", timeout=60)
    assert response.ok, response.text


def model_series(server: OrthancServer, study_id: str) -> list[str]:
    """The Encapsulated STL (M3D) series of a study."""
    return [
        series["ID"]
        for series in server.get(f"/studies/{study_id}/series").json()
        if series["MainDicomTags"].get("Modality") == "M3D"
    ]


@pytest.mark.parametrize("deleted", ["CT series", "SEG"])
def test_a_source_deleted_while_a_models_job_runs(
    server: OrthancServer, demo_study: DemoStudy, many_segments: Dataset, deleted: str
) -> None:
    image_ids = [server.upload(encode(image)) for image in demo_study.images]
    seg_id = server.upload(encode(many_segments))
    ct_series = server.get(f"/instances/{image_ids[0]}").json()["ParentSeries"]
    study_id = server.get(f"/series/{ct_series}").json()["ParentStudy"]
    assert model_series(server, study_id) == []
    response = server.post(f"/instances/{seg_id}/segmesh/stl", json=SLOW)
    assert response.status_code == 202, response.text
    path = response.json()["Path"]
    # Once models come back the job has read its sources: the deletion lands mid-job (before
    # that, a SEG whose CT is already gone would be meshed on its own grid, rightly).
    meshing(server, path)
    delete(server, f"/series/{ct_series}" if deleted == "CT series" else f"/instances/{seg_id}")
    record = wait(server, path)
    assert record["State"] == "Failure", f"the job ended {record['State']}: {record['Seen']}"
    error = record["Error"]
    assert set(error) == {"Error", "Details", "HttpStatus"}
    # The sources were read before the deletion: 410 Gone (404 is for sources gone at reading).
    assert error["HttpStatus"] == 410, error
    assert error["Error"] == "Source deleted"
    assert (ct_series if deleted == "CT series" else seg_id) in error["Details"]
    assert error["Details"].endswith("; nothing is stored for it")
    assert "Result" not in record
    # Nothing of the job stays: no model series in the study, which still holds the other.
    assert model_series(server, study_id) == []
    survivor = seg_id if deleted == "CT series" else ct_series
    assert server.get(f"/{'instances' if survivor == seg_id else 'series'}/{survivor}").ok
    # Asked again now, the request answers at once, cleanly: 404, or 422 without the CT.
    if deleted == "SEG":
        again = server.post(f"/instances/{seg_id}/segmesh/stl", json={"Segments": [1]})
        assert again.status_code == 404, again.text
        assert again.json() == {"Error": "Unknown instance", "Details": seg_id}
    else:
        again = server.get(f"/instances/{seg_id}/segmesh/labelmap?grid=source")
        assert again.status_code == 422, again.text
        assert again.json()["Error"] == "Referenced series not stored"


def overlay_alpha(server: OrthancServer, source_id: str, image_id: str) -> np.ndarray:
    response = server.get(f"/instances/{source_id}/segmesh/overlay/{image_id}.png")
    assert response.status_code == 200, response.text
    return np.asarray(Image.open(BytesIO(response.content)))[..., 3]


def npz_labels(server: OrthancServer, source_id: str) -> np.ndarray:
    response = server.get(f"/instances/{source_id}/segmesh/labelmap?format=npz")
    assert response.status_code == 200, response.text
    with np.load(BytesIO(response.content)) as archive:
        return archive["labels"]


def cached_label_maps(server: OrthancServer, instance_id: str) -> int:
    status = server.get(f"/instances/{instance_id}/segmesh/status")
    assert status.status_code == 200, status.text
    return int(status.json()["CachedLabelMaps"])


def test_a_deleted_seg_is_404_and_leaves_the_cache(
    server: OrthancServer, demo_study: DemoStudy
) -> None:
    upload_demo(server, demo_study)
    image_id = server.upload(encode(demo_study.images[20]))  # the liver is on it
    seg = deepcopy(demo_study.seg)
    seg.SOPInstanceUID = seg.file_meta.MediaStorageSOPInstanceUID = UID(
        "1.2.826.0.1.3680043.8.498.4101"
    )
    seg.SeriesInstanceUID = UID("1.2.826.0.1.3680043.8.498.4102")
    seg_id = server.upload(encode(seg))
    assert cached_label_maps(server, seg_id) == 0
    assert overlay_alpha(server, seg_id, image_id).any()
    assert cached_label_maps(server, seg_id) == 1
    assert npz_labels(server, seg_id).any()

    delete(server, f"/instances/{seg_id}")
    # (Not the overlay route here: finding its source gone, it empties the cache itself.)
    for route in ("labelmap?format=npz", "segments", "status"):
        response = server.get(f"/instances/{seg_id}/segmesh/{route}")
        assert response.status_code == 404, f"{route}: {response.text}"
        assert response.json()["Details"] == seg_id
    # The same UIDs again, every segment emptied: Orthanc gives the instance the same id, and
    # the cache must not answer with the deleted file's label map.
    seg.PixelData = bytes(len(seg.PixelData))
    assert server.upload(encode(seg)) == seg_id
    # The 404 answers above found the instance gone and dropped its entries (segmesh hears of
    # no DELETED change: see segmesh.service.lifecycle).
    assert cached_label_maps(server, seg_id) == 0
    assert not overlay_alpha(server, seg_id, image_id).any()
    assert cached_label_maps(server, seg_id) == 1
    # Nor a file written from the deleted one's label map.
    assert not npz_labels(server, seg_id).any()


def test_a_seg_deleted_while_its_automatic_run_waits_leaves_the_run(
    tmp_path: Path, demo_study: DemoStudy
) -> None:
    server = auto_server(tmp_path)
    server.start()
    try:
        # Deleted at once (before, while or after its run is claimed), then once waiting.
        for number in range(1, 6):
            seg = deepcopy(demo_study.seg)
            seg.SOPInstanceUID = UID(f"1.2.826.0.1.3680043.8.498.4110.{number}")
            seg.file_meta.MediaStorageSOPInstanceUID = seg.SOPInstanceUID
            delete(server, f"/instances/{server.upload(encode(seg))}")
        seg_id = server.upload(encode(demo_study.seg))
        wait_for_run(server, seg_id, ("Waiting",))  # for its CT
        delete(server, f"/instances/{seg_id}")
        image_ids = [server.upload(encode(image)) for image in demo_study.images]
        study_id = server.get(f"/instances/{image_ids[0]}/study").json()["ID"]
        # StableAge is 1 s and the runs poll every second: by now the run would have started.
        time.sleep(4)
        assert model_series(server, study_id) == []
        assert server.get("/segmesh/jobs").json() == []
    finally:
        server.stop()
    assert "did not answer" not in server.log()
    assert "Traceback" not in server.log()
