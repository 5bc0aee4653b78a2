"""Objects segmesh stores back into Orthanc: Encapsulated STL instances of meshes.

- :mod:`.encapsulated_stl`: :func:`encapsulated_stl` builds one instance (deterministic UIDs,
  the source's patient, study and frame of reference), :class:`ModelFiles` the same as Part-10
  files, the attributes a request's models share encoded once; :func:`stl_document` reads one
  back;
- :mod:`.build`: :func:`build_model`, one model meshed and encoded (what a worker runs for
  :class:`segmesh.work.BuildModel`), :func:`write_model` one of a finished mesh, each as its
  :class:`ModelOutput` says (file, instance number, names, colour, triangle limit);
- :mod:`.icon`: the 64 x 64 front view stored as its icon.
"""

from .build import BuiltModel, ModelOutput, build_model, model_parameters, write_model
from .encapsulated_stl import (
    SERIES_NUMBER,
    ModelFiles,
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
    "ModelFiles",
    "ModelOutput",
    "ModelRequest",
    "ModelSource",
    "build_model",
    "encapsulated_stl",
    "icon_pixels",
    "model_label",
    "model_parameters",
    "stl_document",
    "write_model",
]
