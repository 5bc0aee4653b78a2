"""Models of a source, stored: what a route, a job or an automatic run asks for.

Each task meshes the segments of a label map (a SEG or RT-STRUCT, a thresholded image series,
a posted NIfTI), stores one Encapsulated STL instance per segment (or one merged) in a new
series of the source's study, and answers the JSON of the storing routes."""

from __future__ import annotations

import datetime
import hashlib
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from ...dicom.color import RGB
from ...errors import UnprocessableError
from ...geometry import VolumeGeometry
from ...labelmap import LabelMap, Segment
from ...mesh import MeshOptions, SegmentCrop, ThresholdOptions, segment_boxes
from ...mesh.threshold import THRESHOLD_COLOR
from ...mesh.threshold_slabs import slabs_allowed
from ...models import (
    BuiltModel,
    ModelFiles,
    ModelOutput,
    ModelRequest,
    ModelSource,
    model_label,
)
from ...options import LabelMapOptions
from ...work import (
    BuildModel,
    BuildSeriesModel,
    DescribeSeries,
    ReadNiftiLabelMap,
    ThresholdSeries,
    Work,
)
from ...worker_io.packed_files import temporary_path
from .. import store
from ..host import Host
from .context import TaskContext
from .labelmaps import load_labelmap
from .model_stores import ModelStores
from .outputs import SourceOutputs

P = TypeVar("P")


@dataclass(frozen=True)
class StoreOptions:
    """The common body of the storing routes
    (parsed by :func:`segmesh.requests.storing_bodies.store_options`)."""

    mesh: MeshOptions
    segments: tuple[int, ...] | None
    merge: bool
    tags: Mapping[str, Any]

    def parameters(self) -> dict[str, Any]:
        """What the models depend on (recorded, and part of their UIDs)."""
        return {
            **self.mesh.to_json(),
            "Segments": list(self.segments) if self.segments is not None else None,
            "Merge": self.merge,
        }


def store_models(
    labelmap: LabelMap,
    source: ModelSource,
    options: StoreOptions,
    series_description: str,
    context: TaskContext,
    outputs: SourceOutputs,
    extra_parameters: Mapping[str, Any] | None = None,
    also_held: Collection[int] = (),
) -> dict[str, Any]:
    """Mesh the segments, store one instance per segment (or one merged), answer the ids
    (see :func:`store_crops`); ``also_held`` are segments the source holds that the label map
    could not (asked for, they are no error)."""
    boxes = segment_boxes(labelmap, options.segments, also_held)
    skipped = [
        {"Segment": segment.number, "Label": segment.label, "Reason": "empty"}
        for segment, box in boxes
        if box is None
    ]
    # Each crop is cut as a worker is about to need it: the workers start on the first models
    # while this interpreter cuts the next.
    crops = (SegmentCrop.cut(labelmap, segment, box) for segment, box in boxes if box is not None)
    return store_crops(
        crops,
        len(boxes) - len(skipped),
        skipped,
        labelmap.geometry,
        source,
        options,
        series_description,
        context,
        outputs,
        extra_parameters,
    )


def store_crops(
    crops: Iterable[SegmentCrop],
    count: int,
    skipped: list[dict[str, Any]],
    geometry: VolumeGeometry,
    source: ModelSource,
    options: StoreOptions,
    series_description: str,
    context: TaskContext,
    outputs: SourceOutputs,
    extra_parameters: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Store the models of the ``count`` segments' ``crops`` on ``geometry``; ``skipped``
    those left out. Each model is meshed and encoded in a worker from its segment's crop
    (:class:`BuildModel`), see :func:`_store_plans`."""
    if not count:
        raise UnprocessableError("Nothing to mesh", "every asked segment is empty")

    def build(plan: _ModelPlan[SegmentCrop], output: ModelOutput) -> BuildModel:
        return BuildModel(crops=plan.parts, geometry=geometry, options=options.mesh, output=output)

    plans = _plans(((crop.segment, crop) for crop in crops), options.merge)
    total = 1 if options.merge else count
    return _store_plans(
        plans,
        total,
        build,
        skipped,
        source,
        options,
        series_description,
        context,
        outputs,
        extra_parameters,
    )


def _store_plans(
    plans: Iterable[_ModelPlan[P]],
    total: int,
    build: Callable[[_ModelPlan[P], ModelOutput], Work[BuiltModel]],
    skipped: list[dict[str, Any]],
    source: ModelSource,
    options: StoreOptions,
    series_description: str,
    context: TaskContext,
    outputs: SourceOutputs,
    extra_parameters: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Store the ``total`` models of ``plans``, each built by the unit of work ``build(plan,
    output)`` (answering a :class:`~segmesh.models.BuiltModel`), ``output`` naming its
    instance and its temporary file.

    Each model is built and encoded in a worker, its file written to a temporary file, and
    stored as it comes back (while the workers build the next ones), through ``outputs``: where
    the task then fails (a model above MaxTriangles, 413; a source deleted meanwhile, 410; a
    cancelled job; a dead worker), what it stored is deleted again, and nothing stays stored.
    Each model's printability report is in its item of the answer and kept with its instance
    (:func:`.printability.keep_printability`). Progress is reported and cancellation checked as
    each model comes back.
    """
    parameters = {**options.parameters(), **(extra_parameters or {})}
    request = ModelRequest(
        source, parameters, series_description, options.tags, options.mesh.preparation.scale_note
    )
    files = ModelFiles.of(
        request,
        datetime.datetime.now(),
        context.settings.deflate_models_above_megabytes * 2**20,
    )
    # The plans submitted and not yet stored, each with its model's temporary file.
    pending: deque[tuple[_ModelPlan[P], ExitStack]] = deque()

    def works() -> Iterator[Work[BuiltModel]]:
        for number, plan in enumerate(plans, start=1):
            temporary = ExitStack()
            pending.append((plan, temporary))
            output = ModelOutput(
                files=files,
                segment_key=plan.key,
                label=plan.label,
                color=plan.color,
                instance_number=number,
                max_triangles=context.settings.max_triangles,
                path=temporary.enter_context(temporary_path(".model.dcm")),
            )
            yield build(plan, output)

    metrics = context.metrics
    stores = ModelStores(context, outputs, total)
    built_models = context.workers.imap(works())
    try:
        with metrics.timed("segmesh_mesh_seconds_total"):
            # Each step of the thread handing the models over timed apart (the benchmark of a
            # thousand-model job reads them): where it waits for the workers, they are the
            # bottleneck; where it waits for the stores, Orthanc is.
            for model in metrics.timed_items(built_models, "segmesh_models_waiting_seconds_total"):
                plan, temporary = pending.popleft()
                context.check_cancelled()
                stores.add({"Segment": plan.segment, "Label": plan.label}, model, temporary)
            stores.finish()
        outputs.finish()
    except BaseException:
        # The stores under way end first: what they stored is deleted with the rest.
        stores.abandon()
        outputs.discard()
        raise
    finally:
        stores.close()
        built_models.close()
        for _, temporary in pending:
            temporary.close()
    return {"Series": stores.series, "Instances": stores.instances, "Skipped": skipped}


@dataclass(frozen=True)
class _ModelPlan(Generic[P]):
    """What one stored model is made of (its segments' ``parts``: crops, or nothing where its
    worker reads the source itself), and how the answer names it."""

    parts: tuple[P, ...]
    key: str
    label: str
    color: RGB
    segment: int | list[int]


def _plans(parts: Iterable[tuple[Segment, P]], merged: bool) -> Iterator[_ModelPlan[P]]:
    if not merged:
        for segment, part in parts:
            yield _ModelPlan(
                (part,), str(segment.number), segment.label, segment.color, segment.number
            )
        return
    every = tuple(parts)
    numbers = [segment.number for segment, _ in every]
    yield _ModelPlan(
        tuple(part for _, part in every),
        "merged:" + ",".join(str(n) for n in numbers),
        model_label([segment.label for segment, _ in every]),
        every[0][0].color,
        numbers,
    )


def _source_of(dataset: Dataset, labelmap: LabelMap) -> ModelSource:
    sop_instance_uid = str(dataset.SOPInstanceUID)
    return ModelSource(
        study=dataset,
        frame_of_reference_uid=labelmap.geometry.frame_of_reference_uid
        or str(dataset.get("FrameOfReferenceUID", "")),
        key=sop_instance_uid,
        instances=(
            (str(dataset.get("SeriesInstanceUID", "")), str(dataset.SOPClassUID), sop_instance_uid),
        ),
    )


def _study_dataset(host: Host, study_id: str) -> tuple[Dataset, list[str]]:
    """One instance of the study (for its patient and study attributes), and the distinct
    FrameOfReferenceUIDs of its series (first instance of each)."""
    first_instances = [
        store.series_instance_ids(host, series_id)[0]
        for series_id in store.study_series_ids(host, study_id)
    ]
    datasets = [store.read_instance(host, i, stop_before_pixels=True) for i in first_instances]
    frames = sorted(
        {str(ds.FrameOfReferenceUID) for ds in datasets if ds.get("FrameOfReferenceUID")}
    )
    return datasets[0], frames


def store_source_models(
    instance_id: str, options: StoreOptions, context: TaskContext
) -> dict[str, Any]:
    """Models of the segments of a stored SEG or RT-STRUCT."""
    # The whole label map (cached once for every route); the asked segments are picked here.
    loaded = load_labelmap(instance_id, LabelMapOptions(), context)
    kind = loaded.description.kind.value
    description = f"Models of {loaded.dataset.get('SeriesDescription') or kind}"
    # The referenced series too, where the label map is on its grid.
    sources = [("instances", instance_id), ("series", loaded.series_id)]
    answer = store_models(
        loaded.labelmap,
        _source_of(loaded.dataset, loaded.labelmap),
        options,
        description,
        context,
        SourceOutputs(sources, context.host),
        also_held=[skipped.number for skipped in loaded.description.skipped],
    )
    # Segments the label map could not hold (say, RT-STRUCT ROIs of points) are reported too.
    answer["Skipped"] = [
        {"Segment": skipped.number, "Label": skipped.label, "Reason": skipped.reason}
        for skipped in loaded.description.skipped
        if options.segments is None or skipped.number in options.segments
    ] + answer["Skipped"]
    return answer


def store_series_model(
    series_id: str, threshold: ThresholdOptions, options: StoreOptions, context: TaskContext
) -> dict[str, Any]:
    """The model of a thresholded image series (HU for CT).

    A worker fetches the series' files itself and thresholds them slice by slice: where the
    options allow (:func:`~segmesh.mesh.threshold_slabs.slabs_allowed`) it meshes them in
    slabs and writes the model itself, else it sends back the mask's bounding box and the
    source's attributes for another to mesh. Neither process holds the whole series, and the
    Orthanc process never parses it."""
    files = store.stored_series_files(context.host, series_id)
    if slabs_allowed(options.mesh):
        return _store_slab_model(series_id, files, threshold, options, context)
    series = context.workers.run(
        ThresholdSeries(files=files, threshold=threshold, settings=context.settings)
    )
    description = f"Model of {series.series_description or 'series'}"
    crops = [] if series.crop is None else [series.crop]
    return store_crops(
        crops,
        len(crops),
        [],
        series.geometry,
        series.source,
        options,
        description,
        context,
        SourceOutputs([("series", series_id)], context.host),
        threshold.to_json(),
    )


def _store_slab_model(
    series_id: str,
    files: Sequence[bytes],
    threshold: ThresholdOptions,
    options: StoreOptions,
    context: TaskContext,
) -> dict[str, Any]:
    """The model of a thresholded series meshed in slabs (:class:`BuildSeriesModel`): its mask
    never leaves the worker that reads it, and is never held whole."""
    series = context.workers.run(DescribeSeries(files=files, settings=context.settings))

    def build(plan: _ModelPlan[None], output: ModelOutput) -> BuildSeriesModel:
        return BuildSeriesModel(
            images=files,
            threshold=threshold,
            options=options.mesh,
            settings=context.settings,
            output=output,
        )

    segment = Segment(1, threshold.label, THRESHOLD_COLOR)
    return _store_plans(
        _plans([(segment, None)], options.merge),
        1,
        build,
        [],
        series.source,
        options,
        f"Model of {series.series_description or 'series'}",
        context,
        SourceOutputs([("series", series_id)], context.host),
        threshold.to_json(),
    )


def store_nifti_models(
    study_id: str,
    nifti: bytes,
    labels: Mapping[int, str],
    frame_of_reference_uid: str,
    options: StoreOptions,
    context: TaskContext,
) -> dict[str, Any]:
    """Models of the labels of a NIfTI label map, in the study ``study_id``.

    They take ``frame_of_reference_uid`` where given, else the study's where its series share
    one, else a new one derived from the file.
    """
    study, frames_of_reference = _study_dataset(context.host, study_id)
    digest = hashlib.sha256(nifti).hexdigest()
    frame_of_reference_uid = frame_of_reference_uid or (
        frames_of_reference[0]
        if len(frames_of_reference) == 1
        else generate_uid(entropy_srcs=["segmesh-nifti", digest])
    )
    labelmap = context.workers.run(
        ReadNiftiLabelMap(
            data=nifti,
            labels=labels,
            frame_of_reference_uid=frame_of_reference_uid,
            settings=context.settings,
        )
    )
    source = ModelSource(study, frame_of_reference_uid, f"nifti:{digest}:{study_id}")
    outputs = SourceOutputs([("studies", study_id)], context.host)
    return store_models(labelmap, source, options, "Models of a NIfTI label map", context, outputs)
