"""Stage timings (segmesh.timings): recorded per thread only inside ``recording``, added up by
name in the ``Server-Timing`` header, in the order each stage first ended."""

from __future__ import annotations

import threading
import time

from segmesh import timings


def test_stages_add_up_by_name_in_order() -> None:
    with timings.recording() as stages:
        timings.add("index", 0.002)
        with timings.stage("decode"):
            time.sleep(0.01)
        timings.add("index", 0.003)
    assert [name for name, _ in stages] == ["index", "decode", "index"]
    assert stages[1][1] >= 0.01
    header = timings.server_timing(stages)
    names = [part.split(";")[0] for part in header.split(", ")]
    assert names == ["index", "decode"]
    assert header.startswith("index;dur=5.0, decode;dur=")


def test_nothing_is_kept_outside_a_recording_nor_from_another_thread() -> None:
    timings.add("lost", 1.0)
    with timings.recording() as stages:
        other = threading.Thread(target=timings.add, args=("elsewhere", 1.0))
        other.start()
        other.join()
        with timings.recording() as inner:
            timings.add("inner", 1.0)
        timings.add("outer", 1.0)
    assert inner == [("inner", 1.0)]
    assert stages == [("outer", 1.0)]
