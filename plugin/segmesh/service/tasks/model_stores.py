"""Built models stored in Orthanc as they come back from the workers: a few at once, on threads
of their own, each with its printability report, answered and counted in the order they came."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import ExitStack
from typing import Any

from ...models import BuiltModel
from .context import TaskContext
from .outputs import SourceOutputs
from .printability import keep_printability

#: Models a job sends Orthanc at once: Orthanc parses and writes one file while it indexes
#: another (300 files of 50 KB on 1.10.1, 2 cores: 0.64 s two at a time, 0.94 s one by one;
#: three at a time no faster).
STORING_AT_ONCE = 2


class ModelStores:
    """The models of one task being stored through ``outputs``: :meth:`add` starts storing
    one, :meth:`finish` waits for them all. Each stored model's item of the answer is in
    :attr:`instances`, in the order added, and progress is reported as each is (of ``total``).
    Where the task fails, :meth:`abandon` lets what is being stored end (the caller then
    deletes what was stored); :meth:`close` always."""

    def __init__(self, context: TaskContext, outputs: SourceOutputs, total: int) -> None:
        self._context = context
        self._outputs = outputs
        self._total = total
        self._threads = ThreadPoolExecutor(STORING_AT_ONCE, thread_name_prefix="segmesh-store")
        #: The models being stored, oldest first, with their answer's fields and their file.
        self._storing: deque[
            tuple[Mapping[str, Any], BuiltModel, ExitStack, Future[dict[str, Any]]]
        ] = deque()
        self.instances: list[dict[str, Any]] = []
        #: The Orthanc id of the series the models went to.
        self.series: str | None = None

    def add(self, fields: Mapping[str, Any], model: BuiltModel, temporary: ExitStack) -> None:
        """Store ``model`` (its file held by ``temporary``, closed once stored), the oldest
        finished first where STORING_AT_ONCE are under way; ``fields`` (Segment, Label) go
        into its answer's item."""
        with self._context.metrics.timed("segmesh_models_storing_seconds_total"):
            while len(self._storing) >= STORING_AT_ONCE:
                self._finish_oldest()
        stored = self._threads.submit(self._store, model, temporary)
        self._storing.append((fields, model, temporary, stored))

    def finish(self) -> None:
        """Every model added stored."""
        with self._context.metrics.timed("segmesh_models_storing_seconds_total"):
            while self._storing:
                self._finish_oldest()

    def abandon(self) -> None:
        """The stores not started cancelled, those under way waited for."""
        for *_, future in self._storing:
            future.cancel()
        wait([future for *_, future in self._storing])

    def close(self) -> None:
        """The threads ended and the files of models not stored removed."""
        self._threads.shutdown(wait=True, cancel_futures=True)
        for _, _, temporary, _ in self._storing:
            temporary.close()

    def _store(self, model: BuiltModel, temporary: ExitStack) -> dict[str, Any]:
        """One model stored, then its report kept (in a storing thread)."""
        with temporary:
            stored = self._outputs.store_file(model.path)
        with self._context.metrics.timed("segmesh_models_reports_seconds_total"):
            new = stored.get("Status") == "Success"
            keep_printability(self._context.host, stored["ID"], model.printability, new)
        return stored

    def _finish_oldest(self) -> None:
        fields, model, _, future = self._storing.popleft()
        stored = future.result()
        self.series = stored["ParentSeries"]
        self.instances.append(
            {
                "ID": stored["ID"],
                **fields,
                "Triangles": model.triangles,
                "VolumeMl": model.volume_ml,
                "Printability": model.printability.to_json(),
                "Status": stored.get("Status", ""),
            }
        )
        self._context.progress(len(self.instances), self._total)
