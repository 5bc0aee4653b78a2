"""``GET /instances/{id}/segmesh/status``: what was generated from this instance, when, with
which parameters and by which job, or the error; and its label-map attachment."""

from __future__ import annotations

import json
from typing import Any

from ...options import LabelMapOptions
from .. import store
from ..automatic import status_path
from ..cache import LabelMapCache
from ..http import INSTANCE_ROUTE, Answer, Request, register_route
from ..jobs import JobRunner, public
from ..jobs.runner import study_of_resource
from ..tasks import labelmap_attachment
from ..tasks.context import TaskContext
from ..tasks.labelmaps import chosen_series_id, labelmap_key, source_description


def attachment_status(instance_id: str, context: TaskContext) -> dict[str, Any] | None:
    """The label-map attachment (:func:`labelmap_attachment.describe`) and whether it is
    ``Current``: made for the key the routes' default options have now (this version of
    segmesh, the images the referenced series holds now)."""
    found = labelmap_attachment.describe(instance_id)
    if found is not None:
        options = LabelMapOptions()
        series_id = chosen_series_id(source_description(instance_id, context), options)
        found["Current"] = "Error" not in found and found.get("Key") == labelmap_key(
            series_id, options
        )
    return found


def register(runner: JobRunner, cache: LabelMapCache) -> None:
    """Register the route; ``CachedLabelMaps`` counts the label maps of the instance that this
    node holds in its cache (one per set of options; overlays use them)."""

    def status(request: Request) -> Answer:
        instance_id = request.groups[0]
        store.instance_summary(instance_id)
        study_id = study_of_resource("instances", instance_id)
        jobs = {
            record["ID"]: public(record)
            for record in runner.store.of_study(study_id)
            if record["Source"]["ID"] == instance_id
        }
        current = runner.store.metadata.read(status_path(instance_id))
        automatic = []
        for key, run in (json.loads(current.text)["Runs"] if current else {}).items():
            job = jobs.get(run.get("Job", ""))
            shown = {"Key": key, **{k: v for k, v in run.items() if k != "Node"}}
            if job is not None:
                # Once started, a run is as far as its job.
                shown.update(State=job["State"], Progress=job["Progress"])
            automatic.append(shown)
        return Answer.json(
            {
                "Automatic": automatic,
                "Jobs": list(jobs.values()),
                "CachedLabelMaps": cache.entries_of(instance_id),
                "LabelMap": attachment_status(instance_id, runner.context),
            }
        )

    register_route(f"{INSTANCE_ROUTE}/status", ("GET",), status)
