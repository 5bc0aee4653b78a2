"""DICOM RT Structure Sets: reading ROIs as label maps, and writing them from masks.

- :mod:`.structure_set`: :func:`describe_rtstruct`: ROIs, references, what is not convertible;
- :mod:`.reader`: :func:`rtstruct_to_labelmap`: contours filled under the even-odd rule;
- :mod:`.contour_planes`: which slice each contour belongs to, and the native grid;
- :mod:`.polygon_fill`: exact even-odd fill at voxel centres;
- :mod:`.writer`: :func:`write_rtstruct` from masks (contours traced per slice);
- :mod:`.from_labelmap`: :func:`labelmap_to_rtstruct`, a label map (say, of a SEG) as an
  RT-STRUCT on its images, with deterministic UIDs.
"""

from .from_labelmap import labelmap_to_rtstruct
from .reader import rtstruct_to_labelmap
from .structure_set import describe_rtstruct
from .writer import RoiMask, mask_contours, write_rtstruct

__all__ = [
    "RoiMask",
    "describe_rtstruct",
    "labelmap_to_rtstruct",
    "mask_contours",
    "rtstruct_to_labelmap",
    "write_rtstruct",
]
