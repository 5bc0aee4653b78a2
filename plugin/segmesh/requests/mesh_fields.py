"""How meshes are asked for, in a JSON body or a query (keys in any case): the sampling, the
mesh options (with the preparation for printing), and the bounds of a threshold."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ..errors import BadRequestError
from ..mesh import MAX_ITERATIONS, MeshOptions, Sampling, Smoothing, ThresholdOptions
from ..mesh.preparation import Preparation
from ..mesh.sampling import MAX_STEP
from .preparation_fields import preparation, preparation_of_query
from .values import parse_number


def sampling(lowered: Mapping[str, Any]) -> Sampling:
    """Parse ``step`` and ``voxelsize`` of lower-cased request keys; one of them at most."""
    step, voxel_size = lowered.get("step"), lowered.get("voxelsize")
    if step is not None and voxel_size is not None:
        raise BadRequestError("Bad parameters Step and VoxelSize", "give one of them")
    if step is not None:
        number = parse_number(step, "Step")
        if number != int(number) or not 1 <= number <= MAX_STEP:
            raise BadRequestError("Bad parameter Step", f"an integer from 1 to {MAX_STEP}")
        return Sampling(step=int(number))
    if voxel_size is not None:
        size = parse_number(voxel_size, "VoxelSize")
        if size <= 0:
            raise BadRequestError("Bad parameter VoxelSize", "a positive size in mm")
        return Sampling(voxel_size=size)
    return Sampling()


def mesh_options(values: Mapping[str, Any]) -> MeshOptions:
    """Parse ``Smoothing``, ``Iterations``, ``Decimate``, ``Step`` or ``VoxelSize`` and the
    preparation for printing (:func:`segmesh.requests.preparation_fields.preparation`) of a
    JSON body (keys in any case)."""
    lowered = {str(key).lower(): value for key, value in values.items()}
    return _prepared(_mesh_basics(lowered), lowered, preparation(lowered))


def mesh_options_of_query(query: Mapping[str, str]) -> MeshOptions:
    """Parse the same options of a query string: ``smoothing``, ``iterations``, ``decimate``,
    ``step`` or ``voxelsize``, and the preparation's query forms
    (:func:`segmesh.requests.preparation_fields.preparation_of_query`)."""
    lowered = {str(key).lower(): value for key, value in query.items()}
    return _prepared(_mesh_basics(lowered), lowered, preparation_of_query(lowered))


def preview_mesh_options(query: Mapping[str, str]) -> MeshOptions:
    """The mesh options of a threshold preview's query: ``keep-largest`` is the threshold's
    (:func:`threshold_options_of_query`, on the whole mask), not again its crop's."""
    return mesh_options_of_query({k: v for k, v in query.items() if k != "keep-largest"})


def _prepared(
    options: MeshOptions, lowered: Mapping[str, Any], prepared: Preparation
) -> MeshOptions:
    if prepared.target_triangles is not None and lowered.get("decimate") is not None:
        raise BadRequestError(
            "Bad parameters Decimate and TargetTriangles", "give one of them, not both"
        )
    return replace(options, preparation=prepared)


def _mesh_basics(lowered: Mapping[str, Any]) -> MeshOptions:
    """The sampling, ``smoothing``, ``iterations`` and ``decimate`` of lower-cased keys."""
    options = MeshOptions(sampling=sampling(lowered))
    if lowered.get("smoothing") is not None:
        try:
            options = replace(options, smoothing=Smoothing(str(lowered["smoothing"]).lower()))
        except ValueError as error:
            raise BadRequestError(
                "Bad parameter Smoothing", f"{lowered['smoothing']!r}: taubin, laplacian, none"
            ) from error
    if lowered.get("iterations") is not None:
        iterations = parse_number(lowered["iterations"], "Iterations")
        if iterations != int(iterations) or not 0 <= iterations <= MAX_ITERATIONS:
            raise BadRequestError(
                "Bad parameter Iterations", f"an integer from 0 to {MAX_ITERATIONS}"
            )
        options = replace(options, iterations=int(iterations))
    if lowered.get("decimate") is not None:
        decimate = parse_number(lowered["decimate"], "Decimate")
        if not 0.0 <= decimate < 1.0:
            raise BadRequestError("Bad parameter Decimate", "a fraction in [0, 1)")
        options = replace(options, decimate=decimate)
    return options


def threshold_options(body: Mapping[str, Any]) -> ThresholdOptions:
    """Parse ``{"Threshold": lower, "Upper": optional, "KeepLargest": n}`` (JSON numbers)."""
    if "Threshold" not in body:
        raise BadRequestError("Missing parameter Threshold", "the lower bound, e.g. 300 (HU)")
    lower = parse_number(body["Threshold"], "Threshold", text_allowed=False)
    upper = (
        parse_number(body["Upper"], "Upper", text_allowed=False)
        if body.get("Upper") is not None
        else None
    )
    if upper is not None and upper < lower:
        raise BadRequestError("Bad parameter Upper", f"{upper} is below Threshold {lower}")
    keep = body.get("KeepLargest")
    if keep is not None and (isinstance(keep, bool) or not isinstance(keep, int) or keep < 1):
        raise BadRequestError("Bad parameter KeepLargest", "a positive integer")
    return ThresholdOptions(lower, upper, keep)


def threshold_options_of_query(query: Mapping[str, str]) -> ThresholdOptions:
    """Parse ``threshold``, ``upper`` and ``keep-largest`` of a query string: the same bounds
    as a body's, read as text first."""
    body: dict[str, Any] = {}
    for name, key in (("threshold", "Threshold"), ("upper", "Upper")):
        if query.get(name):
            body[key] = parse_number(query[name], key)
    keep = query.get("keep-largest")
    if keep:
        try:
            body["KeepLargest"] = int(keep)
        except ValueError as error:
            raise BadRequestError("Bad parameter keep-largest", "a positive integer") from error
    return threshold_options(body)
