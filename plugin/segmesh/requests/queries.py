"""The small query arguments of the viewer's and the preview routes: a voxel, a histogram's
bins, one segment's number, a list of them."""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import BadRequestError
from ..images.cross_sections import Voxel
from ..statistics.histogram import MAX_BINS
from .values import parse_integers


def voxel_of_query(query: Mapping[str, str]) -> Voxel | None:
    """``voxel=i,j,k`` (whole numbers), or None where absent (the centre); 400 where malformed.
    Whether it lies inside the grid is the core's check (its grid is not known here)."""
    text = query.get("voxel")
    if not text:
        return None
    parts = text.split(",")
    if len(parts) != 3 or not all(part.strip().isdigit() for part in parts):
        raise BadRequestError("Bad parameter voxel", f"{text!r}: give i,j,k (whole numbers)")
    return (int(parts[0]), int(parts[1]), int(parts[2]))


def histogram_bins(text: str | None) -> int:
    """``bins`` of a query: an integer from 1 to :data:`MAX_BINS`, 256 where absent."""
    if not text:
        return 256
    try:
        bins = int(text)
    except ValueError as error:
        raise BadRequestError("Bad parameter bins", f"{text!r} is not an integer") from error
    if not 1 <= bins <= MAX_BINS:
        raise BadRequestError("Bad parameter bins", f"an integer from 1 to {MAX_BINS}")
    return bins


def segment_number(text: str | None) -> int | None:
    """``segment=n`` of a model's query: None where absent (the only segment)."""
    if not text:
        return None
    try:
        return int(text)
    except ValueError as error:
        raise BadRequestError("Bad parameter segment", f"{text!r}") from error


def segment_numbers(text: str | None) -> tuple[int, ...] | None:
    """``segments=1,3,7`` of a model's query: None where absent (every segment); 400 where
    malformed or empty. Whether the source holds them is the task's check."""
    if text is None:
        return None
    numbers = parse_integers(text, "segments")
    if not numbers:
        raise BadRequestError("Bad parameter segments", "give segment numbers, e.g. 1,3,7")
    return numbers
