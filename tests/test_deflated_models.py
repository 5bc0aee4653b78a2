"""Models above ``DeflateModelsAboveMegabytes`` stored deflated, in a real Orthanc: Orthanc
keeps them so, and every route (segmesh's and Orthanc's own) reads the same models."""

from __future__ import annotations

import io
from pathlib import Path

from pydicom import dcmread
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian

from segmesh.demo import DemoStudy
from segmesh.formats import read_binary_stl
from segmesh.models import stl_document
from tests.dciodvfy import dciodvfy_errors
from tests.orthanc_server import OrthancServer
from tests.test_jobs import upload_demo


def transfer_syntax(server: OrthancServer, instance_id: str) -> str:
    return server.get(f"/instances/{instance_id}/metadata/TransferSyntax").text


def test_every_model_deflated_where_the_size_is_0(
    tmp_path: Path, demo_study: DemoStudy, orthanc: OrthancServer, demo_ids: dict[str, str]
) -> None:
    # The session's Orthanc (default 256 MB): its small models are plain.
    plain = orthanc.post(f"/instances/{demo_ids['SEG']}/segmesh/stl", json={}).json()
    plain_ids = {item["Label"]: item["ID"] for item in plain["Instances"]}
    assert {transfer_syntax(orthanc, i) for i in plain_ids.values()} == {ExplicitVRLittleEndian}

    server = OrthancServer(tmp_path, {"SegMesh": {"DeflateModelsAboveMegabytes": 0}})
    server.start()
    try:
        seg_id = upload_demo(server, demo_study)
        answer = server.post(f"/instances/{seg_id}/segmesh/stl", json={})
        assert answer.status_code == 200, answer.text
        models = {item["Label"]: item for item in answer.json()["Instances"]}
        assert set(models) == set(plain_ids)
        series = server.get(f"/instances/{seg_id}/segmesh/segments").json()["ReferencedSeries"]
        threshold = server.post(f"/series/{series[0]}/segmesh/stl", json={"Threshold": 100})
        assert threshold.status_code == 200, threshold.text
        for label, item in [*models.items(), ("threshold", threshold.json()["Instances"][0])]:
            model_id = item["ID"]
            assert transfer_syntax(server, model_id) == DeflatedExplicitVRLittleEndian, label
            data = server.get(f"/instances/{model_id}/file").content
            assert dciodvfy_errors(data) == [], label
            dataset = dcmread(io.BytesIO(data))
            document = stl_document(dataset)
            # segmesh's model route and Orthanc's own content route read the same STL.
            assert server.get(f"/instances/{model_id}/segmesh/model").content == document
            content = server.get(f"/instances/{model_id}/content/0042-0011").content
            assert content[: len(document)] == document
            mesh = read_binary_stl(document)
            assert mesh.triangle_count == item["Triangles"], label
            report = server.get(f"/instances/{model_id}/segmesh/printability").json()
            assert report["Source"] == "model"
            assert (report["Closed"], report["Manifold"]) == (True, True), label
            if label == "threshold":
                continue
            # The same model as the plain one of the session's Orthanc, smaller.
            plain_data = orthanc.get(f"/instances/{plain_ids[label]}/file").content
            plain_dataset = dcmread(io.BytesIO(plain_data))
            assert stl_document(plain_dataset) == document, label
            assert dataset.SOPInstanceUID == plain_dataset.SOPInstanceUID
            assert len(data) < len(plain_data)
    finally:
        server.stop()
    assert "Traceback" not in server.log()
