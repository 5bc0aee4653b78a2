"""A dataset job cancelled while cases are in flight, without a race: the job's loop
(``segmesh.service.tasks.datasets._export_cases``) on stand-ins for the host and the workers,
whose cases finish only when the test lets them."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from segmesh.datasets.case_export import CaseExported
from segmesh.datasets.training_labels import TrainingLabels
from segmesh.requests.dataset_body import dataset_request
from segmesh.service.tasks import datasets as datasets_task
from segmesh.service.tasks.context import CancelledError

SOURCES = tuple(f"source-{n}" for n in range(1, 6))


def test_a_cancel_waits_for_the_cases_in_flight_and_starts_no_more(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    release, cancelled = threading.Event(), threading.Event()
    started: list[str] = []
    closed: list[str] = []
    finished: list[Future[CaseExported]] = []
    pool = ThreadPoolExecutor(4)

    def case(source: str) -> CaseExported:
        assert release.wait(30)
        return CaseExported(source, (1, 1, 1), (1.0, 1.0, 1.0), "CT", (), ())

    def start_case(source: str, *_: Any) -> Any:
        started.append(source)
        files = ExitStack()
        files.callback(closed.append, source)
        done = pool.submit(case, source)
        finished.append(done)
        return datasets_task._Running({"Instance": source}, done, files)

    def check_cancelled() -> None:
        if cancelled.is_set():
            raise CancelledError("Cancelled", "by the test")

    monkeypatch.setattr(datasets_task, "_start_case", start_case)
    context = SimpleNamespace(
        workers=SimpleNamespace(count=2, result=lambda future: future.result()),
        check_cancelled=check_cancelled,
        progress=lambda done, total: None,
    )
    request = dataset_request({"Resources": list(SOURCES)})
    labels = TrainingLabels.from_segments([])
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            datasets_task._export_cases(
                request,
                SOURCES,
                labels,
                tmp_path / "x.zip",
                context,  # type: ignore[arg-type]
            )
        except BaseException as error:
            outcome.append(error)

    job = threading.Thread(target=run)
    job.start()
    try:
        # Two workers and one case queued: three in flight, the job waits on the first.
        while len(started) < 3:
            assert job.is_alive()
            threading.Event().wait(0.01)
        cancelled.set()
        release.set()
        job.join(30)
    finally:
        release.set()
        pool.shutdown()
    assert not job.is_alive()
    assert [type(error) for error in outcome] == [CancelledError]
    assert started == list(SOURCES[:3])
    assert sorted(closed) == sorted(started)
    assert all(done.done() for done in finished)
