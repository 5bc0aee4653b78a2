"""segmesh's service on the in-memory host (:mod:`tests.memory_host`): jobs (progress, failure,
cancel, restart, a stale node's jobs taken over once), automatic runs started exactly once
across nodes and restarts, the label-map attachment written once per key, and stored models
rolled back where a source goes or the disk fills. No Orthanc: what these show depends on
segmesh's logic alone, step by step, with no timing."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset

from segmesh.demo import DemoStudy
from segmesh.errors import SegMeshError
from segmesh.formats.labelmap_file import MAGIC, read_header
from segmesh.requests.storing_bodies import store_options
from segmesh.requests.storing_kinds import INSTANCE_LABELMAP, INSTANCE_MODELS, KINDS
from segmesh.service.automatic import STATUS_METADATA, AutomaticRuns, products
from segmesh.service.cache import LabelMapCache
from segmesh.service.host import Host, read_json_metadata
from segmesh.service.jobs import JobRunner, JobState, JobStore
from segmesh.service.jobs.records import new_record
from segmesh.service.metrics import Metrics
from segmesh.service.tasks import labelmap_attachment
from segmesh.service.tasks.context import TaskContext
from segmesh.service.tasks.models import store_source_models
from segmesh.service.tasks.storing import Prepared, StoringKind
from segmesh.service.workers import WorkerPool
from segmesh.settings import Settings
from tests.memory_host import InMemoryHost, full_disk

FINISHED = (JobState.SUCCESS, JobState.FAILURE, JobState.CANCELLED)


@pytest.fixture
def host(tmp_path: Path) -> InMemoryHost:
    return InMemoryHost(tmp_path / "storage")


@pytest.fixture
def study_id(host: InMemoryHost, demo_study: DemoStudy) -> str:
    """The demo study stored (CT and SEG); its id."""
    store_demo(host, demo_study)
    [study] = host.studies()
    return study


@pytest.fixture
def context(host: InMemoryHost) -> TaskContext:
    typed: Host = host  # the in-memory host is a Host as the service sees it
    return TaskContext(Settings.from_configuration({}), WorkerPool(0), LabelMapCache(256), typed)


class Runners:
    """Job runners (one per node, or per start of a node), stopped at the end of a test."""

    def __init__(self, context: TaskContext) -> None:
        self.context = context
        self.started: list[JobRunner] = []

    def __call__(self, node: str, kinds: Mapping[str, StoringKind] = KINDS) -> JobRunner:
        runner = JobRunner(self.context, JobStore(self.context.host), node, kinds)
        self.started.append(runner)
        return runner


@pytest.fixture
def runners(context: TaskContext) -> Iterator[Runners]:
    made = Runners(context)
    yield made
    for runner in made.started:
        runner.stop()
        runner.join()


def finished(runner: JobRunner, job_id: str) -> dict[str, Any]:
    """The record of a job once it has finished (job threads end it on their own)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        record = runner.store.get(job_id)
        if JobState(record["State"]) in FINISHED:
            return record
        time.sleep(0.01)
    raise AssertionError(f"job {job_id} did not finish: {runner.store.get(job_id)}")


class Recorded:
    """A kind of job that records its runs, reports progress, and with ``hold``
    waits (until the test sets ``hold``) before it asks whether it was cancelled."""

    def __init__(
        self,
        name: str = "Recorded",
        level: str = "studies",
        fail: SegMeshError | None = None,
        hold: bool = False,
    ) -> None:
        self.runs: list[str] = []
        self.started = threading.Event()
        self.hold = threading.Event()
        if not hold:
            self.hold.set()
        self.fail = fail
        self.kind = StoringKind(name, level, self._prepare)

    def _prepare(self, resource_id: str, body: Mapping[str, Any]) -> Prepared:
        def run(context: TaskContext) -> dict[str, Any]:
            self.runs.append(resource_id)
            context.progress(1, 2)
            self.started.set()
            assert self.hold.wait(30)
            context.check_cancelled()
            if self.fail is not None:
                raise self.fail
            return {"Done": resource_id, "Body": dict(body)}

        return run


def store_demo(host: InMemoryHost, demo: DemoStudy, images: bool = True) -> str:
    """The demo SEG stored (with its CT where ``images``); its instance id."""
    if images:
        for image in demo.images:
            host.add(image)
    return host.add(demo.seg)


def _runs(host: InMemoryHost, instance_id: str) -> list[dict[str, Any]]:
    """The automatic runs recorded on a source."""
    record = read_json_metadata(host, "instances", instance_id, STATUS_METADATA)
    assert record is not None
    return list(record["Runs"].values())


def test_the_in_memory_host_indexes_as_orthanc_does(
    host: InMemoryHost, demo_study: DemoStudy
) -> None:
    seg_id = store_demo(host, demo_study)
    [study_id] = host.studies()
    series = host.summary("instances", seg_id)["ParentSeries"]
    assert host.study_of("instances", seg_id) == study_id
    assert host.summary("series", series)["MainDicomTags"]["Modality"] == "SEG"
    assert host.find({"Level": "Instance", "Query": {"Modality": "SEG"}}) == [seg_id]
    assert len(host.find({"Level": "Instance", "Query": {"Modality": "CT"}})) == len(
        demo_study.images
    )
    assert host.store_instance(host.instance_file(seg_id))["Status"] == "AlreadyStored"
    assert not host.write_metadata("studies", study_id, 4601, b"{}", '"7"')
    assert host.write_metadata("studies", study_id, 4601, b"{}", None)
    assert not host.write_metadata("studies", study_id, 4601, b"{}", None)
    host.delete("studies", study_id)
    assert host.studies() == []
    assert not host.exists("instances", seg_id)
    with pytest.raises(SegMeshError, match="Unknown study"):
        host.read_metadata("studies", study_id, 4601)


def test_a_job_reports_progress_and_keeps_its_result(study_id: str, runners: Runners) -> None:
    recorded = Recorded(hold=True)
    runner = runners("a", {"Recorded": recorded.kind})
    record = runner.submit("Recorded", study_id, {"X": 1})
    assert record["State"] == "Pending"
    assert record["ID"].startswith(f"{study_id}.")
    assert recorded.started.wait(30)
    # Reported while it runs: the first progress is written at once.
    running = runner.store.get(record["ID"])
    assert (running["State"], running["Progress"]) == ("Running", 50)
    recorded.hold.set()
    done = finished(runner, record["ID"])
    assert done["State"] == "Success"
    assert done["Progress"] == 100
    assert done["Result"] == {"Done": study_id, "Body": {"X": 1}}
    assert recorded.runs == [study_id]


def test_a_failing_job_keeps_the_error_a_request_would_answer(
    study_id: str, runners: Runners
) -> None:
    recorded = Recorded(fail=SegMeshError("Broken", "on purpose"))
    runner = runners("a", {"Recorded": recorded.kind})
    done = finished(runner, runner.submit("Recorded", study_id, {})["ID"])
    assert done["State"] == "Failure"
    assert done["Error"] == {"Error": "Broken", "Details": "on purpose", "HttpStatus": 500}
    assert "Result" not in done


def test_a_running_job_is_cancelled_at_its_next_step(study_id: str, runners: Runners) -> None:
    recorded = Recorded(hold=True)
    runner = runners("a", {"Recorded": recorded.kind})
    job_id = runner.submit("Recorded", study_id, {})["ID"]
    assert recorded.started.wait(30)
    assert runner.cancel(job_id)["State"] == "Cancelled"
    recorded.hold.set()
    done = finished(runner, job_id)
    assert done["State"] == "Cancelled"
    assert "Result" not in done
    # A finished job is left as it is.
    assert runner.cancel(job_id)["CompletionTime"] == done["CompletionTime"]


def _left_running(host: InMemoryHost, study_id: str, node: str, heartbeat: str) -> str:
    """A job record as a node that died while running it leaves it; its id."""
    record = new_record(study_id, "Recorded", "studies", study_id, {}, node)
    record.update(State="Running", Heartbeat=heartbeat)
    JobStore(host).add(record)
    return str(record["ID"])


def test_a_restarted_node_runs_its_unfinished_jobs_again(
    host: InMemoryHost, study_id: str, runners: Runners
) -> None:
    recorded = Recorded()
    job_id = _left_running(host, study_id, "a", time.strftime("%Y%m%dT%H%M%S", time.gmtime()))
    # Another node leaves a job whose node still beats alone.
    runners("b", {"Recorded": recorded.kind}).resume([study_id])
    assert runners.started[-1].store.get(job_id)["State"] == "Running"
    restarted = runners("a", {"Recorded": recorded.kind})
    restarted.resume([study_id])
    assert finished(restarted, job_id)["State"] == "Success"
    assert recorded.runs == [study_id]


def test_a_stale_job_is_taken_over_by_exactly_one_node(
    host: InMemoryHost, study_id: str, runners: Runners
) -> None:
    recorded = Recorded()
    job_id = _left_running(host, study_id, "gone", "20260101T000000")
    nodes = [runners(name, {"Recorded": recorded.kind}) for name in ("b", "c", "d")]
    threads = [threading.Thread(target=node.resume, args=([study_id],)) for node in nodes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done = finished(nodes[0], job_id)
    assert done["State"] == "Success"
    assert done["Node"] in ("b", "c", "d")
    time.sleep(0.2)  # a second run, were there one, would have been queued by now
    assert recorded.runs == [study_id]


def test_an_automatic_run_starts_once_across_nodes_and_restarts(
    host: InMemoryHost, demo_study: DemoStudy, runners: Runners
) -> None:
    seg_id = store_demo(host, demo_study, images=False)
    recorded = Recorded(INSTANCE_MODELS.name, "instances")
    kinds = {INSTANCE_MODELS.name: recorded.kind}
    made = products({"Iterations": 5}, False)

    def node(name: str) -> AutomaticRuns:
        return AutomaticRuns(made, 3600, 0, runners(name, kinds), host)

    first, second = node("a"), node("b")
    # Both nodes hear of the SEG: the first claims its run, the second finds it claimed.
    first._consider(seg_id)
    second._consider(seg_id)
    runs = read_json_metadata(host, "instances", seg_id, STATUS_METADATA)
    assert runs is not None
    assert [run["State"] for run in runs["Runs"].values()] == ["Waiting"]
    assert list(first._waiting) == [seg_id]
    assert not second._waiting
    # The CT is missing: nothing starts. Then the second node restarts and waits too.
    first._poll()
    restarted = node("b")
    restarted._resume()
    assert list(restarted._waiting) == [seg_id]
    for image in demo_study.images:
        host.add(image)
    # Both poll once the CT is there: one of them starts the job, the other sees it started.
    both = [threading.Thread(target=n._poll) for n in (first, restarted)]
    for thread in both:
        thread.start()
    for thread in both:
        thread.join()
    [run] = _runs(host, seg_id)
    assert run["State"] == "Started"
    runner = runners.started[0]
    assert finished(runner, run["Job"])["State"] == "Success"
    time.sleep(0.2)
    assert recorded.runs == [seg_id]
    [job] = runner.store.of_study(host.study_of("instances", seg_id))
    assert job["ID"] == run["Job"]
    # segmesh's own outputs and non-sources never get a run.
    first._consider(host.find({"Level": "Instance", "Query": {"Modality": "CT"}})[0])
    assert len(first._waiting) == 0


def test_images_that_never_come_end_the_run_as_a_failure(
    host: InMemoryHost, demo_study: DemoStudy, runners: Runners
) -> None:
    """Once Orthanc's API answers: while it does not (Orthanc stopping), runs only wait."""
    seg_id = store_demo(host, demo_study, images=False)
    automatic = AutomaticRuns(products({}, True), -1, 0, runners("a"), host)
    automatic._consider(seg_id)
    host.is_alive = False
    automatic._poll()
    assert [run["State"] for run in _runs(host, seg_id)] == ["Waiting", "Waiting"]
    assert list(automatic._waiting) == [seg_id]
    host.is_alive = True
    automatic._poll()
    [run_a, run_b] = _runs(host, seg_id)
    for run in (run_a, run_b):
        assert run["State"] == "Failure"
        assert run["Error"] == "Images never came"
        assert "is not stored" in run["Details"]
    assert not automatic._waiting


def test_the_attachment_is_written_once_per_key(
    host: InMemoryHost, demo_study: DemoStudy, context: TaskContext, runners: Runners
) -> None:
    seg_id = store_demo(host, demo_study)
    runner = runners("a")
    first = finished(runner, runner.submit(INSTANCE_LABELMAP.name, seg_id, {})["ID"])
    assert first["State"] == "Success", first
    assert first["Result"]["Status"] == "Success"
    stored = host.read_attachment(seg_id, labelmap_attachment.CONTENT_TYPE)
    assert stored is not None
    assert stored.etag == '"1"'
    key = read_header(stored.data)["Key"]
    found = labelmap_attachment.read(host, seg_id, key, context.settings)
    assert found is not None
    for number, mask in demo_study.masks.items():
        np.testing.assert_array_equal(found[0].layers[0] == number, mask)
    # Made again for the same key (another node, a restart): left as it is.
    assert labelmap_attachment.write(host, seg_id, stored.data) == "AlreadyStored"
    # Made for another key: replaced by compare-and-set; a reader of the old key ignores it.
    header = read_header(stored.data)
    offset = header.pop("Offset")
    header["Key"] = {**header["Key"], "Version": "0.0.0"}
    text = json.dumps(header).encode()
    other = MAGIC + len(text).to_bytes(4, "little") + text + stored.data[offset:]
    assert labelmap_attachment.write(host, seg_id, other) == "Success"
    replaced = host.read_attachment(seg_id, labelmap_attachment.CONTENT_TYPE)
    assert replaced is not None
    assert replaced.etag == '"2"'
    assert labelmap_attachment.read(host, seg_id, key, context.settings) is None
    # A broken one is ignored by readers, and replaced.
    host.write_attachment(seg_id, labelmap_attachment.CONTENT_TYPE, b"broken", '"2"')
    assert labelmap_attachment.read(host, seg_id, key, context.settings) is None
    assert labelmap_attachment.describe(host, seg_id)["Error"]  # type: ignore[index]
    assert labelmap_attachment.write(host, seg_id, stored.data) == "Success"


def _models(host: InMemoryHost) -> list[str]:
    return host.find({"Level": "Instance", "Query": {"Modality": "M3D"}})


def _after_stores(count: int, then: Callable[[], None]) -> Callable[[Dataset], None]:
    """A ``before_store`` that calls ``then`` before the model after ``count`` models."""
    seen: list[Dataset] = []

    def before(dataset: Dataset) -> None:
        if dataset.get("Modality") == "M3D":
            if len(seen) == count:
                then()
            seen.append(dataset)

    return before


def test_models_are_stored_through_the_host(
    host: InMemoryHost, demo_study: DemoStudy, runners: Runners
) -> None:
    seg_id = store_demo(host, demo_study)
    runner = runners("a")
    body = {"Iterations": 5}
    done = finished(runner, runner.submit(INSTANCE_MODELS.name, seg_id, body)["ID"])
    assert done["State"] == "Success", done
    models = _models(host)
    assert len(models) == len(demo_study.masks)
    labels = {
        str(dcmread(BytesIO(host.instance_file(model)), stop_before_pixels=True).DocumentTitle)
        for model in models
    }
    assert len(labels) == len(models)
    # Asked again: Orthanc keeps what it holds, the job answers AlreadyStored.
    again = finished(runner, runner.submit(INSTANCE_MODELS.name, seg_id, body)["ID"])
    assert {item["Status"] for item in again["Result"]["Instances"]} == {"AlreadyStored"}
    assert sorted(_models(host)) == sorted(models)


def test_a_model_job_times_each_step_of_its_storing_thread(
    host: InMemoryHost, demo_study: DemoStudy, context: TaskContext
) -> None:
    seg_id = store_demo(host, demo_study)
    published: list[tuple[str, float]] = []
    timed = dataclasses.replace(context, metrics=Metrics(lambda *item: published.append(item)))
    answer = store_source_models(seg_id, store_options({"Iterations": 5}), timed)
    models = len(answer["Instances"])
    assert models == len(demo_study.masks)
    names = [name for name, _ in published]
    # The handing-over thread waits for the workers once per model and once for the end, for
    # a free storing thread once per model and for the last stores once; each report is kept
    # once, in the storing threads (their time overlaps the handing-over thread's).
    assert names.count("segmesh_models_storing_seconds_total") == models + 1
    assert names.count("segmesh_models_reports_seconds_total") == models
    assert names.count("segmesh_models_waiting_seconds_total") == models + 1
    totals = dict(published)  # the last value published of each: the totals
    steps = [totals[f"segmesh_models_{step}_seconds_total"] for step in ("waiting", "storing")]
    assert 0 < sum(steps) <= totals["segmesh_mesh_seconds_total"]
    assert totals["segmesh_models_reports_seconds_total"] > 0


def test_a_ct_deleted_while_models_are_stored_leaves_none(
    host: InMemoryHost, demo_study: DemoStudy, runners: Runners
) -> None:
    seg_id = store_demo(host, demo_study)
    ct_series = host.find({"Level": "Series", "Query": {"Modality": "CT"}})[0]
    host.before_store = _after_stores(1, lambda: host.delete("series", ct_series))
    runner = runners("a")
    done = finished(runner, runner.submit(INSTANCE_MODELS.name, seg_id, {"Iterations": 5})["ID"])
    assert done["State"] == "Failure", done
    assert done["Error"]["HttpStatus"] == 410
    assert done["Error"]["Error"] == "Source deleted"
    assert ct_series in done["Error"]["Details"]
    assert "instances it had stored were deleted" in done["Error"]["Details"]
    assert _models(host) == []
    assert host.exists("instances", seg_id)


def test_a_full_disk_after_some_models_leaves_none(
    host: InMemoryHost, demo_study: DemoStudy, runners: Runners
) -> None:
    seg_id = store_demo(host, demo_study)
    host.before_store = _after_stores(2, lambda: full_disk(Dataset()))
    runner = runners("a")
    done = finished(runner, runner.submit(INSTANCE_MODELS.name, seg_id, {"Iterations": 5})["ID"])
    assert done["State"] == "Failure", done
    assert done["Error"]["Error"] == "Orthanc refused to store a result"
    assert _models(host) == []
    assert host.stored_count == len(demo_study.images) + 1 + 2
