"""Which SEG and RT-STRUCT instances a dataset request names: its ``Resources`` (studies,
series or instances) or its ``Query`` (Orthanc's ``/tools/find``), each resolved to the
sources it holds or, for an image series, the sources of its study drawn on it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ...datasets.dataset_request import DatasetRequest
from ...dicom.sop_classes import SOURCE_SOP_CLASSES, Kind
from ...errors import BadRequestError, NotFoundError, SegMeshError
from .. import store
from ..host import Host
from .context import TaskContext
from .labelmaps import source_description

#: Orthanc's query levels, as ``/tools/find`` takes them, to REST resource levels.
FIND_LEVELS = {
    "Patient": "patients",
    "Study": "studies",
    "Series": "series",
    "Instance": "instances",
}


@dataclass(frozen=True)
class NamedSources:
    """The Orthanc ids of the sources found (in order, once each), and the resources named
    that held none, with why."""

    sources: tuple[str, ...]
    skipped: tuple[dict[str, str], ...]


def _level_of(host: Host, identifier: str) -> str:
    for level in ("studies", "series", "instances", "patients"):
        if host.exists(level, identifier):
            return level
    raise NotFoundError("Unknown resource", f"{identifier} is no study, series or instance")


def _found(host: Host, query: dict[str, Any]) -> list[tuple[str, str]]:
    """(level, id) of what ``/tools/find`` answers for ``query``; 400 where Orthanc refuses it."""
    level = FIND_LEVELS.get(str(query.get("Level", "")))
    if level is None:
        raise BadRequestError("Bad parameter Query", f"Level: one of {list(FIND_LEVELS)}")
    return [(level, identifier) for identifier in host.find(query)]


def _series_sources(series_id: str, context: TaskContext) -> list[str]:
    summary = context.host.summary("series", series_id)
    if summary.get("MainDicomTags", {}).get("Modality") in tuple(Kind):
        return [str(identifier) for identifier in summary["Instances"]]
    # An image series: the sources of its study drawn on it.
    uid = str(summary.get("MainDicomTags", {}).get("SeriesInstanceUID", ""))
    return [
        source
        for source in _study_sources(context.host, str(summary["ParentStudy"]))
        if uid in source_description(source, context).referenced_series_uids
    ]


def _study_sources(host: Host, study_id: str) -> list[str]:
    sources = []
    for series_id in store.study_series_ids(host, study_id):
        summary = host.summary("series", series_id)
        if summary.get("MainDicomTags", {}).get("Modality") in tuple(Kind):
            sources += [str(identifier) for identifier in summary["Instances"]]
    return sources


def _sources_of(level: str, identifier: str, context: TaskContext) -> Iterator[str]:
    if level == "patients":
        for study_id in context.host.summary("patients", identifier)["Studies"]:
            yield from _study_sources(context.host, str(study_id))
    elif level == "studies":
        yield from _study_sources(context.host, identifier)
    elif level == "series":
        yield from _series_sources(identifier, context)
    elif context.host.sop_class_uid(identifier) in SOURCE_SOP_CLASSES:
        yield identifier


def named_sources(request: DatasetRequest, context: TaskContext) -> NamedSources:
    """The sources ``request`` names; 404 for an id Orthanc does not know."""
    if request.query is not None:
        named = _found(context.host, dict(request.query))
    else:
        named = [
            (_level_of(context.host, identifier), identifier) for identifier in request.resources
        ]
    sources: dict[str, None] = {}
    skipped = []
    for level, identifier in named:
        try:
            found = list(_sources_of(level, identifier, context))
        except SegMeshError as error:
            skipped.append(
                {"Resource": identifier, "Error": error.message, "Details": error.details}
            )
            continue
        if not found:
            skipped.append(
                {"Resource": identifier, "Error": "No source", "Details": "no SEG or RT-STRUCT"}
            )
        sources.update(dict.fromkeys(found))
    return NamedSources(tuple(sources), tuple(skipped))
