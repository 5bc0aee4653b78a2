"""Scale-out on Orthanc's own engine: two Orthanc processes sharing a PostgreSQL index (the
orthanc-postgresql plugin) and one storage folder, segmesh on both. What one node stores,
starts or claims, the other reads; an automatic run happens once across both, restarts too."""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from segmesh.demo import DemoStudy
from tests.conftest import encode
from tests.orthanc_server import OrthancServer
from tests.postgres_cluster import INDEX_PLUGIN, PostgresServer, missing_reason, wait_until

FINISHED = ("Success", "Failure", "Cancelled")
Cluster = tuple[OrthancServer, OrthancServer]
#: Each cluster of the module gets a database of its own.
DATABASE_NUMBERS = itertools.count()

pytestmark = pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason()))


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the module; each cluster has a database of its own."""
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_cluster(
    postgres: PostgresServer, tmp_path: Path
) -> Iterator[Callable[[dict[str, Any]], Cluster]]:
    """Starts nodes A and B on a new database and one storage folder; stops them at the end,
    failed or not, and checks that neither logged a Python traceback."""
    nodes: list[OrthancServer] = []

    def make(extra: dict[str, Any]) -> Cluster:
        database = f"cluster{next(DATABASE_NUMBERS)}"
        postgres.create_database(database)
        storage = tmp_path / f"storage-{database}"
        pair = []
        for name in ("A", "B"):
            work_dir = tmp_path / f"{database}-{name}"
            work_dir.mkdir()
            configuration = {
                **postgres.orthanc_configuration(database),
                **extra,
                "Name": f"segmesh-node-{name}",
                "StorageDirectory": str(storage),
                "CheckRevisions": True,
            }
            node = OrthancServer(work_dir, configuration, [INDEX_PLUGIN])
            nodes.append(node)
            node.start()
            pair.append(node)
        return pair[0], pair[1]

    yield make
    for node in nodes:
        node.stop()
    for node in nodes:
        assert "Traceback" not in node.log(), f"a node logged a traceback:\n{node.log()[-3000:]}"


def labels(node: OrthancServer, seg_id: str) -> Any:
    response = node.get(f"/instances/{seg_id}/segmesh/labelmap?format=npz")
    assert response.status_code == 200, response.text
    return np.load(io.BytesIO(response.content))


def finished_job(node: OrthancServer, job_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        record = dict(node.get(f"/segmesh/jobs/{job_id}").json())
        return record if record["State"] in FINISHED else None

    return dict(wait_until(done, 120, f"job {job_id} on {node.url}"))


def test_what_node_a_stores_node_b_reads_and_converts(
    make_cluster: Callable[[dict[str, Any]], Cluster], demo_study: DemoStudy
) -> None:
    a, b = make_cluster({})
    for image in demo_study.images:
        a.upload(encode(image))
    seg_id = a.upload(encode(demo_study.seg))
    on_a, on_b = labels(a, seg_id), labels(b, seg_id)
    np.testing.assert_array_equal(on_b["labels"], on_a["labels"])
    np.testing.assert_allclose(on_b["affine"], demo_study.geometry.affine)
    for number, mask in demo_study.masks.items():
        np.testing.assert_array_equal(on_b["labels"][0] == number, mask)

    stored = b.post(f"/instances/{seg_id}/segmesh/stl", json={})
    assert stored.status_code == 200, stored.text
    models = stored.json()
    assert len(models["Instances"]) == len(demo_study.seg.SegmentSequence)
    # Stored once, in the shared database and storage: node A reads them, and asking A again
    # stores nothing new.
    series = a.get(f"/series/{models['Series']}").json()
    assert len(series["Instances"]) == len(models["Instances"])
    model = a.get(f"/instances/{models['Instances'][0]['ID']}/segmesh/model")
    assert model.status_code == 200
    assert len(model.content) > 84
    again = a.post(f"/instances/{seg_id}/segmesh/stl", json={}).json()
    assert {item["Status"] for item in again["Instances"]} == {"AlreadyStored"}
    assert len(b.get(f"/series/{models['Series']}").json()["Instances"]) == len(models["Instances"])


def test_a_job_started_on_node_a_reads_the_same_on_node_b(
    make_cluster: Callable[[dict[str, Any]], Cluster], demo_study: DemoStudy
) -> None:
    a, b = make_cluster({"SegMesh": {"Workers": 1}})
    for image in demo_study.images:
        b.upload(encode(image))
    seg_id = b.upload(encode(demo_study.seg))
    started = a.post(
        f"/instances/{seg_id}/segmesh/stl", json={"Asynchronous": True, "Iterations": 50}
    )
    assert started.status_code == 202, started.text
    job_id = started.json()["ID"]
    seen_on_b = b.get(f"/segmesh/jobs/{job_id}").json()
    assert seen_on_b["ID"] == job_id
    assert seen_on_b["Kind"] == "InstanceModels"
    assert seen_on_b["Source"] == {"Level": "instances", "ID": seg_id}
    assert seen_on_b["State"] in ("Pending", "Running", "Success")
    done_on_a = finished_job(a, job_id)
    done_on_b = b.get(f"/segmesh/jobs/{job_id}").json()
    assert done_on_a["State"] == "Success", done_on_a
    assert done_on_b == {key: value for key, value in done_on_a.items() if key != "Seen"}
    assert job_id in [record["ID"] for record in b.get("/segmesh/jobs").json()]
    series = b.get(f"/series/{done_on_b['Result']['Series']}").json()
    assert len(series["Instances"]) == len(demo_study.seg.SegmentSequence)


def run_states(node: OrthancServer, seg_id: str) -> dict[str, Any]:
    status = node.get(f"/instances/{seg_id}/segmesh/status")
    assert status.status_code == 200, status.text
    return dict(status.json())


def test_automatic_models_are_made_once_across_nodes_and_restarts(
    make_cluster: Callable[[dict[str, Any]], Cluster], demo_study: DemoStudy
) -> None:
    automatic = {
        "StableAge": 1,
        "SegMesh": {"AutoGenerate": {"Stl": {"Iterations": 5}}, "Workers": 1},
    }
    a, b = make_cluster(automatic)
    # The SEG reaches node A before its CT: A claims the run, which waits.
    seg_id = a.upload(encode(demo_study.seg))
    for node in (a, b):
        waiting = wait_until(
            lambda node=node: run_states(node, seg_id)["Automatic"], 30, "the claimed run"
        )
        assert [run["State"] for run in waiting] == ["Waiting"]
    # Both nodes restart while the run waits (B first, so that it could take it if it would).
    for node in (b, a):
        node.stop()
    for node in (b, a):
        node.start()
    # The CT reaches node B; A, whose run it is, sees it in the database and starts the job.
    for image in demo_study.images:
        b.upload(encode(image))

    def finished(node: OrthancServer) -> dict[str, Any] | None:
        status = run_states(node, seg_id)
        runs = status["Automatic"]
        return status if runs and runs[0]["State"] in FINISHED else None

    status_a = wait_until(lambda: finished(a), 120, "the automatic run on A")
    status_b = wait_until(lambda: finished(b), 30, "the automatic run on B")
    for status in (status_a, status_b):
        assert len(status["Automatic"]) == 1, status
        assert len(status["Jobs"]) == 1, status
        run, job = status["Automatic"][0], status["Jobs"][0]
        assert run["State"] == "Success", status
        assert run["Job"] == job["ID"], status
        assert run["Parameters"] == {"Iterations": 5}
    assert status_a["Jobs"] == status_b["Jobs"]
    result = status_a["Jobs"][0]["Result"]
    series_id = result["Series"]
    segments = len(demo_study.seg.SegmentSequence)
    # One model per segment: each segment once among the stored instances.
    assert sorted(item["Segment"] for item in result["Instances"]) == list(range(1, segments + 1))
    for node in (a, b):
        series = node.get(f"/series/{series_id}").json()
        assert len(series["Instances"]) == segments
    # Restarted once more, neither node runs it again.
    for node in (a, b):
        node.stop()
        node.start()
    for node in (a, b):
        status = run_states(node, seg_id)
        assert len(status["Automatic"]) == 1, status
        assert len(status["Jobs"]) == 1, status
        assert len(node.get(f"/series/{series_id}").json()["Instances"]) == segments


def test_a_waiting_run_outlives_the_node_that_claimed_it(
    make_cluster: Callable[[dict[str, Any]], Cluster], demo_study: DemoStudy
) -> None:
    a, b = make_cluster(
        {"StableAge": 1, "SegMesh": {"AutoGenerate": {"Stl": {"Iterations": 5}}, "Workers": 1}}
    )
    seg_id = a.upload(encode(demo_study.seg))
    wait_until(lambda: run_states(b, seg_id)["Automatic"], 30, "the run claimed by A")
    # Node A goes away for good; B, restarted, takes the waiting run up when the CT comes.
    a.stop()
    b.stop()
    b.start()
    for image in demo_study.images:
        b.upload(encode(image))
    status = wait_until(
        lambda: (s := run_states(b, seg_id))["Automatic"][0]["State"] in FINISHED and s,
        120,
        "the run finished by B",
    )
    assert status["Automatic"][0]["State"] == "Success", status
    assert len(status["Jobs"]) == 1, status


def test_the_label_map_attachment_made_by_node_a_is_reused_by_node_b(
    make_cluster: Callable[[dict[str, Any]], Cluster], demo_study: DemoStudy
) -> None:
    a, b = make_cluster(
        {"StableAge": 1, "SegMesh": {"AutoGenerate": {"LabelMap": True}, "Workers": 1}}
    )
    # Stored through node A: A claims the run and its job makes the attachment.
    for image in demo_study.images:
        a.upload(encode(image))
    seg_id = a.upload(encode(demo_study.seg))

    def finished() -> dict[str, Any] | None:
        status = run_states(b, seg_id)
        runs = status["Automatic"]
        return status if runs and runs[0]["State"] in FINISHED else None

    status = wait_until(finished, 120, "the label-map run")
    assert status["Automatic"][0]["State"] == "Success", status
    assert status["Automatic"][0]["Kind"] == "InstanceLabelMap"
    assert status["LabelMap"]["Current"] is True, status
    job = a.get(f"/segmesh/jobs/{status['Jobs'][0]['ID']}").json()
    assert job["Result"]["Status"] == "Success"
    # Node B has never seen this SEG: its first label map and overlay come from A's
    # attachment, through the shared database and storage, and B decodes nothing.
    response = b.get(f"/instances/{seg_id}/segmesh/labelmap?format=npz")
    assert response.status_code == 200, response.text
    assert response.headers["X-SegMesh-LabelMap-Origin"] == "attachment"
    on_b = np.load(io.BytesIO(response.content))
    np.testing.assert_allclose(on_b["affine"], demo_study.geometry.affine)
    for number, mask in demo_study.masks.items():
        np.testing.assert_array_equal(on_b["labels"][0] == number, mask)
    np.testing.assert_array_equal(on_b["labels"], labels(a, seg_id)["labels"])
    image_id = b.upload(encode(demo_study.images[len(demo_study.images) // 2]))  # stored
    overlay = b.get(f"/instances/{seg_id}/segmesh/overlay/{image_id}.png")
    assert overlay.status_code == 200, overlay.text
    assert overlay.headers["X-SegMesh-LabelMap-Origin"] == "cache"
    statistics = b.get(f"/instances/{seg_id}/segmesh/statistics").json()
    voxels = {item["Number"]: item["Voxels"] for item in statistics["Segments"]}
    assert voxels == {number: int(mask.sum()) for number, mask in demo_study.masks.items()}
