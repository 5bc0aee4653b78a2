"""``GET /segmesh/jobs``, ``GET|DELETE /segmesh/jobs/{id}``: segmesh's own jobs."""

from __future__ import annotations

from ...service.jobs import JobRunner, public
from ..http import Answer, Request, register_route


def register(runner: JobRunner) -> None:
    """Register the job routes."""

    def jobs(request: Request) -> Answer:
        # Job records live on the studies (see jobs.records): every study is looked at.
        study_ids = runner.context.host.studies()
        return Answer.json([public(record) for record in runner.store.all(study_ids)])

    def job(request: Request) -> Answer:
        job_id = request.groups[0]
        if request.method == "DELETE":
            return Answer.json(public(runner.cancel(job_id)))
        return Answer.json(public(runner.store.get(job_id)))

    register_route(r"/segmesh/jobs", ("GET",), jobs)
    register_route(r"/segmesh/jobs/([^/]+)", ("GET", "DELETE"), job)
