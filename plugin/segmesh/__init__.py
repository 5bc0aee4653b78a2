"""segmesh: DICOM SEG and RT-STRUCT to label maps, meshes and overlays.

The package is a pure core (no ``orthanc`` import) plus the adapter :mod:`segmesh.orthanc`,
which is the only module that talks to Orthanc.
"""

__version__ = "0.2.0"
