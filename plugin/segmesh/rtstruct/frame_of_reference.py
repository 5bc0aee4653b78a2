"""The frame of reference each ROI of an RT-STRUCT is converted in, and the policy where it is
not that of the images.

- An ROI in the images' frame (its ReferencedFrameOfReferenceUID, in StructureSetROISequence)
  is converted as it is.
- An ROI in a frame that the structure set does not declare in its
  ReferencedFrameOfReferenceSequence, while it does declare the images' frame, is converted in
  the declared frame with a warning: the file is inconsistent, not foreign.
- An ROI in any other frame is foreign. Its contours are used only where each of them names an
  image of the series in its ContourImageSequence and lies on that image's plane: then the
  coordinates were evidently written in the images' space under a wrong UID (as rt-utils does),
  and the conversion carries a warning. Otherwise 422: the mask could be silently wrong.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pydicom.dataset import Dataset

from ..errors import UnprocessableError
from .contour_planes import Contour, Placement


def declared_frames(dataset: Dataset) -> tuple[str, ...]:
    """The FrameOfReferenceUIDs of ReferencedFrameOfReferenceSequence, in order."""
    uids = (
        str(item.get("FrameOfReferenceUID", "") or "")
        for item in dataset.get("ReferencedFrameOfReferenceSequence", [])
    )
    return tuple(dict.fromkeys(uid for uid in uids if uid))


def roi_frames(dataset: Dataset, default: str) -> dict[int, str]:
    """ROINumber -> its ReferencedFrameOfReferenceUID, ``default`` where it names none."""
    return {
        int(item.ROINumber): str(item.get("ReferencedFrameOfReferenceUID", "") or "") or default
        for item in dataset.get("StructureSetROISequence", [])
        if "ROINumber" in item
    }


def structure_set_frame(dataset: Dataset) -> str:
    """The structure set's frame of reference: the first ROI's where it is declared (or
    nothing is declared), else the first declared one, else ''."""
    declared = declared_frames(dataset)
    named = [uid for uid in roi_frames(dataset, "").values() if uid]
    for uid in named:
        if not declared or uid in declared:
            return uid
    return declared[0] if declared else ""


@dataclass
class RoiFrames:
    """How the frames of the selected ROIs relate to the images'.

    ``warnings`` maps an ROI number to the warnings of its conversion; ``foreign`` an ROI
    number to the frame it is in, for ROIs in neither the images' frame nor a declared stand-in
    for it (their contours need ContourImageSequence, see :func:`check_foreign_contours`).
    """

    warnings: dict[int, list[str]] = field(default_factory=dict)
    foreign: dict[int, str] = field(default_factory=dict)


def classify_frames(
    dataset: Dataset, numbers: Sequence[int], images_frame: str | None
) -> RoiFrames:
    """The frames of the ROIs ``numbers`` against ``images_frame`` (None on the native grid,
    where ROIs in an undeclared frame are converted in the structure set's)."""
    declared = declared_frames(dataset)
    default = structure_set_frame(dataset)
    frames = roi_frames(dataset, default)
    result = RoiFrames()
    for number in numbers:
        uid = frames.get(number, default)
        undeclared = bool(declared) and uid not in declared
        undeclared_text = (
            f"ROI {number} is in FrameOfReferenceUID {uid or '(none)'}, which the RT-STRUCT does "
            f"not declare in ReferencedFrameOfReferenceSequence ({', '.join(declared)})"
        )
        if images_frame is None or uid == images_frame:
            if undeclared:
                target = uid if images_frame else default
                result.warnings[number] = [f"{undeclared_text}; converted in {target}"]
        elif undeclared and images_frame in declared:
            result.warnings[number] = [
                f"{undeclared_text}; converted in the declared {images_frame}, the images' frame"
            ]
        else:
            result.foreign[number] = uid
    return result


def check_foreign_contours(
    frames: RoiFrames,
    images_frame: str,
    slices_of_image: Mapping[str, set[int]],
    placements: Mapping[int, Placement],
    contours: Mapping[int, list[Contour]],
) -> None:
    """422 unless every contour of each foreign ROI lies on an image (``slices_of_image``:
    SOPInstanceUID -> slices k) that it names; adds the foreign ROIs' warnings."""
    for number, uid in frames.foreign.items():
        mismatch = (
            f"FrameOfReferenceUID {uid or '(none)'} of the RT-STRUCT differs from "
            f"{images_frame} of the images"
        )
        placement = placements[number]
        for contour in contours[number]:
            k = placement.slices.get(contour.item)
            if k is None or not any(k in slices_of_image.get(u, ()) for u in contour.image_uids):
                raise UnprocessableError(
                    "Frame of reference mismatch",
                    f"{mismatch}, and contour {contour.item} of ROI {number} does not lie on an "
                    "image it names in ContourImageSequence",
                )
        frames.warnings.setdefault(number, []).append(
            f"{mismatch}; every contour lies on the image it references, so they were used"
        )
