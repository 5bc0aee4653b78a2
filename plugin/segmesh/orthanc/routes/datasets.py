"""``POST /segmesh/datasets``: many studies' images and segmentations as one training dataset,
made by a job (:mod:`segmesh.service.tasks.datasets`); ``GET /segmesh/jobs/{id}/output``: its
file, with ``Range`` (HTTP 206) where the running orthanc-python can send a binary body with a
status other than 200 (4.2 on; before, the whole file is answered, as HTTP allows)."""

from __future__ import annotations

import mmap
import re
from typing import Any

from ...datasets.dataset_files import finished_dataset
from ...errors import NotFoundError, SegMeshError, UnprocessableError
from ...requests.dataset_body import dataset_request
from ...requests.storing_kinds import DATASET
from ...service.jobs import JobRunner
from ...service.jobs.records import JobState
from ...service.tasks.context import TaskContext
from ...service.tasks.dataset_sources import named_sources
from .. import http
from ..http import Answer, Request, register_route, user_of

MIME_TYPES = {".zip": "application/zip", ".h5": "application/x-hdf5"}
#: One range of bytes: ``bytes=first-last``, ``bytes=first-`` or ``bytes=-suffix``.
RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class RangeNotSatisfiableError(SegMeshError):
    """The requested range lies outside the file."""

    http_status = 416


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The (first, last) bytes a ``Range`` header asks for, None for the whole file (no header,
    or several ranges, which HTTP lets a server answer whole); 416 where it lies outside."""
    match = RANGE.fullmatch((header or "").strip())
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.groups()
    if first == "":
        start, end = max(0, size - int(last)), size - 1
    else:
        start, end = int(first), min(size - 1, int(last) if last else size - 1)
    if start > end or start >= size:
        raise RangeNotSatisfiableError(
            "Range not satisfiable", f"{header}: the file has {size} bytes"
        )
    return start, end


def register(context: TaskContext, runner: JobRunner) -> None:
    """Register the dataset route and the download of a job's output."""

    def create(request: Request) -> Answer:
        body = request.json_body()
        named = named_sources(dataset_request(body), context)
        if not named.sources:
            reasons = "; ".join(f"{s['Resource']}: {s['Details']}" for s in named.skipped[:3])
            raise UnprocessableError("No source", reasons or "nothing matched the query")
        # The record lives on the first source's study, where any node finds it.
        study_id = context.host.study_of("instances", named.sources[0])
        record = runner.submit(DATASET.name, study_id, body)
        return Answer.json({"ID": record["ID"], "Path": f"/segmesh/jobs/{record['ID']}"}, 202)

    def output(request: Request) -> Answer:
        job_id = request.groups[0]
        record = runner.store.get(job_id)
        if record["Kind"] != DATASET.name:
            raise NotFoundError("No output", f"job {job_id} is a {record['Kind']} job")
        if record["State"] != JobState.SUCCESS.value:
            raise UnprocessableError("No output", f"job {job_id} is {record['State']}")
        if record["Node"] != runner.node:
            raise NotFoundError("Dataset on another node", f"{record['Node']} made it: ask it")
        result: dict[str, Any] = record["Result"]
        path = finished_dataset(context.settings, str(result["Output"]["File"]))
        size = path.stat().st_size
        wanted = byte_range(request.headers.get("range"), size)
        if not http.HAS_FIXED_SEND_HTTP_STATUS:
            wanted = None  # no 206 with a binary body before 4.2: the whole file
        partial = wanted is not None
        start, end = wanted or (0, size - 1)
        with path.open("rb") as handle:
            # Mapped, not read: the file (GBs) is sent from the page cache, never copied into
            # this process's memory.
            data = memoryview(mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ))
        # Once a download, not once each part of a resumed one.
        if start == 0:
            user = user_of(request.headers)
            for case in result["Cases"]:
                http.emit_audit_log(
                    user, "studies", case["Source"]["Study"], "segmesh-dataset", {"Job": job_id}
                )
        headers = {
            "Accept-Ranges": "bytes" if http.HAS_FIXED_SEND_HTTP_STATUS else "none",
            "Content-Disposition": f'attachment; filename="{job_id}{path.suffix}"',
        }
        if partial:
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        return Answer(
            data[start : end + 1], MIME_TYPES[path.suffix], headers, 206 if partial else 200
        )

    register_route(r"/segmesh/datasets", ("POST",), create)
    register_route(r"/segmesh/jobs/([^/]+)/output", ("GET",), output)
