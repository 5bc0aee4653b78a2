"""What was generated from a source instance: its automatic runs, its jobs, its label maps
held in this node's cache, and its label-map attachment (``GET .../segmesh/status``)."""

from __future__ import annotations

from typing import Any

from ..options import LabelMapOptions
from .automatic import STATUS_METADATA
from .host import read_json_metadata
from .jobs import JobRunner, public
from .tasks import labelmap_attachment
from .tasks.context import TaskContext
from .tasks.labelmaps import chosen_series_id, labelmap_key, source_description


def attachment_status(instance_id: str, context: TaskContext) -> dict[str, Any] | None:
    """The label-map attachment (:func:`labelmap_attachment.describe`) and whether it is
    ``Current``: made for the key the routes' default options have now (this version of
    segmesh, the images the referenced series holds now)."""
    found = labelmap_attachment.describe(context.host, instance_id)
    if found is not None:
        options = LabelMapOptions()
        description = source_description(instance_id, context)
        series_id = chosen_series_id(context.host, description, options)
        key = labelmap_key(context.host, series_id, options)
        found["Current"] = "Error" not in found and found.get("Key") == key
    return found


def source_status(instance_id: str, runner: JobRunner) -> dict[str, Any]:
    """``Automatic`` (the runs, each as far as its job once started), ``Jobs`` (those on the
    instance), ``CachedLabelMaps`` (one per set of options) and ``LabelMap`` (the attachment);
    404 where the instance is unknown."""
    context = runner.context
    host = context.host
    study_id = host.study_of("instances", instance_id)
    jobs = {
        record["ID"]: public(record)
        for record in runner.store.of_study(study_id)
        if record["Source"]["ID"] == instance_id
    }
    runs = (read_json_metadata(host, "instances", instance_id, STATUS_METADATA) or {}).get(
        "Runs", {}
    )
    automatic = []
    for key, run in runs.items():
        job = jobs.get(run.get("Job", ""))
        shown = {"Key": key, **{k: v for k, v in run.items() if k != "Node"}}
        if job is not None:
            shown.update(State=job["State"], Progress=job["Progress"])
        automatic.append(shown)
    return {
        "Automatic": automatic,
        "Jobs": list(jobs.values()),
        "CachedLabelMaps": context.cache.entries_of(instance_id),
        "LabelMap": attachment_status(instance_id, context),
    }
