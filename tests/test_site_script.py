"""segmesh loaded from a site's own PythonScript (``orthanc-config/site_script.py``) in a real
Orthanc: the site's change callback, route and Explorer extension work, and segmesh's routes,
automatic models (made once) and buttons work beside them."""

from __future__ import annotations

import time
from pathlib import Path

from segmesh.demo import DemoStudy
from tests.conftest import encode
from tests.orthanc_server import ROOT, OrthancServer
from tests.test_automatic import wait_for_run


def wait_until_stable(server: OrthancServer, instance_id: str) -> dict[str, int]:
    """What the site's callbacks saw, once the instance's study is stable and that change has
    reached them. Stopping Orthanc 1.13 while a change is still to come crashes orthanc-python
    7.1 as Orthanc exits, whatever the change callback does (see segmesh.service.lifecycle):
    the site's own change callback is exposed to that, segmesh is not."""
    study = server.get(f"/instances/{instance_id}/study").json()["ID"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        seen: dict[str, int] = server.get("/site/changes").json()
        if server.get(f"/studies/{study}").json()["IsStable"] and seen["StableStudy"]:
            return seen
        time.sleep(0.2)
    raise AssertionError(f"the study did not become stable: {seen}")


def test_a_site_script_keeps_its_callbacks_and_segmesh_works_beside_them(
    tmp_path: Path, demo_study: DemoStudy
) -> None:
    server = OrthancServer(
        tmp_path,
        {
            "PythonScript": str(ROOT / "orthanc-config" / "site_script.py"),
            "StableAge": 1,
            "SegMesh": {"AutoGenerate": {"Stl": {"Iterations": 5}}, "Workers": 1},
        },
        environment={"SEGMESH_PLUGIN_DIR": str(ROOT / "plugin")},
    )
    server.start()
    try:
        image_ids = [server.upload(encode(image)) for image in demo_study.images]
        seg_id = server.upload(encode(demo_study.seg))
        status = wait_for_run(server, seg_id, ("Success", "Failure"))
        assert status["Automatic"][0]["State"] == "Success", status
        assert len(status["Jobs"]) == 1
        models = status["Jobs"][0]["Result"]
        assert len(models["Instances"]) == len(demo_study.seg.SegmentSequence)

        # The site's callbacks saw every instance: the CT, the SEG and segmesh's models.
        stored = len(image_ids) + 1 + len(models["Instances"])
        seen = wait_until_stable(server, seg_id)
        assert seen["NewInstance"] == seen["Stored"] == stored, seen
        assert seen["StableStudy"] >= 1, seen
        # The viewer is the plugin's root URI, where Orthanc Explorer 2 links to it.
        assert server.get("/plugins/python").json()["RootUri"].endswith("segmesh/app/viewer.html")

        # segmesh's routes answer as from its own script.
        segments = server.get(f"/instances/{seg_id}/segmesh/segments").json()
        assert len(segments["Segments"]) == len(demo_study.seg.SegmentSequence)
        # Both extensions of Orthanc Explorer are there, the site's first.
        explorer = server.get("/plugins/explorer.js").text
        assert "/* the site's own extension */" in explorer
        assert explorer.index("the site's own extension") < explorer.index("segmesh")

        # A restart: the run is done and nothing runs again.
        server.stop()
        server.start()
        time.sleep(3)
        again = server.get(f"/instances/{seg_id}/segmesh/status").json()
        assert len(again["Jobs"]) == 1
        series = server.get(f"/series/{models['Series']}").json()
        assert len(series["Instances"]) == len(demo_study.seg.SegmentSequence)
    finally:
        server.stop()
    assert "Traceback" not in server.log()
