"""Values copied from a source into a derived object, cut to what their VR allows.

Sources break the limits (IBSI's StudyID has 17 characters, the SH maximum being 16); copying
them verbatim would make every converted object invalid. Cutting keeps the start of the value,
which still identifies the study for people; StudyInstanceUID identifies it for machines.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from pydicom.dataset import Dataset

logger = logging.getLogger(__name__)

#: Maximum value lengths (characters) of the text VRs of copied attributes (PS3.5 6.2).
MAX_LENGTH = {"SH": 16, "LO": 64, "CS": 16, "PN": 64, "DA": 8, "TM": 14}


def clip_to_vr(dataset: Dataset, keywords: Iterable[str]) -> None:
    """Cut single-valued text attributes of ``keywords`` in ``dataset`` to their VR's length."""
    for keyword in keywords:
        element = dataset.get(keyword) and dataset[keyword]
        if not element or element.VM != 1 or element.VR not in MAX_LENGTH:
            continue
        text = str(element.value)
        limit = MAX_LENGTH[element.VR]
        if len(text) > limit:
            logger.warning("%s cut to %d characters: %r", keyword, limit, text)
            element.value = text[:limit]
