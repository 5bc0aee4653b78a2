"""Objects segmesh stores back into Orthanc: Encapsulated STL instances of meshes.

- :mod:`.encapsulated_stl`: :func:`encapsulated_stl` builds one instance (deterministic UIDs,
  the source's patient, study and frame of reference); :func:`stl_document` reads one back;
- :mod:`.build`: :func:`build_model`, one model meshed and encoded (a worker's unit of work);
- :mod:`.icon`: the 64 x 64 front view stored as its icon.
"""

from .build import BuiltModel, build_model
from .encapsulated_stl import (
    SERIES_NUMBER,
    ModelRequest,
    ModelSource,
    encapsulated_stl,
    model_label,
    stl_document,
)
from .icon import ICON_SIZE, icon_pixels

__all__ = [
    "ICON_SIZE",
    "SERIES_NUMBER",
    "BuiltModel",
    "ModelRequest",
    "ModelSource",
    "build_model",
    "encapsulated_stl",
    "icon_pixels",
    "model_label",
    "stl_document",
]
