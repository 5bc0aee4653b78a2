"""The values every request is made of: flags, numbers, lists of segment numbers, DICOM tag
overrides; each a 400 naming its parameter where it is bad."""

from __future__ import annotations

import math
from typing import Any

from ..errors import BadRequestError


def parse_flag(value: Any, name: str) -> bool:
    """A JSON boolean; 400 naming ``name`` for anything else (``"true"`` and 1 too)."""
    if not isinstance(value, bool):
        raise BadRequestError(f"Bad parameter {name}", "true or false")
    return value


def parse_tags(value: Any) -> dict[str, Any]:
    """``Tags``: an object of DICOM keywords to values (the caller checks them against the
    dictionary, with whatever else it sets)."""
    if not isinstance(value, dict):
        raise BadRequestError("Bad parameter Tags", "an object of DICOM keywords to values")
    return value


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
