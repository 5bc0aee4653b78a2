"""File formats: label maps out (NIfTI, NRRD, NPZ, HDF5), NIfTI label maps in, meshes out.

- :mod:`.export`: :class:`Format` and :func:`export`, the one entry point of the label-map route;
- :mod:`.nifti`, :mod:`.nrrd`, :mod:`.npz`, :mod:`.hdf5`: one module per label-map format;
  :func:`nifti_labelmap` reads a NIfTI label map;
- :mod:`.npy`: one array as .npy (the viewer's volumes);
- :mod:`.labelmap_file`: segmesh's own label-map file (what the label-map attachment holds);
- :mod:`.mesh_files`: binary STL, OBJ, PLY and GLB of a mesh (:class:`MeshFormat`).
"""

from .export import ExportedFile, Format, export
from .hdf5 import to_hdf5
from .mesh_files import MeshFormat, binary_stl, crop_mesh_file, export_mesh, read_binary_stl
from .nifti import image_to_nifti, nifti_labelmap, ras_affine, to_nifti
from .npy import to_npy
from .npz import to_npz
from .nrrd import nrrd_header, to_seg_nrrd

__all__ = [
    "ExportedFile",
    "Format",
    "MeshFormat",
    "binary_stl",
    "crop_mesh_file",
    "export",
    "export_mesh",
    "image_to_nifti",
    "nifti_labelmap",
    "nrrd_header",
    "ras_affine",
    "read_binary_stl",
    "to_hdf5",
    "to_nifti",
    "to_npy",
    "to_npz",
    "to_seg_nrrd",
]
