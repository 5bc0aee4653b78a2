"""Automatic models (SegMesh.AutoGenerate) in a real Orthanc: the CT sent after the SEG, a
restart while the run waits, exactly one run, and segmesh's own outputs ignored (the run's
steps across nodes and its timeout are shown on the in-memory host: ``test_service.py``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from segmesh.demo import DemoStudy
from tests.conftest import encode
from tests.orthanc_server import OrthancServer


def auto_server(work_dir: Path, timeout: int = 120) -> OrthancServer:
    return OrthancServer(
        work_dir,
        {
            "StableAge": 1,
            "SegMesh": {
                "AutoGenerate": {"Stl": {"Iterations": 5}},
                "AutoGenerateTimeout": timeout,
                "Workers": 1,
            },
        },
    )


def wait_for_run(server: OrthancServer, instance_id: str, states: tuple[str, ...]) -> Any:
    """The instance's status once its (one) automatic run is in one of ``states``."""
    deadline = time.monotonic() + 120
    status = None
    while time.monotonic() < deadline:
        status = server.get(f"/instances/{instance_id}/segmesh/status").json()
        if status["Automatic"] and status["Automatic"][0]["State"] in states:
            return status
        time.sleep(0.2)
    raise AssertionError(f"no automatic run reached {states}: {status}")


def test_models_are_made_once_when_the_ct_comes_after_the_seg_and_a_restart(
    tmp_path: Path, demo_study: DemoStudy
) -> None:
    server = auto_server(tmp_path)
    server.start()
    try:
        seg_id = server.upload(encode(demo_study.seg))
        waiting = wait_for_run(server, seg_id, ("Waiting",))
        assert waiting["Automatic"][0]["Parameters"] == {"Iterations": 5}
        assert waiting["Jobs"] == []
        # A restart while the run waits: the claim is in the database, the run waits again.
        server.stop()
        server.start()
        for image in demo_study.images:
            server.upload(encode(image))
        status = wait_for_run(server, seg_id, ("Success", "Failure"))
        run = status["Automatic"][0]
        assert run["State"] == "Success", status
        assert len(status["Jobs"]) == 1
        assert status["Jobs"][0]["ID"] == run["Job"]
        models = status["Jobs"][0]["Result"]
        assert len(models["Instances"]) == len(demo_study.seg.SegmentSequence)
        # Another restart: the run is done, nothing runs again.
        server.stop()
        server.start()
        time.sleep(3)
        again = server.get(f"/instances/{seg_id}/segmesh/status").json()
        assert len(again["Jobs"]) == 1
        series = server.get(f"/series/{models['Series']}").json()
        assert len(series["Instances"]) == len(demo_study.seg.SegmentSequence)
        # segmesh's own outputs (here a converted RT-STRUCT) start no automatic run.
        converted = server.post(f"/instances/{seg_id}/segmesh/convert", json={"To": "RTSTRUCT"})
        assert converted.status_code == 200, converted.text
        output_id = converted.json()["Instances"][0]["ID"]
        time.sleep(3)
        assert server.get(f"/instances/{output_id}/segmesh/status").json()["Automatic"] == []
    finally:
        server.stop()
    assert "Traceback" not in server.log()
