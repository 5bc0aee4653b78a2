"""segmesh's jobs and worker processes in a real Orthanc: states, progress, a restart during a
job, a worker killed during a job, and Workers 0 against Workers 2 (cancelling, failures and
nodes taking over are shown step by step on the in-memory host: ``test_service.py``)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from pydicom import dcmread

from segmesh.demo import DemoStudy
from segmesh.worker_io.worker_process import NICENESS
from tests.conftest import encode
from tests.orthanc_server import OrthancServer

#: Slow enough (Laplacian, 500 iterations, one worker) to be caught running: about 3 s.
SLOW = {"Asynchronous": True, "Iterations": 500, "Smoothing": "laplacian"}
FINISHED = ("Success", "Failure", "Cancelled")
#: Iterations of SLOW for each try of a test whose interruption may come after the job ended
#: (the most the route takes, MAX_ITERATIONS 500, then a new parameter set each time).
TRIES = (500, 499, 498)
#: Attributes that record when a model was made: the only ones allowed to differ between runs.
CREATION_TIME = (
    "InstanceCreationDate",
    "InstanceCreationTime",
    "AcquisitionDateTime",
    "ContentDate",
    "ContentTime",
)


def upload_demo(server: OrthancServer, demo: DemoStudy) -> str:
    """The demo CT and SEG stored; answers the SEG's id."""
    for image in demo.images:
        server.upload(encode(image))
    return server.upload(encode(demo.seg))


def wait(server: OrthancServer, path: str, until: tuple[str, ...] = FINISHED) -> dict[str, Any]:
    """Poll a job until its State is one of ``until``; the states seen are in "Seen"."""
    seen = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        record = dict(server.get(path).json())
        seen.append((record["State"], record["Progress"]))
        if record["State"] in until:
            record["Seen"] = seen
            return record
        time.sleep(0.05)
    raise AssertionError(f"job {path} stayed in {seen[-1]}")


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    """An Orthanc with one worker process, for jobs that can be caught running."""
    server = OrthancServer(tmp_path_factory.mktemp("jobs"), {"SegMesh": {"Workers": 1}})
    server.start()
    yield server
    server.stop()
    assert "Traceback" not in server.log()


def test_a_job_reports_its_states_progress_and_result(
    orthanc: OrthancServer, demo_ids: dict[str, str]
) -> None:
    response = orthanc.post(
        f"/instances/{demo_ids['SEG']}/segmesh/stl",
        json={"Asynchronous": True, "Segments": [1, 2, 3], "Iterations": 7},
    )
    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["Path"] == f"/segmesh/jobs/{answer['ID']}"
    record = wait(orthanc, answer["Path"])
    assert record["State"] == "Success", record
    assert record["Progress"] == 100
    assert [state for state, _ in record["Seen"]][-1] == "Success"
    progress = [p for _, p in record["Seen"]]
    assert progress == sorted(progress)
    assert record["Kind"] == "InstanceModels"
    assert record["Source"] == {"Level": "instances", "ID": demo_ids["SEG"]}
    assert record["Parameters"]["Segments"] == [1, 2, 3]
    assert record["CreationTime"] <= record["CompletionTime"]
    # The result is what the synchronous request answers, for the same models.
    same = orthanc.post(
        f"/instances/{demo_ids['SEG']}/segmesh/stl", json={"Segments": [1, 2, 3], "Iterations": 7}
    ).json()
    assert [i["ID"] for i in record["Result"]["Instances"]] == [i["ID"] for i in same["Instances"]]
    assert {i["Status"] for i in same["Instances"]} == {"AlreadyStored"}
    listed = [job["ID"] for job in orthanc.get("/segmesh/jobs").json()]
    assert answer["ID"] in listed


def test_a_bad_request_is_refused_before_any_job(
    orthanc: OrthancServer, demo_ids: dict[str, str]
) -> None:
    before = len(orthanc.get("/segmesh/jobs").json())
    for body in ({"Asynchronous": True, "Smoothing": "cubic"}, {"Asynchronous": "yes"}):
        response = orthanc.post(f"/instances/{demo_ids['SEG']}/segmesh/stl", json=body)
        assert response.status_code == 400, response.text
        assert set(response.json()) == {"Error", "Details"}
    assert len(orthanc.get("/segmesh/jobs").json()) == before


def test_a_failing_job_keeps_the_error_a_request_would_answer(
    orthanc: OrthancServer, demo_ids: dict[str, str]
) -> None:
    response = orthanc.post(
        f"/series/{demo_ids['CTSeries']}/segmesh/stl",
        json={"Asynchronous": True, "Threshold": 5000},
    )
    assert response.status_code == 202, response.text
    record = wait(orthanc, response.json()["Path"])
    assert record["State"] == "Failure"
    assert record["Error"]["HttpStatus"] == 422
    assert set(record["Error"]) == {"Error", "Details", "HttpStatus"}


@pytest.mark.parametrize("path", ["/segmesh/jobs/nope", "/segmesh/jobs/no-study.1234"])
def test_unknown_jobs_are_404(orthanc: OrthancServer, path: str) -> None:
    for method in ("GET", "DELETE"):
        response = orthanc.session.request(method, f"{orthanc.url}{path}", timeout=30)
        assert response.status_code == 404, response.text
        assert set(response.json()) == {"Error", "Details"}


def worker_pids(server: OrthancServer) -> list[int]:
    """The pool's worker processes (not multiprocessing's resource tracker), once started."""
    assert server.process is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        children = subprocess.run(
            ["pgrep", "-P", str(server.process.pid)], capture_output=True, text=True, check=False
        ).stdout.split()
        workers = [
            int(pid)
            for pid in children
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        if workers:
            return workers
        time.sleep(0.05)
    raise AssertionError("no worker process started")


def test_workers_start_with_orthanc_the_core_imported(tmp_path: Path) -> None:
    """Before any request: the first one need not wait seconds for them to start."""
    server = OrthancServer(tmp_path, {"SegMesh": {"Workers": 2}})
    server.start()
    try:
        deadline = time.monotonic() + 120
        ready: list[int] = []
        while len(ready) < 2 and time.monotonic() < deadline:
            # scikit-image's marching cubes is loaded by the core's meshing modules.
            ready = [
                pid
                for pid in worker_pids(server)
                if "_marching_cubes_lewiner_cy" in Path(f"/proc/{pid}/maps").read_text()
            ]
            time.sleep(0.2)
        assert len(ready) == 2
    finally:
        server.stop()


def test_a_worker_killed_during_a_job_fails_the_job_not_orthanc(
    slow_server: OrthancServer, demo_study: DemoStudy
) -> None:
    seg_id = upload_demo(slow_server, demo_study)
    # On a loaded machine the job may end before the kill lands: then again, as a new job.
    for iterations in TRIES:
        body = {**SLOW, "Iterations": iterations - 3}
        path = slow_server.post(f"/instances/{seg_id}/segmesh/stl", json=body).json()["Path"]
        wait(slow_server, path, ("Running",))
        os.kill(worker_pids(slow_server)[0], signal.SIGKILL)
        record = wait(slow_server, path)
        if record["State"] != "Success":
            break
    assert record["State"] == "Failure", record
    assert record["Error"] == {
        "Error": "Worker process died",
        "Details": "the work was stopped; repeat the request",
        "HttpStatus": 500,
    }
    assert slow_server.is_running()
    # The pool is started anew: the same request now completes.
    retry = slow_server.post(f"/instances/{seg_id}/segmesh/stl", json=body).json()["Path"]
    assert wait(slow_server, retry)["State"] == "Success"


def niceness(pid: int) -> int:
    """The nice value of a process (field 19 of /proc/{pid}/stat, after the command's ')')."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def test_workers_run_below_orthancs_priority(
    orthanc: OrthancServer, demo_ids: dict[str, str]
) -> None:
    answer = orthanc.get(f"/instances/{demo_ids['SEG']}/segmesh/stl?segment=1")
    assert answer.status_code == 200, answer.text
    assert orthanc.process is not None
    expected = min(niceness(orthanc.process.pid) + NICENESS, 19)
    assert [niceness(pid) for pid in worker_pids(orthanc)] == [expected] * len(worker_pids(orthanc))


def test_a_job_interrupted_by_a_restart_completes_after_it(
    tmp_path: Path, demo_study: DemoStudy
) -> None:
    server = OrthancServer(tmp_path, {"SegMesh": {"Workers": 1}})
    server.start()
    try:
        seg_id = upload_demo(server, demo_study)
        # Orthanc stops its servers before segmesh's stop (its interpreter's end): about 3 s in
        # which a running job may end. Three slow jobs at once (about 3 s each, one worker)
        # keep one running or queued when it comes.
        paths = [
            server.post(
                f"/instances/{seg_id}/segmesh/stl", json={**SLOW, "Iterations": iterations}
            ).json()["Path"]
            for iterations in TRIES
        ]
        wait(server, paths[0], ("Running",))
        server.stop()
        interrupted = [
            path
            for path in paths
            if f"job {path.rsplit('/', 1)[1]} stopped with Orthanc" in server.log()
        ]
        server.start()
        assert interrupted, "every job ended or had not started before the stop"
        for path in paths:
            record = wait(server, path)
            assert record["State"] == "Success", record
            # No duplicate: one instance per segment in the models' series.
            series = server.get(f"/series/{record['Result']['Series']}").json()
            assert len(series["Instances"]) == len(demo_study.seg.SegmentSequence)
    finally:
        server.stop()
    assert "Traceback" not in server.log()


def model_files(server: OrthancServer, series_id: str) -> dict[str, bytes]:
    """Each stored model's file, creation times blanked, by SOP Instance UID."""
    files = {}
    for instance_id in server.get(f"/series/{series_id}").json()["Instances"]:
        dataset = dcmread(BytesIO(server.get(f"/instances/{instance_id}/file").content))
        for keyword in CREATION_TIME:
            setattr(dataset, keyword, "")
        files[str(dataset.SOPInstanceUID)] = encode(dataset)
    return files


def test_workers_0_and_2_store_identical_models(tmp_path: Path, demo_study: DemoStudy) -> None:
    stored = []
    for workers in (0, 2):
        (tmp_path / str(workers)).mkdir()
        server = OrthancServer(tmp_path / str(workers), {"SegMesh": {"Workers": workers}})
        server.start()
        try:
            seg_id = upload_demo(server, demo_study)
            answer = server.post(f"/instances/{seg_id}/segmesh/stl", json={"Decimate": 0.3})
            assert answer.status_code == 200, answer.text
            stored.append(model_files(server, answer.json()["Series"]))
        finally:
            server.stop()
        assert "worker processes" in server.log() or workers == 0
    assert len(stored[0]) == len(demo_study.seg.SegmentSequence)
    assert stored[0] == stored[1]


def test_a_conversion_runs_as_a_job(orthanc: OrthancServer, demo_ids: dict[str, str]) -> None:
    body = {"To": "SEG", "Asynchronous": True}
    response = orthanc.post(f"/instances/{demo_ids['RTSTRUCT']}/segmesh/convert", json=body)
    assert response.status_code == 202, response.text
    record = wait(orthanc, response.json()["Path"])
    assert record["State"] == "Success", record
    assert record["Kind"] == "Conversion"
    stored = record["Result"]["Instances"]
    assert stored
    assert orthanc.get(f"/instances/{stored[0]['ID']}/tags?simplify").json()["Modality"] == "SEG"
