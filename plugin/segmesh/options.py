"""What a caller asks of a label map conversion (parsed from a query by
:mod:`segmesh.requests.labelmap_query`)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Grid(StrEnum):
    """Which grid a label map is built on."""

    SOURCE = "source"  # exactly the referenced image series' shape and affine
    NATIVE = "native"  # the SEG's own planes, or a grid around RT-STRUCT contours


@dataclass(frozen=True)
class LabelMapOptions:
    """Options of a label map conversion.

    ``segments`` None means all; ``grid`` None means source where the referenced series is
    stored, else native; ``threshold`` is the fraction of MaximumFractionalValue at and above
    which a FRACTIONAL SEG pixel is inside; ``spacing`` (x, y, z) mm sets an RT-STRUCT native grid.
    """

    segments: tuple[int, ...] | None = None
    grid: Grid | None = None
    threshold: float = 0.5
    spacing: tuple[float, float, float] | None = None
