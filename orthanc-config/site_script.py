"""A site's own ``PythonScript`` with segmesh loaded beside it.

orthanc-python loads one script and gives it one of each callback below. Here the site keeps
them: segmesh registers its routes and hands over what would take a single slot (its
stored-instance handler where automatic runs are configured, its Orthanc Explorer extension, its
viewer as the plugin's root URI), and the site's own callbacks call them. segmesh uses no
change callback and no incoming-request filter: those are the site's alone.

Configuration: ``"PythonScript": "/etc/orthanc/site_script.py"``, with segmesh's ``plugin``
folder at ``/opt/segmesh/plugin`` (or named by ``SEGMESH_PLUGIN_DIR``).
"""

import json
import os
import sys

import orthanc

# segmesh's plugin folder on the path, then the two lines that load segmesh.
sys.path.insert(0, os.environ.get("SEGMESH_PLUGIN_DIR", "/opt/segmesh/plugin"))
import segmesh_loader  # noqa: E402

segmesh = segmesh_loader.load(single_slots=False)

# The site's own work (here it only counts what it sees, and answers the counts on a route).
seen = {"NewInstance": 0, "StableStudy": 0, "Stored": 0}


def on_change(change_type, level, resource_id):
    if change_type == orthanc.ChangeType.NEW_INSTANCE:
        seen["NewInstance"] += 1
    elif change_type == orthanc.ChangeType.STABLE_STUDY:
        seen["StableStudy"] += 1


def on_stored_instance(dicom, instance_id):
    seen["Stored"] += 1
    if segmesh.on_stored_instance is not None:
        segmesh.on_stored_instance(dicom, instance_id)


def site_changes(output, uri, **request):
    output.AnswerBuffer(json.dumps(seen), "application/json")


orthanc.RegisterOnChangeCallback(on_change)
orthanc.RegisterOnStoredInstanceCallback(on_stored_instance)
orthanc.RegisterRestCallback("/site/changes", site_changes)
orthanc.ExtendOrthancExplorer("/* the site's own extension */\n" + segmesh.explorer_javascript)
orthanc.SetRootUri(segmesh.root_uri)
