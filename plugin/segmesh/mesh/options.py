"""How meshes are built: smoothing filter, iterations and decimation (parsed from a request by
:func:`segmesh.requests.mesh_fields.mesh_options`)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from .preparation import Preparation
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
    ``sampling`` the voxels marching cubes sees (every one by default); ``preparation`` for
    printing (nothing by default)."""

    smoothing: Smoothing = Smoothing.TAUBIN
    iterations: int = 20
    decimate: float = 0.0
    sampling: Sampling = field(default_factory=Sampling)
    preparation: Preparation = field(default_factory=Preparation)

    def for_parts(self) -> MeshOptions:
        """The options of each part of a merged model (see :meth:`Preparation.for_parts`)."""
        return replace(self, preparation=self.preparation.for_parts())

    def to_json(self) -> dict[str, Any]:
        """JSON-ready parameters (recorded in the DICOM instance and its UIDs)."""
        return {
            "Smoothing": self.smoothing.value,
            "Iterations": self.iterations,
            "Decimate": self.decimate,
            **self.sampling.to_json(),
            **self.preparation.to_json(),
        }
