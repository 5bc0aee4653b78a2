"""Small, careful readers of DICOM attributes shared by the core modules."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

from .errors import BrokenFileError


def first_item(dataset: Dataset, keyword: str) -> Dataset | None:
    """The first item of a sequence attribute, or None where it is absent or empty."""
    sequence = dataset.get(keyword)
    if not sequence:
        return None
    item: Dataset = sequence[0]
    return item


def float_values(value: Any, count: int, keyword: str) -> npt.NDArray[np.float64]:
    """A multi-valued decimal attribute as (count,) floats; :class:`BrokenFileError` otherwise."""
    try:
        array = np.array([float(v) for v in value], dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise BrokenFileError("Malformed attribute", f"{keyword}: {error}") from error
    if array.shape != (count,) or not np.all(np.isfinite(array)):
        raise BrokenFileError("Malformed attribute", f"{keyword} must hold {count} numbers")
    return array


def code_to_json(item: Dataset | None) -> dict[str, str] | None:
    """A code sequence item as {CodeValue, CodingSchemeDesignator, CodeMeaning}."""
    if item is None:
        return None
    value = item.get("CodeValue") or item.get("LongCodeValue") or item.get("URNCodeValue") or ""
    return {
        "CodeValue": str(value),
        "CodingSchemeDesignator": str(item.get("CodingSchemeDesignator", "")),
        "CodeMeaning": str(item.get("CodeMeaning", "")),
    }
