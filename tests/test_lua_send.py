"""The sample Lua script segmesh-models-job-and-send.lua: a stable study's SEG gets its models as
a segmesh job, and the new models (only them) reach a second Orthanc, as an Orthanc peer or as
a DICOM modality."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from segmesh.demo import DemoStudy
from tests.conftest import encode
from tests.orthanc_server import ROOT, OrthancServer, free_port

SCRIPT = ROOT / "orthanc-config" / "lua" / "segmesh-models-job-and-send.lua"
RECEIVER_AET = "RECEIVER"
ENCAPSULATED_STL_STORAGE = "1.2.840.10008.5.1.4.1.1.104.3"

#: Starts the receiver, then the sender with this ``SegMeshSendTo``; answers (sender, receiver).
StartPair = Callable[[dict[str, str]], tuple[OrthancServer, OrthancServer]]


def wait_for(condition: Callable[[], bool], server: OrthancServer, what: str) -> None:
    """Poll ``condition`` for up to 90 s; fail with the end of ``server``'s log."""
    deadline = time.monotonic() + 90
    while not condition():
        assert time.monotonic() < deadline, f"{what}:\n{server.log()[-4000:]}"
        time.sleep(0.3)


@pytest.fixture
def orthanc_pair(tmp_path: Path) -> Iterator[StartPair]:
    """Starts a receiving Orthanc, then a sender running the script with ``SegMeshSendTo``
    (given by the test) naming the receiver as a peer or a modality."""
    servers: list[OrthancServer] = []

    def start(send_to: dict[str, str]) -> tuple[OrthancServer, OrthancServer]:
        (tmp_path / "receiver").mkdir()
        (tmp_path / "sender").mkdir()
        receiver_dicom_port = free_port()
        receiver = OrthancServer(
            tmp_path / "receiver",
            {
                "Name": "receiver",
                "DicomAet": RECEIVER_AET,
                "DicomPort": receiver_dicom_port,
                # It only receives: no worker processes.
                "SegMesh": {"Workers": 0},
            },
        )
        receiver.start()
        servers.append(receiver)
        sender = OrthancServer(
            tmp_path / "sender",
            {
                "Name": "sender",
                "LuaScripts": [str(SCRIPT)],
                "StableAge": 1,
                "OrthancPeers": {"receiver": {"Url": receiver.url}},
                "DicomModalities": {
                    "receiver": {
                        "AET": RECEIVER_AET,
                        "Host": "127.0.0.1",
                        "Port": receiver_dicom_port,
                    }
                },
                "SegMeshSendTo": send_to,
            },
        )
        sender.start()
        servers.append(sender)
        return sender, receiver

    yield start
    for server in reversed(servers):
        server.stop()
        assert "Traceback" not in server.log()


def sop_instance_uid(server: OrthancServer, instance_id: str) -> str:
    return str(server.get(f"/instances/{instance_id}").json()["MainDicomTags"]["SOPInstanceUID"])


@pytest.mark.parametrize(
    ("send_to", "store_job_type"),
    [({"Peer": "receiver"}, "OrthancPeerStore"), ({"Modality": "receiver"}, "DicomModalityStore")],
    ids=["peer", "modality"],
)
def test_models_made_as_a_job_reach_the_receiver(
    orthanc_pair: StartPair,
    demo_study: DemoStudy,
    send_to: dict[str, str],
    store_job_type: str,
) -> None:
    sender, receiver = orthanc_pair(send_to)
    for image in demo_study.images:
        sender.upload(encode(image))
    seg_id = sender.upload(encode(demo_study.seg))

    # The script sends the models once the job has stored them; the study, stable again
    # after those, does not ask for them a second time.
    wait_for(lambda: "already asked for as job" in sender.log(), sender, "no second stable study")
    sent_jobs = [
        job
        for job in sender.get("/jobs", params={"expand": ""}).json()
        if job["Type"] == store_job_type
    ]
    assert len(sent_jobs) == 1, sender.log()[-4000:]
    wait_for(
        lambda: sender.get(f"/jobs/{sent_jobs[0]['ID']}").json()["State"] == "Success",
        sender,
        "the store job did not succeed",
    )

    jobs = sender.get(f"/instances/{seg_id}/segmesh/status").json()["Jobs"]
    assert [(job["Kind"], job["State"]) for job in jobs] == [("InstanceModels", "Success")]
    assert jobs[0]["Parameters"]["Asynchronous"] is True
    models = jobs[0]["Result"]["Instances"]
    assert sorted(model["Segment"] for model in models) == sorted(demo_study.masks)
    sent_uids = {sop_instance_uid(sender, model["ID"]) for model in models}
    assert len(sent_uids) == len(demo_study.masks)

    # The receiver holds the models and nothing else: neither the SEG nor the CT came along.
    received = receiver.get("/instances").json()
    assert {sop_instance_uid(receiver, i) for i in received} == sent_uids
    assert len(received) == len(sent_uids)
    first = receiver.get(f"/instances/{received[0]}/simplified-tags").json()
    assert first["SOPClassUID"] == ENCAPSULATED_STL_STORAGE
    assert first["StudyInstanceUID"] == demo_study.seg.StudyInstanceUID
    assert "Decimate" in first["DerivationAlgorithmSequence"][0]["AlgorithmParameters"]
    assert f"{len(models)} models of job {jobs[0]['ID']} sent with" in sender.log()
