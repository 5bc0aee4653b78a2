"""Orthanc settings whose meaning changed in 1.13 (its NEWS), in a real Orthanc of each
version: ``OverwriteInstances`` (a Boolean, now also "Never", "Always" or "IfChanged") and
``IngestTranscoding`` (1.13 no longer transcodes files without pixel data, such as segmesh's
models and RT-STRUCTs; it still transcodes its SEGs)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread

from segmesh.demo import DemoStudy
from segmesh.formats import read_binary_stl
from tests.orthanc_server import OrthancServer
from tests.test_jobs import upload_demo

JPEG_LOSSLESS = "1.2.840.10008.1.2.4.70"


@pytest.mark.parametrize("overwrite", [True, "IfChanged"])
def test_an_orthanc_that_overwrites_keeps_the_first_requests_models(
    tmp_path: Path, demo_study: DemoStudy, orthanc: OrthancServer, overwrite: bool | str
) -> None:
    version = orthanc.get("/system").json()["Version"]
    if isinstance(overwrite, str) and tuple(map(int, version.split(".")[:2])) < (1, 13):
        pytest.skip(f"Orthanc {version} reads OverwriteInstances as a Boolean only")
    # segmesh's outputs carry their creation time: "IfChanged" would replace them each time.
    server = OrthancServer(tmp_path, {"OverwriteInstances": overwrite})
    server.start()
    try:
        seg_id = upload_demo(server, demo_study)
        first = server.post(f"/instances/{seg_id}/segmesh/stl", json={}).json()["Instances"]
        files = {i["ID"]: server.get(f"/instances/{i['ID']}/file").content for i in first}
        again = server.post(f"/instances/{seg_id}/segmesh/stl", json={})
        assert again.status_code == 200, again.text
        assert [i["ID"] for i in again.json()["Instances"]] == list(files)
        assert {i["Status"] for i in again.json()["Instances"]} == {"AlreadyStored"}
        # Not replaced: the files are the first request's, creation times and all.
        for instance_id, data in files.items():
            assert server.get(f"/instances/{instance_id}/file").content == data
    finally:
        server.stop()
    assert "Traceback" not in server.log()


def test_outputs_read_back_where_orthanc_transcodes_what_it_receives(
    tmp_path: Path, demo_study: DemoStudy
) -> None:
    server = OrthancServer(tmp_path, {"IngestTranscoding": JPEG_LOSSLESS})
    server.start()
    try:
        seg_id = upload_demo(server, demo_study)
        source = np.load(
            io.BytesIO(server.get(f"/instances/{seg_id}/segmesh/labelmap?format=npz").content)
        )
        # A LABELMAP SEG segmesh writes, transcoded by Orthanc 1.13 (not by 1.10), reads back
        # the same.
        converted = server.post(f"/instances/{seg_id}/segmesh/convert", json={"To": "LABELMAP"})
        assert converted.status_code == 200, converted.text
        output_id = converted.json()["Instances"][0]["ID"]
        stored = dcmread(io.BytesIO(server.get(f"/instances/{output_id}/file").content))
        version = server.get("/system").json()["Version"]
        if tuple(map(int, version.split(".")[:2])) >= (1, 13):
            assert stored.file_meta.TransferSyntaxUID == JPEG_LOSSLESS
        again = np.load(
            io.BytesIO(server.get(f"/instances/{output_id}/segmesh/labelmap?format=npz").content)
        )
        np.testing.assert_array_equal(
            again["labels"].max(axis=0) > 0, source["labels"].max(axis=0) > 0
        )
        # A model (no pixel data) reads back as the mesh it was made as.
        model = server.post(f"/instances/{seg_id}/segmesh/stl", json={"Segments": [1]})
        model_id = model.json()["Instances"][0]["ID"]
        mesh = read_binary_stl(server.get(f"/instances/{model_id}/segmesh/model").content)
        assert len(mesh.faces) == model.json()["Instances"][0]["Triangles"]
    finally:
        server.stop()
    assert "Traceback" not in server.log()
