"""Per-segment statistics of a label map (volumes, surface, position, size, image values).

- :mod:`.measures`: :func:`segment_statistics` and its :class:`SegmentStatistics`;
- :mod:`.image_values`: :func:`image_figures`, the image values inside each segment
  (:class:`ImageFigures`; :func:`streamed_image_figures` from the image slice by slice),
  which may be found apart and joined by :func:`with_image_figures`;
- :mod:`.rendering`: :func:`statistics_json` and :func:`statistics_csv` (the route's formats);
- :mod:`.histogram`: the histogram of an image series' values (the threshold dialog's).
"""

from .image_values import PERCENTILES, ImageFigures, image_figures, streamed_image_figures
from .measures import BoxValues, SegmentStatistics, segment_statistics, with_image_figures
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
    "BoxValues",
    "ImageFigures",
    "SegmentStatistics",
    "image_figures",
    "segment_statistics",
    "statistics_csv",
    "statistics_json",
    "streamed_image_figures",
    "to_json",
    "with_image_figures",
]
