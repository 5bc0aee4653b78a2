"""The label map of a SEG or RT-STRUCT stored in Orthanc: the one place every route, job and
automatic run asks, in order, this process's cache, the source's label-map attachment (made
by any node, see :mod:`.labelmap_attachment`), then decoding the source in a worker."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

from pydicom.dataset import Dataset

from ... import __version__, timings
from ...dicom.part10 import header_only
from ...errors import NotFoundError, UnprocessableError
from ...formats.export import Format
from ...options import Grid, LabelMapOptions
from ...source_description import SourceDescription
from ...sources import describe
from ...work import DecodedLabelMap, DecodeLabelMap, FileOut, NativeGrid, SeriesGrid
from ...worker_io.packed_files import temporary_path
from ...worker_io.storage_area import StoredFile
from .. import store
from ..host import Host
from ..loaded_source import LoadedSource, Origin
from . import labelmap_attachment
from .context import TaskContext


def referenced_series_id(host: Host, description: SourceDescription) -> str | None:
    """The Orthanc id of the first referenced series that is stored here, if any."""
    for uid in description.referenced_series_uids:
        identifier = host.series_id_of_uid(uid)
        if identifier:
            return identifier
    return None


def _stored_file(instance_id: str, context: TaskContext) -> StoredFile:
    """The source's file as the index names it; 404 where it is gone, its cache entries then
    dropped."""
    try:
        with timings.stage("index"):
            return store.instance_stored_file(context.host, instance_id)
    except NotFoundError:
        context.cache.forget(instance_id)
        raise


def source_description(instance_id: str, context: TaskContext) -> SourceDescription:
    """What a stored SEG or RT-STRUCT holds, read once per file of it; 404 where unknown."""
    stored = _stored_file(instance_id, context)
    return context.cache.description(
        instance_id, stored.uuid, lambda: describe(store.read_header(context.host, stored))
    )


def headers(images: Sequence[Dataset]) -> list[Dataset]:
    """``images`` without their pixel data (:func:`header_only`): what a conversion needs,
    small to send to a worker."""
    return [header_only(ds) for ds in images]


def chosen_series_id(
    host: Host, description: SourceDescription, options: LabelMapOptions
) -> str | None:
    """The Orthanc id of the referenced series whose grid ``options`` ask for (the source
    grid, the default where the series is stored), None for the native grid. grid=source
    answers 422 naming the missing series where it is not stored."""
    if options.grid is Grid.NATIVE:
        return None
    series_id = referenced_series_id(host, description)
    if series_id is None and options.grid is Grid.SOURCE:
        missing = ", ".join(description.referenced_series_uids) or "(none referenced)"
        raise UnprocessableError(
            "Referenced series not stored",
            f"grid=source needs the referenced series {missing}; use grid=native",
        )
    return series_id


@dataclass(frozen=True)
class SourceFile:
    """A source instance read out of Orthanc, before conversion: the ``path`` of its Part-10
    file on disk (what a worker reads), its header, and the series :func:`chosen_series_id`
    chose."""

    path: str
    dataset: Dataset
    description: SourceDescription
    series_id: str | None


@contextmanager
def read_source(
    stored: StoredFile, options: LabelMapOptions, context: TaskContext
) -> Iterator[SourceFile]:
    """The instance's file ``stored`` (:func:`store.instance_path`: in place, or a temporary
    copy removed on leaving), its header parsed and its grid chosen.

    The file is read while the description of that file is being made: a route
    asking :func:`source_description` meanwhile (the viewer asks several at once) waits for it
    instead of reading the file a second time."""
    with ExitStack() as stack:
        read: list[tuple[str, Dataset]] = []

        def opened() -> tuple[str, Dataset]:
            path = stack.enter_context(store.instance_path(context.host, stored))
            read.append((path, store.parse(path, stored.instance_id, stop_before_pixels=True)))
            return read[0]

        description = context.cache.description(
            stored.instance_id, stored.uuid, lambda: describe(opened()[1])
        )
        path, dataset = read[0] if read else opened()
        yield SourceFile(
            path, dataset, description, chosen_series_id(context.host, description, options)
        )


def series_digest(host: Host, series_id: str) -> str:
    """A digest of which instances the series holds now (their Orthanc ids, which Orthanc
    derives from their UIDs): it changes when an image is added or removed."""
    ids = sorted(store.series_instance_ids(host, series_id))
    return hashlib.sha256(",".join(ids).encode()).hexdigest()[:32]


def labelmap_key(host: Host, series_id: str | None, options: LabelMapOptions) -> dict[str, Any]:
    """What a label map with ``options`` on the grid of ``series_id`` (:func:`chosen_series_id`)
    is made of: segmesh's version, the options (the grid as chosen) and, on the source grid,
    the images it lies on."""
    digest = None if series_id is None else series_digest(host, series_id)
    return {
        "Version": __version__,
        "Segments": None if options.segments is None else list(options.segments),
        "Grid": (Grid.NATIVE if series_id is None else Grid.SOURCE).value,
        "Threshold": options.threshold,
        "Spacing": None if options.spacing is None else list(options.spacing),
        "Series": series_id,
        "Images": digest,
    }


def _decoded(
    source: SourceFile,
    options: LabelMapOptions,
    key: Mapping[str, Any],
    file_uuid: str,
    context: TaskContext,
    file_format: Format | None,
) -> LoadedSource:
    """Convert in a worker, which keeps only the images' headers (the grid needs no more).
    The source's file reaches it on disk, it fetches the series' files itself, and the layers
    come back in a file (:mod:`segmesh.worker_io.packed_files`): nothing large is pickled, and no
    image passes through Orthanc's interpreter. With ``file_format``, the worker also writes
    the label map as that file (:attr:`LoadedSource.file`)."""
    grid: SeriesGrid | NativeGrid = NativeGrid(spacing=options.spacing)
    if source.series_id:
        with timings.stage("index"):
            files = store.stored_series_files(context.host, source.series_id)
        grid = SeriesGrid(image_files=files)
    with (
        temporary_path(".labels", remove_later=True, in_memory=True) as layers_path,
        (
            temporary_path(".file", remove_later=True, in_memory=True)
            if file_format
            else nullcontext("")
        ) as file_path,
        context.metrics.timed("segmesh_decode_seconds_total"),
    ):
        sent = time.perf_counter()
        decoded = context.workers.run(
            DecodeLabelMap(
                source_path=source.path,
                grid=grid,
                segments=options.segments,
                threshold=options.threshold,
                settings=context.settings,
                layers_path=layers_path,
                description=source.description,
                file=None if file_format is None else FileOut(file_format, file_path),
            )
        )
        _add_worker_stages(decoded, sent, time.perf_counter())
        with timings.stage("layers-back"):
            labelmap = decoded.read()
            file = None if decoded.file is None else decoded.file.read()
    return LoadedSource(
        source.dataset,
        source.description,
        labelmap,
        source.series_id,
        decoded.planes,
        key,
        Origin.DECODED,
        file_uuid,
        file=file,
    )


def _add_worker_stages(decoded: DecodedLabelMap, sent: float, received: float) -> None:
    """The worker's stages, and handing the work over (``sent``: when it was) and back
    (``received``), told apart by when the worker began and ended where its clock is this
    process's (else both as the handover)."""
    began, ended = decoded.span
    apart = sent <= began <= ended <= received
    in_worker = sum(seconds for _, seconds in decoded.stages)
    timings.add("handover", began - sent if apart else received - sent - in_worker)
    for name, seconds in decoded.stages:
        timings.add(name, seconds)
    if apart:
        timings.add("handback", received - ended)


def _is_current(host: Host, loaded: LoadedSource, file_uuid: str) -> bool:
    """Whether a cached label map is of the source's file now (``file_uuid``: not deleted and
    stored anew under the same id) and lies on the images its series holds now."""
    if loaded.file_uuid != file_uuid:
        return False
    if loaded.series_id is None:
        return True
    try:
        return series_digest(host, loaded.series_id) == loaded.key["Images"]
    except NotFoundError:
        return False


def _held(instance_id: str, options: LabelMapOptions, context: TaskContext) -> LoadedSource | None:
    """The label map the cache holds for ``options``, or for the options that make the same
    one: where the referenced series is stored, the default grid is the source grid, so the
    viewer's label map (the default) serves ``grid=source`` downloads, and the other way round."""
    held = context.cache.peek(instance_id, options)
    if held is not None or options.grid is Grid.NATIVE:
        return held
    other = dataclasses.replace(options, grid=Grid.SOURCE if options.grid is None else None)
    held = context.cache.peek(instance_id, other)
    return held if held is not None and held.series_id is not None else None


def _no_image_volume() -> UnprocessableError:
    return UnprocessableError(
        "No image volume", "include=image needs the referenced series on grid=source"
    )


def load_labelmap(
    instance_id: str,
    options: LabelMapOptions,
    context: TaskContext,
    with_images: bool = False,
    with_image_pixels: bool = False,
    file_format: Format | None = None,
) -> LoadedSource:
    """The label map of ``instance_id`` with ``options``: from this process's cache, else the
    source's label-map attachment where it was made for the same key, else decoded.

    404 where the instance is gone, also where it went while it loaded (its cache entries are
    dropped, nothing is kept). ``with_images`` adds the referenced series' headers,
    ``with_image_pixels`` the images whole; that answers 422 without a source grid, before any
    conversion. ``file_format``: where it is decoded, the label map is also written as that
    file (:attr:`LoadedSource.file`), by the worker.
    """
    stored = _stored_file(instance_id, context)
    file_uuid = stored.uuid
    origin, images, file = Origin.CACHE, None, None

    def load() -> LoadedSource:
        nonlocal origin, images, file
        with ExitStack() as stack:
            with timings.stage("file"):
                source = stack.enter_context(read_source(stored, options, context))
            if with_image_pixels and source.series_id is None:
                raise _no_image_volume()
            with timings.stage("index"):
                key = labelmap_key(context.host, source.series_id, options)
            with timings.stage("attachment"):
                attached = labelmap_attachment.read(
                    context.host, instance_id, key, context.settings
                )
            if attached is None:
                loaded = _decoded(source, options, key, file_uuid, context, file_format)
            else:
                labelmap, planes = attached
                loaded = LoadedSource(
                    source.dataset,
                    source.description,
                    labelmap,
                    source.series_id,
                    planes,
                    key,
                    Origin.ATTACHMENT,
                    file_uuid,
                )
        # Deleted while it loaded: its DELETED change has passed, so it must not be kept.
        with timings.stage("index"):
            gone = not context.host.exists("instances", instance_id)
        if gone:
            raise NotFoundError("Unknown instance", instance_id)
        origin, images, file = loaded.origin, loaded.images, loaded.file
        # The images are never cached: the next request may want them otherwise, or not. The
        # file is, apart (:meth:`Cache.file`).
        return dataclasses.replace(loaded, images=None, file=None)

    loaded = _held(instance_id, options, context) or context.cache.get(instance_id, options, load)
    with timings.stage("index"):
        current = origin is not Origin.CACHE or _is_current(context.host, loaded, file_uuid)
    if not current:
        context.cache.forget(instance_id)
        loaded = context.cache.get(instance_id, options, load)
    if with_image_pixels and loaded.series_id is None:
        raise _no_image_volume()
    wanted = with_images or with_image_pixels
    if wanted and images is None and loaded.series_id is not None:
        images = store.read_series(
            context.host, loaded.series_id, stop_before_pixels=not with_image_pixels
        )
    return dataclasses.replace(loaded, origin=origin, images=images if wanted else None, file=file)
