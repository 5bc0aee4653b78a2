"""The label-map attachment (``AutoGenerate.LabelMap``) in a real Orthanc: made once the CT is
stored, reused after a restart by the labelmap and overlay routes (same voxels, same PNG),
ignored when made for another key (another version, another threshold of a FRACTIONAL SEG)
or broken, and deleted with its source."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from segmesh.demo import DemoStudy
from segmesh.formats.labelmap_file import MAGIC, read_header
from tests import builders
from tests.conftest import encode
from tests.orthanc_server import OrthancServer

ORIGIN = "X-SegMesh-LabelMap-Origin"
ATTACHMENT = 4603


def auto_server(work_dir: Path) -> OrthancServer:
    return OrthancServer(
        work_dir,
        {"StableAge": 1, "SegMesh": {"AutoGenerate": {"LabelMap": True}, "Workers": 1}},
    )


def wait_for_attachment(server: OrthancServer, source_id: str) -> dict[str, Any]:
    """The source's status once its automatic label-map run has ended."""
    deadline = time.monotonic() + 120
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = server.get(f"/instances/{source_id}/segmesh/status").json()
        runs = status["Automatic"]
        if runs and runs[0]["State"] in ("Success", "Failure"):
            return status
        time.sleep(0.2)
    raise AssertionError(f"the label-map run did not end: {status}")


def labels(server: OrthancServer, source_id: str, query: str = "") -> tuple[Any, str]:
    """The npz label map and where the route says it came from."""
    response = server.get(f"/instances/{source_id}/segmesh/labelmap?format=npz{query}")
    assert response.status_code == 200, response.text
    return np.load(io.BytesIO(response.content)), response.headers[ORIGIN]


def overlay(server: OrthancServer, source_id: str, image_id: str) -> tuple[bytes, str]:
    response = server.get(f"/instances/{source_id}/segmesh/overlay/{image_id}.png")
    assert response.status_code == 200, response.text
    return response.content, response.headers[ORIGIN]


def restart(server: OrthancServer) -> None:
    server.stop()
    server.start()


@pytest.fixture
def stored_demo(tmp_path: Path, demo_study: DemoStudy) -> Any:
    """An Orthanc with AutoGenerate LabelMap, the demo CT and SEG stored and the SEG's
    attachment made; yields (server, SEG id, CT image ids in slice order)."""
    server = auto_server(tmp_path)
    server.start()
    try:
        image_ids = [server.upload(encode(image)) for image in demo_study.images]
        seg_id = server.upload(encode(demo_study.seg))
        yield server, seg_id, image_ids
    finally:
        server.stop()
    assert "Traceback" not in server.log()


def test_the_attachment_is_made_once_and_reused_after_a_restart(
    stored_demo: Any, demo_study: DemoStudy
) -> None:
    server, seg_id, image_ids = stored_demo
    status = wait_for_attachment(server, seg_id)
    run = status["Automatic"][0]
    assert run["State"] == "Success", status
    assert run["Kind"] == "InstanceLabelMap"
    result = status["Jobs"][0]["Result"]
    assert result["Status"] == "Success"
    assert result["Segments"] == len(demo_study.seg.SegmentSequence)
    attached = status["LabelMap"]
    assert attached["ContentType"] == ATTACHMENT
    assert attached["Current"] is True
    assert attached["Key"] == result["Key"]
    assert attached["Key"]["Grid"] == "source"
    assert attached["Key"]["Threshold"] == 0.5
    # Far smaller than the label map itself: runs, compressed.
    assert attached["Bytes"] == result["Bytes"] < np.prod(demo_study.geometry.shape) / 10
    before, _ = labels(server, seg_id)
    middle = image_ids[len(image_ids) // 2]
    png_before, _ = overlay(server, seg_id, middle)

    # After a restart no process holds it: the routes read the attachment, never the SEG.
    restart(server)
    after, origin = labels(server, seg_id)
    assert origin == "attachment"
    np.testing.assert_array_equal(after["labels"], before["labels"])
    np.testing.assert_allclose(after["affine"], demo_study.geometry.affine)
    assert json.loads(str(after["segments"])) == json.loads(str(before["segments"]))
    for number, mask in demo_study.masks.items():
        np.testing.assert_array_equal(after["labels"][0] == number, mask)
    png, origin = overlay(server, seg_id, middle)
    assert (png, origin) == (png_before, "cache")
    restart(server)
    png, origin = overlay(server, seg_id, middle)
    assert (png, origin) == (png_before, "attachment")
    # Asked otherwise (a subset of segments), the route decodes, and the attachment stays.
    one, origin = labels(server, seg_id, "&segments=1")
    assert origin == "decoded"
    np.testing.assert_array_equal(one["labels"][0] == 1, demo_study.masks[1])
    # Another restart runs nothing again; deleting the SEG deletes its attachment.
    restart(server)
    time.sleep(2)
    assert len(server.get(f"/instances/{seg_id}/segmesh/status").json()["Jobs"]) == 1
    assert server.get(f"/instances/{seg_id}/attachments/{ATTACHMENT}/data").status_code == 200
    assert server.session.delete(f"{server.url}/instances/{seg_id}").status_code == 200
    assert server.get(f"/instances/{seg_id}/attachments/{ATTACHMENT}/data").status_code == 404
    assert server.get(f"/instances/{seg_id}/segmesh/labelmap").status_code == 404


def replace_attachment(server: OrthancServer, source_id: str, data: bytes) -> None:
    path = f"{server.url}/instances/{source_id}/attachments/{ATTACHMENT}"
    etag = server.get(f"/instances/{source_id}/attachments/{ATTACHMENT}/data").headers["ETag"]
    response = server.session.put(path, data=data, headers={"If-Match": etag}, timeout=60)
    assert response.status_code == 200, response.text


def forged(data: bytes, change: dict[str, Any]) -> bytes:
    """``data`` with its header's key changed (the layers as they were)."""
    header = read_header(data)
    offset = header.pop("Offset")
    header["Key"] = {**header["Key"], **change}
    text = json.dumps(header).encode()
    return MAGIC + len(text).to_bytes(4, "little") + text + data[offset:]


def test_an_attachment_of_another_version_or_broken_is_ignored(
    stored_demo: Any, demo_study: DemoStudy
) -> None:
    server, seg_id, _ = stored_demo
    wait_for_attachment(server, seg_id)
    data = server.get(f"/instances/{seg_id}/attachments/{ATTACHMENT}/data").content
    before, _ = labels(server, seg_id)

    replace_attachment(server, seg_id, forged(data, {"Version": "0.0.0-elsewhere"}))
    status = server.get(f"/instances/{seg_id}/segmesh/status").json()["LabelMap"]
    assert status["Key"]["Version"] == "0.0.0-elsewhere"
    assert status["Current"] is False
    restart(server)
    after, origin = labels(server, seg_id)
    assert origin == "decoded"
    np.testing.assert_array_equal(after["labels"], before["labels"])
    assert "label-map attachment of" in server.log()
    assert "made for another key" in server.log()

    # Cut short: ignored with a warning, the answer decoded and right, never a 500.
    replace_attachment(server, seg_id, data[: len(data) - 100])
    status = server.get(f"/instances/{seg_id}/segmesh/status").json()["LabelMap"]
    assert "Error" in status
    assert status["Current"] is False
    restart(server)
    after, origin = labels(server, seg_id)
    assert origin == "decoded"
    np.testing.assert_array_equal(after["labels"], before["labels"])
    statistics = server.get(f"/instances/{seg_id}/segmesh/statistics")
    assert statistics.status_code == 200, statistics.text
    assert "bytes of layers" in server.log()


def test_another_threshold_of_a_fractional_seg_ignores_the_attachment(
    tmp_path: Path, demo_study: DemoStudy
) -> None:
    shape = demo_study.geometry.shape
    k, j, i = np.indices(shape)
    centre = np.array(shape) / 2
    distance = np.sqrt(((k - centre[0]) * 3) ** 2 + (j - centre[1]) ** 2 + (i - centre[2]) ** 2)
    # 0.8 in a core, 0.4 in a shell around it: threshold 0.5 keeps the core, 0.3 both.
    core, shell = distance < 8, (distance >= 8) & (distance < 14)
    fractions = np.where(core, 0.8, np.where(shell, 0.4, 0.0))[..., np.newaxis]
    seg = builders.seg(demo_study.images, fractions, ["Gradient"], "FRACTIONAL")
    seg.Manufacturer = "builders"  # builders mark SEGs as segmesh's, which no run considers
    server = auto_server(tmp_path)
    server.start()
    try:
        for image in demo_study.images:
            server.upload(encode(image))
        seg_id = server.upload(encode(seg))
        assert wait_for_attachment(server, seg_id)["LabelMap"]["Current"] is True
        restart(server)
        default, origin = labels(server, seg_id)
        assert origin == "attachment"
        np.testing.assert_array_equal(default["labels"][0] == 1, core)
        lower, origin = labels(server, seg_id, "&threshold=0.3")
        assert origin == "decoded"
        np.testing.assert_array_equal(lower["labels"][0] == 1, core | shell)
    finally:
        server.stop()
    assert "Traceback" not in server.log()
