"""The preparation for printing as asked in a JSON body (``FillCavities``, ``Hollow``,
``KeepLargest``, ``TargetTriangles``, ``Base``, ``Scale``, keys in any case) or a query string
(``fill-cavities``, ``hollow-wall-mm``, ``drain-mm``, ``keep-largest``, ``target-triangles``,
``base-axis``, ``base-offset-mm``, ``base-point``, ``base-normal``, ``scale``, ``size-mm``);
each bad value a 400 naming the parameter as it was given."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import BadRequestError
from ..mesh.preparation import AXES, Base, Hollow, Preparation, Scale
from .values import parse_flag, parse_number

MAX_WALL_MM = 100.0
MAX_DRAIN_MM = 100.0
MAX_SCALE_FACTOR = 1000.0
MAX_SIZE_MM = 10000.0
MAX_KEEP_LARGEST = 100000
MIN_TARGET_TRIANGLES = 4


def preparation(lowered: Mapping[str, Any]) -> Preparation:
    """The preparation of a JSON body's lower-cased keys."""
    fill = parse_flag(lowered.get("fillcavities", False), "FillCavities")
    hollow = _hollow(lowered.get("hollow"))
    keep = _count(lowered.get("keeplargest"), "KeepLargest", 1, MAX_KEEP_LARGEST, False)
    target = _count(
        lowered.get("targettriangles"), "TargetTriangles", MIN_TARGET_TRIANGLES, None, False
    )
    return Preparation(fill, hollow, keep, target, _base(lowered.get("base")), _scale(lowered))


def preparation_of_query(lowered: Mapping[str, str]) -> Preparation:
    """The preparation of a query string's lower-cased keys."""
    fill = _query_flag(lowered.get("fill-cavities"), "fill-cavities")
    wall = _positive(lowered.get("hollow-wall-mm"), "hollow-wall-mm", MAX_WALL_MM, True)
    drain = _positive(lowered.get("drain-mm"), "drain-mm", MAX_DRAIN_MM, True)
    if drain is not None and wall is None:
        raise BadRequestError("Bad parameter drain-mm", "a drain needs hollow-wall-mm")
    hollow = None if wall is None else Hollow(wall, drain)
    keep = _count(lowered.get("keep-largest"), "keep-largest", 1, MAX_KEEP_LARGEST, True)
    target = _count(
        lowered.get("target-triangles"), "target-triangles", MIN_TARGET_TRIANGLES, None, True
    )
    return Preparation(fill, hollow, keep, target, _query_base(lowered), _query_scale(lowered))


def _query_flag(value: str | None, name: str) -> bool:
    if value is None or value.lower() in ("false", "0", ""):
        return False
    if value.lower() in ("true", "1"):
        return True
    raise BadRequestError(f"Bad parameter {name}", f"{value!r}: true or false")


def _positive(value: Any, name: str, maximum: float, text_allowed: bool) -> float | None:
    """A number in (0, ``maximum``], None where absent."""
    if value is None:
        return None
    number = parse_number(value, name, text_allowed=text_allowed)
    if not 0.0 < number <= maximum:
        raise BadRequestError(f"Bad parameter {name}", f"a positive number up to {maximum:g}")
    return number


def _count(
    value: Any, name: str, minimum: int, maximum: int | None, text_allowed: bool
) -> int | None:
    """An integer from ``minimum`` (to ``maximum``), None where absent."""
    if value is None:
        return None
    number = parse_number(value, name, text_allowed=text_allowed)
    if number != int(number) or number < minimum or (maximum is not None and number > maximum):
        limits = f"from {minimum}" + (f" to {maximum}" if maximum is not None else "")
        raise BadRequestError(f"Bad parameter {name}", f"an integer {limits}")
    return int(number)


def _object(value: Any, name: str, known: tuple[str, ...]) -> dict[str, Any]:
    """A JSON object's lower-cased keys; 400 for anything else, or for keys not ``known``."""
    if not isinstance(value, dict):
        raise BadRequestError(f"Bad parameter {name}", f"an object of {', '.join(known)}")
    lowered = {str(key).lower(): item for key, item in value.items()}
    unknown = sorted(set(lowered) - {key.lower() for key in known})
    if unknown:
        raise BadRequestError(f"Bad parameter {name}", f"{unknown}: use {', '.join(known)}")
    return lowered


def _hollow(value: Any) -> Hollow | None:
    if value is None:
        return None
    fields = _object(value, "Hollow", ("WallMm", "DrainMm"))
    wall = _positive(fields.get("wallmm"), "Hollow.WallMm", MAX_WALL_MM, False)
    if wall is None:
        raise BadRequestError("Missing parameter Hollow.WallMm", "the wall's thickness in mm")
    return Hollow(wall, _positive(fields.get("drainmm"), "Hollow.DrainMm", MAX_DRAIN_MM, False))


def _axis(value: Any, name: str) -> str:
    letter = str(value).upper()
    if letter not in AXES:
        raise BadRequestError(f"Bad parameter {name}", f"{value!r}: one of {', '.join(AXES)}")
    return letter


def _offset(value: Any, name: str, text_allowed: bool) -> float:
    if value is None:
        return 0.0
    offset = parse_number(value, name, text_allowed=text_allowed)
    if not 0.0 <= offset <= MAX_SIZE_MM:
        raise BadRequestError(f"Bad parameter {name}", f"mm from 0 to {MAX_SIZE_MM:g}")
    return offset


def _vector(value: Any, name: str, text_allowed: bool) -> tuple[float, float, float]:
    if isinstance(value, str) and text_allowed:
        value = value.split(",")
    if not isinstance(value, list) or len(value) != 3:
        raise BadRequestError(f"Bad parameter {name}", "three numbers (LPS mm)")
    x, y, z = (parse_number(item, name, text_allowed=text_allowed) for item in value)
    return x, y, z


def _plane(point: Any, normal: Any, names: tuple[str, str], text_allowed: bool) -> Base:
    """A base cut at ``point`` with ``normal`` towards the side removed."""
    direction = np.asarray(_vector(normal, names[1], text_allowed))
    length = float(np.linalg.norm(direction))
    if not length > 0.0 or not math.isfinite(length):
        raise BadRequestError(f"Bad parameter {names[1]}", "a non-zero vector")
    x, y, z = (float(item) for item in direction / length)
    return Base((x, y, z), point=_vector(point, names[0], text_allowed))


def _base(value: Any) -> Base | None:
    if value is None:
        return None
    fields = _object(value, "Base", ("Point", "Normal", "Axis", "OffsetMm"))
    if "axis" in fields:
        if "point" in fields or "normal" in fields:
            raise BadRequestError(
                "Bad parameter Base", "give Axis (and OffsetMm), or Point and Normal"
            )
        axis = _axis(fields["axis"], "Base.Axis")
        offset = _offset(fields.get("offsetmm"), "Base.OffsetMm", False)
        return Base(AXES[axis], axis=axis, offset_mm=offset)
    if "point" not in fields or "normal" not in fields or "offsetmm" in fields:
        raise BadRequestError("Bad parameter Base", "give Axis (and OffsetMm), or Point and Normal")
    return _plane(fields["point"], fields["normal"], ("Base.Point", "Base.Normal"), False)


def _query_base(lowered: Mapping[str, str]) -> Base | None:
    axis, offset = lowered.get("base-axis"), lowered.get("base-offset-mm")
    point, normal = lowered.get("base-point"), lowered.get("base-normal")
    if axis is not None:
        if point is not None or normal is not None:
            raise BadRequestError(
                "Bad parameter base-axis", "give base-axis or base-point and base-normal"
            )
        letter = _axis(axis, "base-axis")
        return Base(AXES[letter], axis=letter, offset_mm=_offset(offset, "base-offset-mm", True))
    if offset is not None:
        raise BadRequestError("Bad parameter base-offset-mm", "an offset needs base-axis")
    if point is None and normal is None:
        return None
    if point is None or normal is None:
        raise BadRequestError("Bad parameter base-point", "give base-point and base-normal")
    return _plane(point, normal, ("base-point", "base-normal"), True)


def _scale(lowered: Mapping[str, Any]) -> Scale | None:
    value = lowered.get("scale")
    if value is None:
        return None
    fields = _object(value, "Scale", ("Factor", "SizeMm"))
    factor = _positive(fields.get("factor"), "Scale.Factor", MAX_SCALE_FACTOR, False)
    size = _positive(fields.get("sizemm"), "Scale.SizeMm", MAX_SIZE_MM, False)
    if (factor is None) == (size is None):
        raise BadRequestError("Bad parameter Scale", "give one of Factor and SizeMm")
    return Scale(factor, size)


def _query_scale(lowered: Mapping[str, str]) -> Scale | None:
    factor = _positive(lowered.get("scale"), "scale", MAX_SCALE_FACTOR, True)
    size = _positive(lowered.get("size-mm"), "size-mm", MAX_SIZE_MM, True)
    if factor is not None and size is not None:
        raise BadRequestError("Bad parameters scale and size-mm", "give one of them")
    return None if factor is None and size is None else Scale(factor, size)
