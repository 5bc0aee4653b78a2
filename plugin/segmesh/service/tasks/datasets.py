"""``POST /segmesh/datasets``' job: the sources a request names exported case by case, in the
workers, into one nnU-Net zip or HDF5 file kept in the dataset folder until downloaded.

One case is in memory at a time in each worker, whatever the number of cases. A case that
cannot be exported is skipped with its reason; a cancelled or failed job leaves no file.
"""

from __future__ import annotations

import datetime
import os
from collections import deque
from concurrent.futures import Future, wait
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ... import __version__
from ...datasets.case_export import CaseExported
from ...datasets.case_names import hashed_case_name, numbered_case_name
from ...datasets.dataset_files import finish_dataset, new_dataset_path, remove_expired
from ...datasets.dataset_request import CaseNaming, DatasetFormat, DatasetRequest
from ...datasets.file_lock import LOCK_SUFFIX
from ...datasets.training_labels import TrainingLabels
from ...errors import SegMeshError, UnprocessableError
from ...labelmap import Segment
from ...work import ExportCase, FinishHdf5, FinishNnunetZip
from .. import store
from ..workers import WorkerCrashedError
from .context import TaskContext
from .dataset_sources import named_sources
from .labelmaps import referenced_series_id, source_description

#: What the dataset tells of each case besides its voxels, and what it never holds.
IDENTIFIERS = {
    "Included": ["StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"],
    "Where": "report.json, and each case's attributes in HDF5",
    "NotIncluded": ["PatientName", "PatientID", "PatientBirthDate", "StudyDate", "AccessionNumber"],
}


def _labels(
    request: DatasetRequest, sources: tuple[str, ...], context: TaskContext
) -> TrainingLabels:
    """The request's labels, or every segment label of the sources (case-insensitive)."""
    if request.labels is not None:
        return request.labels
    segments: list[Segment] = []
    for source in sources:
        try:
            segments += source_description(source, context).segments
        except SegMeshError:
            continue  # the case itself says why it is skipped
    return TrainingLabels.from_segments(segments)


@dataclass
class _Running:
    """A case handed to a worker: its source's file is held (a temporary copy where it is not
    in the storage area) until the worker is done with it."""

    source: dict[str, Any]
    done: Future[CaseExported]
    files: ExitStack


def _start_case(
    source_id: str,
    number: int,
    request: DatasetRequest,
    labels: TrainingLabels,
    output: Path,
    context: TaskContext,
) -> _Running:
    """Hand the case of ``source_id`` to a worker, which appends it to ``output`` (cases are
    made side by side, and appended one at a time under the file's lock)."""
    description = source_description(source_id, context)
    series_id = referenced_series_id(context.host, description)
    if series_id is None:
        missing = ", ".join(description.referenced_series_uids) or "(none referenced)"
        raise UnprocessableError("Referenced series not stored", f"the images {missing}")
    stored = store.instance_stored_file(context.host, source_id)
    header = store.read_header(context.host, stored)
    series = context.host.summary("series", series_id)
    uids = {
        "StudyInstanceUID": str(header.get("StudyInstanceUID", "")),
        "SeriesInstanceUID": str(series.get("MainDicomTags", {}).get("SeriesInstanceUID", "")),
        "SOPInstanceUID": str(header.get("SOPInstanceUID", "")),
    }
    if request.case_naming is CaseNaming.NUMBER:
        name = numbered_case_name(number)
    else:
        name = hashed_case_name(uids["StudyInstanceUID"], uids["SOPInstanceUID"])
    files = ExitStack()
    try:
        path = files.enter_context(store.instance_path(context.host, stored))
        work = ExportCase(
            case=name,
            source_path=path,
            image_files=store.stored_series_files(context.host, series_id),
            labels=labels,
            spacing=request.spacing,
            format=request.format,
            output_path=str(output),
            dataset_name=request.dataset_name,
            uids=uids,
            settings=context.settings,
        )
        done = context.workers.submit(work)
    except BaseException:
        files.close()
        raise
    source = {"Instance": source_id, "Study": str(series["ParentStudy"]), **uids}
    return _Running(source, done, files)


def _finish_case(running: _Running, context: TaskContext) -> dict[str, Any]:
    """Wait for a case. A worker that died may have died while appending: the file may be
    broken, so that ends the job (:class:`WorkerCrashedError` is not a case's failure)."""
    try:
        exported = context.workers.result(running.done)
    finally:
        running.files.close()
    return {**exported.to_json(), "Source": running.source}


def _write_back(output: Path) -> None:
    """Have the cases appended so far written to disk while the next ones are made (this
    thread only waits meanwhile): a dataset of GBs left in the page cache would be written at
    once later, and the first download of it would wait for that."""
    if not output.exists():
        return
    descriptor = os.open(output, os.O_RDONLY)
    try:
        os.fdatasync(descriptor)
    finally:
        os.close(descriptor)


def _skip(source: str, error: SegMeshError) -> dict[str, str]:
    return {"Resource": source, "Error": error.message, "Details": error.details}


def _export_cases(
    request: DatasetRequest,
    sources: tuple[str, ...],
    labels: TrainingLabels,
    output: Path,
    context: TaskContext,
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """The cases exported into ``output``, in the order of ``sources``, and those skipped with
    why. As many cases are made at once as there are workers (one without), each in one
    worker's memory."""
    cases: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    running: deque[tuple[str, _Running]] = deque()
    waiting = iter(enumerate(sources, start=1))
    # One case more than workers waits its turn in the pool's queue, so that no worker idles
    # while this thread starts the next case (a queued case holds no volume).
    width = context.workers.count + 1
    try:
        while True:
            # A source that fails before its worker starts takes no place: fill up anew.
            while len(running) < width and (following := next(waiting, None)) is not None:
                number, source = following
                context.check_cancelled()
                try:
                    started = _start_case(source, number, request, labels, output, context)
                    running.append((source, started))
                except SegMeshError as error:
                    skipped.append(_skip(source, error))
            if not running:
                return cases, skipped
            source, case = running.popleft()
            try:
                cases.append(_finish_case(case, context))
            except WorkerCrashedError:
                raise
            except SegMeshError as error:
                skipped.append(_skip(source, error))
            _write_back(output)
            context.progress(len(cases) + len(skipped), len(sources))
    finally:
        # Stopped early (cancelled, Orthanc stopping): the cases still running end first, so
        # that none writes to the file after it was removed.
        for _, case in running:
            wait([case.done])
            case.files.close()


def export_dataset(request: DatasetRequest, context: TaskContext) -> dict[str, Any]:
    """Export every case the request names; the result lists the cases, the skipped sources
    with their reasons, the labels and the finished file (``Output``). 422 where no case
    could be exported."""
    remove_expired(context.settings)
    named = named_sources(request, context)
    labels = _labels(request, named.sources, context)
    output = new_dataset_path(context.settings, request.format.suffix)
    try:
        cases, skipped = _export_cases(request, named.sources, labels, output, context)
        skipped = list(named.skipped) + skipped
        if not cases:
            reasons = "; ".join(f"{s['Resource']}: {s['Error']}" for s in skipped[:3])
            raise UnprocessableError("No case exported", reasons or "no SEG or RT-STRUCT named")
        report = {
            "segmesh": __version__,
            "Format": request.format.value,
            "Labels": labels.dataset_json_labels(),
            "Cases": cases,
            "Skipped": skipped,
            "Identifiers": IDENTIFIERS,
        }
        if request.format is DatasetFormat.NNUNET:
            channel = request.channel_name or cases[0]["Modality"] or "image"
            context.workers.run(
                FinishNnunetZip(
                    path=str(output),
                    dataset_name=request.dataset_name,
                    channel=channel,
                    labels=labels.dataset_json_labels(),
                    cases=len(cases),
                    report=report,
                )
            )
        else:
            names = [case["Case"] for case in cases]
            context.workers.run(
                FinishHdf5(
                    path=str(output),
                    case_names=names,
                    labels=labels.dataset_json_labels(),
                    report=report,
                )
            )
        context.check_cancelled()
        finished = finish_dataset(output)
    except BaseException:
        output.unlink(missing_ok=True)
        raise
    finally:
        Path(str(output) + LOCK_SUFFIX).unlink(missing_ok=True)
    expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(
        hours=context.settings.dataset_hours
    )
    return {
        **report,
        "Output": {
            "File": finished.name,
            "Bytes": finished.stat().st_size,
            "Expires": expires.strftime("%Y%m%dT%H%M%S"),
        },
    }
