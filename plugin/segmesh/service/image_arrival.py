"""Whether a source's referenced images have all arrived: every image it names stored, and
each series unchanged for ``StableAge`` seconds by its ``LastUpdate``. Both are read from the
database, which every node shares (Orthanc's own stable events are per node)."""

from __future__ import annotations

import datetime

from .host import Host


def _seconds_since(orthanc_time: str) -> float:
    # Orthanc writes LastUpdate in local time, segmesh's records in UTC.
    then = datetime.datetime.strptime(orthanc_time, "%Y%m%dT%H%M%S")
    return (datetime.datetime.now() - then).total_seconds()


def missing_images(host: Host, images: dict[str, set[str]], stable_age: int) -> str | None:
    """None where every image of ``images`` (SeriesInstanceUID -> SOPInstanceUIDs) is stored
    and its series stable, else what is missing."""
    for series_uid, sop_instance_uids in images.items():
        series_id = host.series_id_of_uid(series_uid)
        if series_id is None:
            return f"the referenced series {series_uid} is not stored"
        series = host.summary("series", series_id)
        stored = {
            str(instance["MainDicomTags"].get("SOPInstanceUID"))
            for instance in host.series_instances(series_id)
        }
        missing = sop_instance_uids - stored
        if missing:
            return f"{len(missing)} of the referenced images of {series_uid} are not stored"
        if _seconds_since(series["LastUpdate"]) < stable_age:
            return f"the series {series_uid} is not stable yet"
    return None
