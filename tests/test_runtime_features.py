"""What the new Orthanc offers, used where it is there: the viewer as the plugin's root URI,
Prometheus metrics, and audit log entries when patient data leaves (Orthanc 1.12.9 and
orthanc-python 6.0 on). Each in a real Orthanc, on the version that has it."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from segmesh.demo import DemoStudy
from tests.conftest import encode
from tests.orthanc_server import OrthancServer
from tests.test_jobs import upload_demo, wait
from tests.test_seg_roundtrip import ct_series, make_seg

RECORDER = Path(__file__).parent / "plugins" / "audit_recorder.c"
SDK_HEADER = Path("/usr/include/orthanc/OrthancCPlugin.h")
USER = ("auditor", "pw")


def metrics(server: OrthancServer) -> dict[str, float]:
    """segmesh's values among Orthanc's Prometheus metrics."""
    text = server.get("/tools/metrics-prometheus").text
    return {
        name: float(value)
        for name, value in re.findall(r"^(segmesh_\w+) (\S+)", text, flags=re.MULTILINE)
    }


def wait_for_metrics(server: OrthancServer, wanted: dict[str, float]) -> dict[str, float]:
    """The metrics once each of ``wanted`` reads at least its value (gauges: exactly)."""
    deadline = time.monotonic() + 30
    seen = metrics(server)
    while time.monotonic() < deadline:
        seen = metrics(server)
        if all(
            name in seen and (seen[name] == value if value == 0 else seen[name] >= value)
            for name, value in wanted.items()
        ):
            return seen
        time.sleep(0.2)
    raise AssertionError(f"metrics {seen} never reached {wanted}")


def test_the_viewer_is_the_plugins_root_uri(orthanc: OrthancServer) -> None:
    root = orthanc.get("/plugins/python").json()["RootUri"]
    assert root.endswith("segmesh/app/viewer.html"), root
    assert orthanc.get(f"/{root.lstrip('./')}").headers["Content-Type"].startswith("text/html")


def test_jobs_workers_cache_and_times_are_prometheus_metrics(
    tmp_path: Path, demo_study: DemoStudy
) -> None:
    server = OrthancServer(tmp_path, {"SegMesh": {"Workers": 1}})
    server.start()
    try:
        seg_id = upload_demo(server, demo_study)
        # Idle once the workers have started (their start is a call each).
        idle = wait_for_metrics(
            server,
            {
                "segmesh_jobs_pending": 0,
                "segmesh_jobs_running": 0,
                "segmesh_workers_busy": 0,
                "segmesh_cache_bytes": 0,
            },
        )
        assert "segmesh_decode_seconds_total" not in idle
        # A job: the times it took and the label map it left in the cache.
        path = server.post(f"/instances/{seg_id}/segmesh/stl", json={"Asynchronous": True})
        assert wait(server, path.json()["Path"])["State"] == "Success"
        done = wait_for_metrics(
            server,
            {
                "segmesh_jobs_running": 0,
                "segmesh_workers_busy": 0,
                "segmesh_decode_seconds_total": 1e-6,
                "segmesh_mesh_seconds_total": 1e-6,
                "segmesh_models_waiting_seconds_total": 1e-6,
                "segmesh_models_storing_seconds_total": 1e-6,
                "segmesh_models_reports_seconds_total": 1e-6,
                "segmesh_cache_bytes": 1,
            },
        )
        assert done.get("segmesh_jobs_failed_total", 0) == 0
        # A job whose SEG turns out broken when it is decoded fails: counted.
        images = ct_series()
        seg, _ = make_seg(images)
        seg.PixelData = seg.PixelData[: len(seg.PixelData) // 2]
        broken = server.upload(encode(seg))
        path = server.post(f"/instances/{broken}/segmesh/stl", json={"Asynchronous": True})
        assert wait(server, path.json()["Path"])["State"] == "Failure"
        wait_for_metrics(server, {"segmesh_jobs_failed_total": 1, "segmesh_jobs_running": 0})
    finally:
        server.stop()
    assert "Traceback" not in server.log()


def has_audit_logs(orthanc: OrthancServer) -> bool:
    """orthanc-python 6.0 wraps EmitAuditLog (Orthanc 1.12.9's SDK)."""
    version = orthanc.get("/plugins/python").json()["Version"]
    return tuple(int(part) for part in version.split(".")[:2]) >= (6, 0)


def audit_recorder(work_dir: Path) -> Path:
    """tests/plugins/audit_recorder.c built against this Orthanc's SDK."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None or not SDK_HEADER.exists():
        pytest.fail("the audit test needs a C compiler and orthanc-dev (make test installs them)")
    library = work_dir / "libAuditRecorder.so"
    subprocess.run([compiler, "-shared", "-fPIC", "-o", library, RECORDER], check=True)
    return library


def test_patient_data_leaving_is_in_the_audit_log(
    orthanc: OrthancServer, tmp_path: Path, demo_study: DemoStudy
) -> None:
    if not has_audit_logs(orthanc):
        pytest.skip("no audit logs before Orthanc 1.12.9 and orthanc-python 6.0")
    records = tmp_path / "audit.tsv"
    server = OrthancServer(
        tmp_path,
        {"AuthenticationEnabled": True, "RegisteredUsers": {USER[0]: USER[1]}},
        extra_plugins=[audit_recorder(tmp_path)],
        environment={"SEGMESH_AUDIT_FILE": str(records)},
    )
    server.session.auth = USER
    server.start()
    try:
        seg_id = upload_demo(server, demo_study)
        model = server.post(f"/instances/{seg_id}/segmesh/stl", json={"Segments": [1]})
        model_id = model.json()["Instances"][0]["ID"]
        leaving = {
            f"/instances/{seg_id}/segmesh/labelmap?format=npz": "segmesh-labelmap",
            f"/instances/{seg_id}/segmesh/statistics": "segmesh-statistics",
            f"/instances/{seg_id}/segmesh/volume/labels.npy": "segmesh-volume",
            f"/instances/{seg_id}/segmesh/volume/image.npy": "segmesh-volume",
            f"/instances/{seg_id}/segmesh/stl?segment=1": "segmesh-model",
            f"/instances/{model_id}/segmesh/model": "segmesh-model",
        }
        for path in leaving:
            assert server.get(path).status_code == 200, path
        # Neither a description nor a failed request is patient data leaving.
        assert server.get(f"/instances/{seg_id}/segmesh/segments").ok
        assert server.get(f"/instances/{seg_id}/segmesh/stl?segment=99").status_code == 400
        # A training dataset's download: an entry for the study of each case.
        job = server.post("/segmesh/datasets", json={"Resources": [seg_id]}).json()["Path"]
        assert wait(server, job)["State"] == "Success"
        assert server.get(f"{job}/output").status_code == 200
        study_id = server.get(f"/instances/{seg_id}/study").json()["ID"]
        lines = [line.split("\t") for line in records.read_text().splitlines()]
    finally:
        server.stop()
    dataset = [line for line in lines if line[0] == "segmesh" and line[4] == "segmesh-dataset"]
    # OrthancPluginResourceType_Study
    assert [(line[1], line[2], line[3]) for line in dataset] == [(USER[0], "1", study_id)]
    ours = [line for line in lines if line[0] == "segmesh" and line[4] != "segmesh-dataset"]
    assert [line[4] for line in ours] == list(leaving.values())
    for line, path in zip(ours, leaving, strict=True):
        _, user, resource_type, resource, _, data = line
        assert user == USER[0]
        assert resource_type == "3"  # OrthancPluginResourceType_Instance
        assert resource == path.split("/")[2]
        assert f'"Uri": "{path.split("?")[0]}"' in data
