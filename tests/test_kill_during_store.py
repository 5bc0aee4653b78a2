"""Orthanc killed with SIGKILL while it stores 100 models: after a restart every stored model
reads back whole, no worker process outlives Orthanc, and repeating the request completes the
series with exactly one instance per segment."""

from __future__ import annotations

import threading
import time
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from pydicom import dcmread

from tests import builders
from tests.conftest import encode
from tests.orthanc_server import OrthancServer
from tests.test_jobs import wait

SEGMENTS = 100
SHAPE = (40, 64, 64)  # slices, rows, columns: small, so that 100 models build in seconds
SPACING = (1.0, 1.0, 2.0)  # column, row, slice (mm)
ORIGIN = (-32.0, -32.0, -40.0)
#: Every request sends the same parameters: they are part of the models' UIDs.
BODY = {"Iterations": 5}
ENCAPSULATED_STL = "1.2.840.10008.5.1.4.1.1.104.3"


def upload_study(server: OrthancServer) -> tuple[str, str]:
    """A CT and a 100-segment SEG of ellipsoids stored; (SEG id, study id)."""
    images, seg, labels = builders.lattice_seg_study(SHAPE, SPACING, ORIGIN, SEGMENTS, seed=12)
    assert len(np.unique(labels)) == SEGMENTS + 1  # every segment has voxels
    for image in images:
        server.upload(encode(image))
    seg_id = server.upload(encode(seg))
    return seg_id, server.get(f"/instances/{seg_id}/study").json()["ID"]


def model_instances(server: OrthancServer, study_id: str) -> dict[str, list[str]]:
    """The instance ids of each series of Encapsulated STL models of the study."""
    series: dict[str, list[str]] = {}
    for item in server.get(f"/studies/{study_id}/series").json():
        if item["MainDicomTags"].get("Modality") == "M3D":
            series[item["ID"]] = list(item["Instances"])
    return series


def kill_while_storing(server: OrthancServer, study_id: str) -> tuple[int, list[int]]:
    """SIGKILL Orthanc as soon as some of the models are stored; the count it had stored at
    least, and the pids of its worker processes (and resource tracker) then."""
    assert server.process is not None
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        stored = sum(len(ids) for ids in model_instances(server, study_id).values())
        if stored:
            children = [pid for pid in server.process_ids() if pid != server.process.pid]
            server.kill()
            return stored, children
    raise AssertionError("no model was stored")


def running(pid: int) -> bool:
    """Whether the process runs (a zombie, ended but not yet reaped by init, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def check_model(server: OrthancServer, instance_id: str) -> tuple[str, int, int, float]:
    """A stored model read back whole: (SOP Instance UID, segment number, triangles, volume
    mm^3)."""
    dataset = dcmread(BytesIO(server.get(f"/instances/{instance_id}/file").content))
    assert dataset.SOPClassUID == ENCAPSULATED_STL
    document = bytes(dataset.EncapsulatedDocument)[: int(dataset.EncapsulatedDocumentLength)]
    count = int(np.frombuffer(document, "<u4", 1, 80)[0])
    assert count > 0
    assert len(document) == 84 + 50 * count, "truncated or padded STL"
    triangles = np.frombuffer(
        document, np.dtype([("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")]), count, 84
    )
    vertices = triangles["v"].astype(np.float64)
    assert np.isfinite(vertices).all()
    low, high = np.array(ORIGIN) - 1, np.array(ORIGIN) + np.array(SHAPE[::-1]) * SPACING + 1
    assert (vertices >= low).all(), "outside the CT"
    assert (vertices <= high).all(), "outside the CT"
    # A closed surface: the divergence theorem gives its enclosed volume.
    a, b, c = vertices[:, 0], vertices[:, 1], vertices[:, 2]
    volume = float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)
    segment = int(dataset.ContentDescription.rsplit(" ", 1)[1])
    return str(dataset.SOPInstanceUID), segment, count, volume


def check_series(
    server: OrthancServer, instance_ids: list[str]
) -> dict[str, tuple[int, int, float]]:
    """Every model of the series read back: by SOP Instance UID, (segment, triangles, volume
    mm^3)."""
    models = {}
    for instance_id in instance_ids:
        uid, segment, triangles, volume = check_model(server, instance_id)
        assert uid not in models
        models[uid] = (segment, triangles, volume)
    return models


@pytest.mark.parametrize("asynchronous", [False, True], ids=["request", "job"])
def test_orthanc_killed_while_storing_models(tmp_path: Path, asynchronous: bool) -> None:
    server = OrthancServer(tmp_path, {"SegMesh": {"Workers": 2}})
    server.start()
    try:
        seg_id, study_id = upload_study(server)
        path = f"/instances/{seg_id}/segmesh/stl"
        job_path = ""
        interrupted: list[Any] = []
        if asynchronous:
            answer = server.post(path, json={**BODY, "Asynchronous": True})
            assert answer.status_code == 202, answer.text
            job_path = answer.json()["Path"]
        else:

            def request() -> None:
                try:
                    interrupted.append(server.post(path, json=BODY))
                except requests.ConnectionError as error:
                    interrupted.append(error)

            thread = threading.Thread(target=request)
            thread.start()
        at_least, children = kill_while_storing(server, study_id)
        if not asynchronous:
            thread.join(30)
            assert isinstance(interrupted[0], requests.ConnectionError), interrupted
        assert children, "the worker processes had started"
        # Workers notice that Orthanc is gone and end: none is left an orphan.
        deadline = time.monotonic() + 15
        while (alive := [pid for pid in children if running(pid)]) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.1)
        assert not alive, f"processes outlived Orthanc: {alive}"

        server.start()
        series = model_instances(server, study_id)
        assert len(series) == 1
        ((series_id, before),) = series.items()
        stored = check_series(server, before)
        if not asynchronous:
            # Nothing runs again: what is stored is what the request had stored when killed.
            assert at_least <= len(stored) < SEGMENTS
        else:
            # The job that was running is run again at the start, and completes the series.
            record = wait(server, job_path)
            assert record["State"] == "Success", record
            statuses = [item["Status"] for item in record["Result"]["Instances"]]
            assert at_least <= statuses.count("AlreadyStored") < SEGMENTS
            assert statuses.count("Success") == SEGMENTS - statuses.count("AlreadyStored")

        repeat = server.post(path, json=BODY)
        assert repeat.status_code == 200, repeat.text
        answer = repeat.json()
        assert answer["Series"] == series_id
        assert [item["Segment"] for item in answer["Instances"]] == list(range(1, SEGMENTS + 1))
        statuses = [item["Status"] for item in answer["Instances"]]
        expected_new = 0 if asynchronous else SEGMENTS - len(stored)
        assert statuses.count("Success") == expected_new
        assert statuses.count("AlreadyStored") == SEGMENTS - expected_new
        # Exactly one instance per segment, in one series; the partial ones kept as they were.
        assert list(model_instances(server, study_id)) == [series_id]
        after = check_series(server, server.get(f"/series/{series_id}").json()["Instances"])
        assert len(after) == SEGMENTS
        assert sorted(model[0] for model in after.values()) == list(range(1, SEGMENTS + 1))
        assert all(after[uid] == model for uid, model in stored.items())
        for item in answer["Instances"]:
            uid = server.get(f"/instances/{item['ID']}").json()["MainDicomTags"]["SOPInstanceUID"]
            segment, triangles, volume = after[uid]
            assert (segment, triangles) == (item["Segment"], item["Triangles"])
            assert volume == pytest.approx(item["VolumeMl"] * 1000, abs=1.5)
    finally:
        server.stop()
    assert "Traceback" not in server.log()
