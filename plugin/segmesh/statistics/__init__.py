"""Per-segment statistics of a label map (volumes, surface, position, size, image values).

- :mod:`.measures`: :func:`segment_statistics` and its :class:`SegmentStatistics`;
- :mod:`.rendering`: :func:`statistics_json` and :func:`statistics_csv` (the route's formats);
- :mod:`.histogram`: the histogram of an image series' values (the threshold dialog's).
"""

from .measures import PERCENTILES, ImageFigures, SegmentStatistics, segment_statistics
from .rendering import (
    CSV_COLUMNS,
    SIGNIFICANT_DIGITS,
    statistics_csv,
    statistics_json,
    to_json,
)

__all__ = [
    "CSV_COLUMNS",
    "PERCENTILES",
    "SIGNIFICANT_DIGITS",
    "ImageFigures",
    "SegmentStatistics",
    "segment_statistics",
    "statistics_csv",
    "statistics_json",
    "to_json",
]
