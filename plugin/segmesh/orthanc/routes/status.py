"""``GET /instances/{id}/segmesh/status``: what was generated from this instance, when, with
which parameters and by which job, or the error."""

from __future__ import annotations

import json

from .. import store
from ..automatic import status_path
from ..cache import LabelMapCache
from ..http import INSTANCE_ROUTE, Answer, Request, register_route
from ..jobs import JobRunner, public
from ..jobs.runner import study_of_resource


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
            }
        )

    register_route(f"{INSTANCE_ROUTE}/status", ("GET",), status)
