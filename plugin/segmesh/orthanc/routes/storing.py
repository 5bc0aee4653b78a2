"""The handler every storing route shares: run the request now, or answer 202 with a job."""

from __future__ import annotations

from ...requests.storing_bodies import is_asynchronous
from ...service.jobs import JobRunner
from ...service.tasks.context import TaskContext
from ...service.tasks.storing import StoringKind
from ..http import Answer, Handler, Request


def storing_route(kind: StoringKind, context: TaskContext, runner: JobRunner) -> Handler:
    """A handler that runs a storing request of ``kind`` now, or answers 202 with a job where
    the body says ``"Asynchronous": true``."""

    def handle(request: Request) -> Answer:
        body = request.json_body()
        resource_id = request.groups[0]
        if is_asynchronous(body):
            record = runner.submit(kind.name, resource_id, body)
            return Answer.json({"ID": record["ID"], "Path": f"/segmesh/jobs/{record['ID']}"}, 202)
        return Answer.json(kind.prepare(resource_id, body)(context))

    return handle
