"""What a caller asks of a label map conversion, parsed from query parameters."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .errors import BadRequestError


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

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> LabelMapOptions:
        """Parse ``segments=1,4``, ``grid=source|native``, ``threshold=0.5``, ``spacing=x,y,z``."""
        segments = None
        if query.get("segments"):
            segments = parse_integers(query["segments"], "segments")
        grid = None
        if query.get("grid"):
            try:
                grid = Grid(query["grid"])
            except ValueError as error:
                raise BadRequestError(
                    "Bad parameter grid", f"{query['grid']!r}: use source or native"
                ) from error
        threshold = 0.5
        if "threshold" in query:
            threshold = parse_number(query["threshold"], "threshold")
            if not 0.0 < threshold <= 1.0:
                raise BadRequestError("Bad parameter threshold", "must be in (0, 1]")
        spacing = None
        if query.get("spacing"):
            values = [parse_number(v, "spacing") for v in query["spacing"].split(",")]
            if len(values) != 3 or min(values) <= 0:
                raise BadRequestError("Bad parameter spacing", "give three positive mm: x,y,z")
            spacing = (values[0], values[1], values[2])
        return cls(segments, grid, threshold, spacing)


def parse_number(value: Any, name: str, text_allowed: bool = True) -> float:
    """A finite number from a query string or a JSON value; 400 naming ``name`` otherwise.

    Booleans are refused (JSON ``true`` is not 1); ``text_allowed`` False refuses strings, for
    JSON bodies whose numbers must be JSON numbers."""
    if isinstance(value, bool) or (isinstance(value, str) and not text_allowed):
        raise BadRequestError(f"Bad parameter {name}", f"{value!r} is not a number")
    try:
        number = float(value)
    except (TypeError, ValueError) as error:
        raise BadRequestError(f"Bad parameter {name}", f"{value!r} is not a number") from error
    if not math.isfinite(number):
        raise BadRequestError(f"Bad parameter {name}", f"{value!r} is not finite")
    return number


def parse_integers(text: str, name: str) -> tuple[int, ...]:
    """``1,4,7`` as integers; 400 naming ``name`` otherwise."""
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError as error:
        raise BadRequestError(
            f"Bad parameter {name}", f"{text!r}: give numbers separated by commas"
        ) from error


def parse_segment_list(value: Any, name: str = "Segments") -> tuple[int, ...] | None:
    """A JSON body's list of segment numbers (None where absent); 400 for anything but a
    non-empty list of integers."""
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(n, int) and not isinstance(n, bool) for n in value)
    ):
        raise BadRequestError(f"Bad parameter {name}", "a non-empty list of segment numbers")
    return tuple(value)
