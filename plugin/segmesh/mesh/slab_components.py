"""The largest connected components (6-connectivity) of a mask given slice by slice, found in
two passes over its slices without holding it whole.

The first pass labels each block of slices on its own (``scipy.ndimage.label``), counts each
label's voxels and links the labels of voxels facing each other across consecutive blocks; the
links join labels into components (``scipy.sparse.csgraph.connected_components``). The second
pass reads the slices again, labels each block the same way and keeps the voxels of the kept
components. Ties are broken as :func:`segmesh.mesh.threshold.keep_largest` breaks them: of
equal sizes, the component whose first voxel (in slice, row, column order) comes later.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage, sparse
from scipy.sparse import csgraph

from ..labelmap import BoolArray

IntArray = npt.NDArray[np.int64]

#: Slices labelled at a time: int32 labels of a 1024 x 1024 scan's block take 64 MB.
BLOCK_SLICES = 16


def _blocks(slices: Iterable[BoolArray], size: int) -> Iterator[BoolArray]:
    """(n, rows, columns) blocks of ``size`` consecutive slices (the last may be shorter)."""
    held: list[BoolArray] = []
    for plane in slices:
        held.append(plane)
        if len(held) == size:
            yield np.stack(held)
            held = []
    if held:
        yield np.stack(held)


def _labelled(block: BoolArray) -> tuple[npt.NDArray[np.int32], int]:
    labels = np.empty(block.shape, dtype=np.int32)
    return labels, int(ndimage.label(block, output=labels))


@dataclass(frozen=True)
class _Labels:
    """What the first pass found: each block's first label number (labels of block b are
    ``offsets[b] + 1 ...``), and each label's ``component``."""

    offsets: list[int]
    component: IntArray


def _first_pass(slices: Iterable[BoolArray], block_slices: int) -> tuple[_Labels, IntArray]:
    """Labels of every block, linked across blocks; and (components,) their voxel counts."""
    offsets: list[int] = []
    sizes: list[IntArray] = []
    links: list[npt.NDArray[np.int64]] = []
    offset = 0
    below: npt.NDArray[np.int64] | None = None  # the last slice's labels, numbered globally
    for block in _blocks(slices, block_slices):
        labels, count = _labelled(block)
        offsets.append(offset)
        sizes.append(np.bincount(labels.ravel(), minlength=count + 1)[1:].astype(np.int64))
        first = labels[0].astype(np.int64)
        first[first > 0] += offset
        if below is not None:
            facing = (below > 0) & (first > 0)
            pairs = np.stack([below[facing], first[facing]], axis=1)
            links.append(np.unique(pairs, axis=0))
        below = labels[-1].astype(np.int64)
        below[below > 0] += offset
        offset += count
    if not offset:
        return _Labels(offsets, np.zeros(0, dtype=np.int64)), np.zeros(0, dtype=np.int64)
    # Label n (1-based) is node n - 1.
    edges = np.concatenate(links) - 1 if links else np.zeros((0, 2), dtype=np.int64)
    graph = sparse.coo_matrix(
        (np.ones(len(edges), dtype=np.int8), (edges[:, 0], edges[:, 1])), shape=(offset, offset)
    )
    _, component = csgraph.connected_components(graph, directed=False)
    component = component.astype(np.int64)
    voxels = np.concatenate(sizes) if sizes else np.zeros(0, dtype=np.int64)
    # Components numbered in the order of their first voxel: their least label.
    first_label = np.full(int(component.max(initial=-1)) + 1, offset, dtype=np.int64)
    np.minimum.at(first_label, component, np.arange(offset, dtype=np.int64))
    rank = np.empty(len(first_label), dtype=np.int64)
    rank[np.argsort(first_label, kind="stable")] = np.arange(len(first_label))
    component = rank[component]
    counts = np.bincount(component, weights=voxels, minlength=len(first_label)).astype(np.int64)
    return _Labels(offsets, component), counts


def largest_components(
    read_slices: Callable[[], Iterable[BoolArray]],
    count: int,
    block_slices: int = BLOCK_SLICES,
) -> Iterator[BoolArray]:
    """The (rows, columns) slices of the ``count`` largest components of the mask whose slices
    ``read_slices()`` gives in order, each call anew (it is called twice: the mask is never
    held, only ``block_slices`` slices and a few figures per label).

    The same voxels as :func:`segmesh.mesh.threshold.keep_largest` of the whole mask."""
    found, counts = _first_pass(read_slices(), block_slices)
    kept = np.zeros(len(counts), dtype=bool)
    if len(counts) <= count:
        kept[:] = True
    else:
        kept[np.argsort(counts, kind="stable")[::-1][:count]] = True
    # Label -> kept, label 0 (outside) not.
    kept_label = np.concatenate([[False], kept[found.component]])
    for b, block in enumerate(_blocks(read_slices(), block_slices)):
        labels, _ = _labelled(block)
        offset = found.offsets[b]
        for plane in labels:
            yield kept_label[np.where(plane > 0, plane.astype(np.int64) + offset, 0)]
