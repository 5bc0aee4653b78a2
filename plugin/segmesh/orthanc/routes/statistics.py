"""``GET /instances/{id}/segmesh/statistics``: per-segment figures of a SEG or RT-STRUCT, as
JSON or CSV."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from ...errors import BadRequestError
from ...options import LabelMapOptions
from ...service.tasks.context import TaskContext
from ...service.tasks.statistics import source_statistics
from ...statistics import statistics_csv, statistics_json
from ..http import INSTANCE_ROUTE, Answer, Request, register_route


class StatisticsFormat(StrEnum):
    """What the route answers."""

    JSON = "json"
    CSV = "csv"


@dataclass(frozen=True)
class StatisticsRequest:
    """A parsed statistics request: the label map's options and the answer's format."""

    options: LabelMapOptions
    answer_format: StatisticsFormat

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> StatisticsRequest:
        """``format=json|csv`` (default json) and the options of
        :meth:`LabelMapOptions.from_query` (``segments``, ``grid``, ``threshold``, ``spacing``)."""
        options = LabelMapOptions.from_query(query)
        text = query.get("format") or StatisticsFormat.JSON.value
        try:
            answer_format = StatisticsFormat(text)
        except ValueError as error:
            raise BadRequestError("Bad parameter format", f"{text!r}: use json or csv") from error
        return cls(options, answer_format)


class StatisticsRoute:
    """The route, with the context its work runs in."""

    def __init__(self, context: TaskContext) -> None:
        self.context = context

    def statistics(self, request: Request) -> Answer:
        """Compute the statistics of one instance and answer them."""
        instance_id = request.groups[0]
        parsed = StatisticsRequest.from_query(request.query)
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
