"""``GET /instances/{id}/segmesh/statistics``: per-segment figures of a SEG or RT-STRUCT, as
JSON or CSV."""

from __future__ import annotations

from ...requests.labelmap_query import StatisticsFormat, statistics_request
from ...service.tasks.context import TaskContext
from ...service.tasks.statistics import source_statistics
from ...statistics import statistics_csv, statistics_json
from ..http import INSTANCE_ROUTE, Answer, Request, register_route


class StatisticsRoute:
    """The route, with the context its work runs in."""

    def __init__(self, context: TaskContext) -> None:
        self.context = context

    def statistics(self, request: Request) -> Answer:
        """Compute the statistics of one instance and answer them."""
        instance_id = request.groups[0]
        parsed = statistics_request(request.query)
        result = source_statistics(instance_id, parsed.options, self.context)
        if parsed.answer_format is StatisticsFormat.CSV:
            filename = f"{instance_id}-statistics.csv"
            return Answer(
                statistics_csv(result.segments).encode(),
                "text/csv",
                {"Content-Disposition": f'attachment; filename="{filename}"'},
            )
        return Answer.json(
            {
                "Kind": result.description.kind.value,
                "Grid": "native" if result.series_id is None else "source",
                "ImageSeries": result.series_id,
                **statistics_json(result.segments),
            }
        )

    def register(self) -> None:
        """Register the route."""
        register_route(
            f"{INSTANCE_ROUTE}/statistics", ("GET",), self.statistics, audit="segmesh-statistics"
        )
