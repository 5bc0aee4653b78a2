"""The script Orthanc loads (``"PythonScript"``) where segmesh is its only Python plugin. A site
with a script of its own loads segmesh from it instead (see ``segmesh_loader``)."""

import segmesh_loader

segmesh_loader.load()
