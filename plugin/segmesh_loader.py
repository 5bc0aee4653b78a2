"""Loads segmesh into the running Orthanc: from segmesh's own ``PythonScript``
(``segmesh_plugin.py``) or from a site's own script, which orthanc-python allows only one of.

A site's script adds this folder to ``sys.path`` and calls :func:`load` with
``single_slots=False``: segmesh then registers its routes but leaves what orthanc-python gives a
plugin one of (the stored-instance callback, the Orthanc Explorer extension, the root URI) to
the site, whose own callbacks call the handlers :func:`load` returns (sample:
``orthanc-config/site_script.py``).

Where the project's ``.venv`` exists beside this folder, its site-packages are added to the path
so that segmesh's pinned dependencies are found.
"""

from __future__ import annotations

import os
import site
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from segmesh.orthanc import SingleSlotHandlers

_PLUGIN_DIR = os.path.dirname(os.path.abspath(__file__))


def _add_paths() -> None:
    site_packages = os.path.join(
        os.path.dirname(_PLUGIN_DIR),
        ".venv",
        "lib",
        f"python{sys.version_info.major}.{sys.version_info.minor}",
        "site-packages",
    )
    if os.path.isdir(site_packages) and site_packages not in sys.path:
        # In front of the system's dist-packages, so that the pinned versions win, but behind the
        # standard library: backports in the venv (e.g. ``dataclasses`` 0.6) must not shadow it.
        before = list(sys.path)
        site.addsitedir(site_packages)
        standard = [p for p in before if "-packages" not in p]
        sys.path[:] = (
            standard
            + [p for p in sys.path if p not in before]
            + [p for p in before if p not in standard]
        )
    if _PLUGIN_DIR not in sys.path:
        sys.path.insert(0, _PLUGIN_DIR)


def load(single_slots: bool = True) -> SingleSlotHandlers:
    """Register segmesh with the running Orthanc; with ``single_slots`` False, its
    stored-instance handler, Explorer extension and root URI are returned for the site's script
    to use, not registered."""
    _add_paths()
    import segmesh.orthanc

    return segmesh.orthanc.register(single_slots)
