"""File formats: label maps out (NIfTI, NRRD, NPZ, HDF5), NIfTI label maps in, meshes out.

- :mod:`.export`: :class:`Format` and :func:`export`, the one entry point of the label-map route;
- :mod:`.nifti`, :mod:`.nrrd`, :mod:`.npz`, :mod:`.hdf5`: one module per label-map format;
  :func:`nifti_labelmap` reads a NIfTI label map;
- :mod:`.npy`: one array as .npy (the viewer's volumes);
- :mod:`.labelmap_file`: segmesh's own label-map file (what the label-map attachment holds);
- :mod:`.mesh_files`: binary STL, OBJ (and its MTL), PLY, GLB and 3MF of a mesh
  (:class:`MeshFormat`, named and coloured by an :class:`Appearance`);
- :mod:`.threemf`: 3MF packages of several named, coloured meshes (:func:`write_threemf`).
"""

from .export import ExportedFile, Format, export
from .hdf5 import to_hdf5
from .mesh_files import (
    Appearance,
    MeshFormat,
    binary_stl,
    crop_mesh_file,
    export_mesh,
    material_file,
    read_binary_stl,
)
from .nifti import image_to_nifti, nifti_labelmap, ras_affine, to_nifti
from .npy import to_npy
from .npz import to_npz
from .nrrd import nrrd_header, to_seg_nrrd
from .threemf import ThreeMFObject, threemf_file, write_threemf

__all__ = [
    "Appearance",
    "ExportedFile",
    "Format",
    "MeshFormat",
    "ThreeMFObject",
    "binary_stl",
    "crop_mesh_file",
    "export",
    "export_mesh",
    "image_to_nifti",
    "material_file",
    "nifti_labelmap",
    "nrrd_header",
    "ras_affine",
    "read_binary_stl",
    "threemf_file",
    "to_hdf5",
    "to_nifti",
    "to_npy",
    "to_npz",
    "to_seg_nrrd",
    "write_threemf",
]
