"""How meshes are built: smoothing filter, iterations and decimation, parsed from a request."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from ..errors import BadRequestError
from ..options import parse_number
from .sampling import Sampling

MAX_ITERATIONS = 500


class Smoothing(StrEnum):
    """Smoothing filters."""

    TAUBIN = "taubin"  # Laplacian with a shrink-compensating step: keeps volumes
    LAPLACIAN = "laplacian"  # plain umbrella operator: shrinks small structures
    NONE = "none"


@dataclass(frozen=True)
class MeshOptions:
    """How meshes are built: ``decimate`` is the fraction of triangles removed, in [0, 1);
    ``sampling`` the voxels marching cubes sees (every one by default)."""

    smoothing: Smoothing = Smoothing.TAUBIN
    iterations: int = 20
    decimate: float = 0.0
    sampling: Sampling = field(default_factory=Sampling)

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> MeshOptions:
        """Parse ``Smoothing``, ``Iterations``, ``Decimate``, ``Step`` or ``VoxelSize``
        (request body or query, any case)."""
        lowered = {str(key).lower(): value for key, value in values.items()}
        options = cls(sampling=Sampling.from_values(lowered))
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

    def to_json(self) -> dict[str, Any]:
        """JSON-ready parameters (recorded in the DICOM instance and its UIDs)."""
        return {
            "Smoothing": self.smoothing.value,
            "Iterations": self.iterations,
            "Decimate": self.decimate,
            **self.sampling.to_json(),
        }
