"""The script Orthanc loads (``"PythonScript"``): puts segmesh on the path and registers it.

Works from any Orthanc configuration: where the project's ``.venv`` exists beside this folder,
its site-packages are added so that segmesh's pinned dependencies are found.
"""

import os
import site
import sys

_PLUGIN_DIR = os.path.dirname(os.path.abspath(__file__))
_SITE_PACKAGES = os.path.join(
    os.path.dirname(_PLUGIN_DIR),
    ".venv",
    "lib",
    f"python{sys.version_info.major}.{sys.version_info.minor}",
    "site-packages",
)
if os.path.isdir(_SITE_PACKAGES):
    # In front of the system's dist-packages, so that the pinned versions win, but behind the
    # standard library: backports in the venv (e.g. ``dataclasses`` 0.6) must not shadow it.
    _before = list(sys.path)
    site.addsitedir(_SITE_PACKAGES)
    _standard = [p for p in _before if "-packages" not in p]
    sys.path[:] = (
        _standard
        + [p for p in sys.path if p not in _before]
        + [p for p in _before if p not in _standard]
    )
if _PLUGIN_DIR not in sys.path:
    sys.path.insert(0, _PLUGIN_DIR)

import segmesh.orthanc  # noqa: E402

segmesh.orthanc.register()
