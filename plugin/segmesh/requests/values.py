"""The values every request is made of: flags, numbers, lists of segment numbers, DICOM tag
overrides; each a 400 naming its parameter where it is bad."""

from __future__ import annotations

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
