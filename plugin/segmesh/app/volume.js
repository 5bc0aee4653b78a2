// The source grid with its label map and image, fetched once from segmesh's volume routes:
// planes are cut out of these arrays in the browser, so scrolling asks the server nothing.
import { parseNpy } from './dicom.js';

const dot = (a, b) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const norm = (a) => Math.hypot(a[0], a[1], a[2]);
const unit = (a) => a.map((v) => v / (norm(a) || 1));

async function fetchNpy(url) {
  const response = await fetch(url);
  if (!response.ok) {
    const error = await response.json().catch(() => ({}));
    throw new Error(`${response.status} ${error.Error || ''} ${error.Details || ''}`.trim());
  }
  return parseNpy(await response.arrayBuffer());
}

// Grid axes are numbered as in the affine: 0 = i (columns), 1 = j (rows), 2 = k (slices).
export class Volume {
  // grid: the JSON of /volume; layers: how many label layers (labels.npy's first axis).
  // Voxels come from loadPlanes() (the first view's three planes), then loadWhole().
  constructor(grid, layers) {
    [this.slices, this.rows, this.columns] = grid.Shape;
    this.size = [this.columns, this.rows, this.slices]; // along axes i, j, k
    this.strides = [1, this.columns, this.rows * this.columns];
    this.affine = grid.Affine;
    this.positions = grid.SlicePositions;
    this.uniform = grid.UniformSpacing;
    this.segments = grid.Segments;
    this.layers = layers;
    this.voxels = this.slices * this.rows * this.columns;
    // (layers, slices, rows, columns) labels and (slices, rows, columns) image (null where the
    // series is not stored), once loadWhole() has them.
    this.labels = null;
    this.image = null;
    this.planes = null; // the first view's planes until then (see loadPlanes)
    this.byColumn = null; // the same voxels ordered (i, k, j): see orderByColumn
    // Segment of each (layer, value): labels hold segment numbers in their segment's layer.
    this.byValue = Array.from({ length: this.layers }, () => new Map());
    for (const segment of this.segments) this.byValue[segment.Layer].set(segment.Value, segment);
  }

  // The first view's volume: the grid and the three planes through the centre voxel (a few
  // hundred kilobytes, cut by the server while the volumes would still be on their way),
  // drawn from as they are: no array of the whole grid is made yet (hundreds of megabytes to
  // zero and write into). ``partial`` until loadWhole(): voxels off those planes are unknown.
  static async loadPlanes(root, sourceId) {
    const base = `instances/${sourceId}/segmesh/volume`;
    const grid = fetch(new URL(base, root)).then(async (response) => {
      if (!response.ok) throw new Error(`volume: ${response.status} ${await response.text()}`);
      return response.json();
    });
    const labels = fetchNpy(new URL(`${base}/planes/labels.npy`, root));
    // No image (series not stored, colour images): the label map alone, on black.
    const image = fetchNpy(new URL(`${base}/planes/image.npy`, root)).catch(() => null);
    const [gridJson, labelPlanes, imagePlanes] = await Promise.all([grid, labels, image]);
    const volume = new Volume(gridJson, labelPlanes.shape[0]);
    volume.planes = {
      through: volume.size.map((n) => Math.floor(n / 2)),
      labels: labelPlanes.data,
      image: imagePlanes ? imagePlanes.data : null,
    };
    return volume;
  }

  get partial() {
    return this.planes !== null;
  }

  // Replace the first view's planes with the whole label map and image, fetched once.
  async loadWhole(root, sourceId) {
    const base = `instances/${sourceId}/segmesh/volume`;
    const labels = fetchNpy(new URL(`${base}/labels.npy`, root));
    const image = this.planes.image ? fetchNpy(new URL(`${base}/image.npy`, root)) : null;
    const [labelArray, imageArray] = await Promise.all([labels, image]);
    this.labels = labelArray.data;
    this.image = imageArray ? imageArray.data : null;
    this.planes = null;
  }

  // The arrangement of the first view's plane of fixed ``axis``: the planes routes' layout
  // (fixed k (rows, columns), fixed j (slices, columns), fixed i (slices, rows), one after
  // another in each layer), the fixed axis of stride 0.
  planeArrangement(axis) {
    const { slices: S, rows: R, columns: C } = this;
    const start = [R * C + S * C, R * C, 0][axis];
    const { image, labels } = this.planes;
    return {
      image: image ? image.subarray(start) : null,
      labels: labels.subarray(start),
      strides: [[0, 1, R], [1, 0, C], [1, C, 0]][axis],
      layerStride: R * C + S * C + S * R,
    };
  }

  // Image, labels (layer after layer, ``layerStride`` apart) and strides to cut the plane of
  // fixed ``axis`` from: the planes of fixed column i are cut from the column-ordered copy
  // once there is one.
  arrangement(axis) {
    if (this.planes) return this.planeArrangement(axis);
    if (axis === 0 && this.byColumn) return this.byColumn;
    return {
      image: this.image, labels: this.labels, strides: this.strides, layerStride: this.voxels,
    };
  }

  // The arrangement holding voxel ``ijk`` and its offset there; null off the first view's
  // planes while only those are known.
  locate(ijk) {
    let arrangement = null;
    if (!this.planes) arrangement = this.arrangement(2);
    else {
      const axis = [2, 1, 0].find((a) => ijk[a] === this.planes.through[a]);
      if (axis !== undefined) arrangement = this.planeArrangement(axis);
    }
    if (!arrangement) return null;
    const offset = [0, 1, 2].reduce((sum, a) => sum + ijk[a] * arrangement.strides[a], 0);
    return { ...arrangement, offset };
  }

  // Copy the voxels into (i, k, j) order, slice by slice, yielding to the page between
  // slices. In the stored order a plane of fixed i reads one voxel per cache line (a 512 x 300
  // plane, ~30 ms); in this order it is one contiguous block. Costs a second copy in memory.
  async orderByColumn() {
    const { slices: S, rows: R, columns: C } = this;
    const image = this.image ? new this.image.constructor(this.voxels) : null;
    const labels = new this.labels.constructor(this.labels.length);
    const tile = 32; // blocks that stay in the cache while they are transposed
    const start = performance.now();
    let since = start;
    for (let k = 0; k < S; k += 1) {
      const sources = [[this.image, image, 0], ...Array.from({ length: this.layers },
        (_, layer) => [this.labels, labels, layer * this.voxels])].filter(([from]) => from);
      for (const [from, to, layerOffset] of sources) {
        const source = layerOffset + k * R * C;
        const target = layerOffset + k * R;
        for (let j0 = 0; j0 < R; j0 += tile) {
          for (let i0 = 0; i0 < C; i0 += tile) {
            for (let j = j0; j < Math.min(R, j0 + tile); j += 1) {
              const row = source + j * C;
              for (let i = i0; i < Math.min(C, i0 + tile); i += 1) {
                to[target + i * S * R + j] = from[row + i];
              }
            }
          }
        }
      }
      if (performance.now() - since > 12) {
        await new Promise((resolve) => { setTimeout(resolve); });
        since = performance.now();
      }
    }
    this.byColumn = { image, labels, strides: [S * R, 1, R], layerStride: this.voxels };
    this.orderedIn = performance.now() - start; // ms, for the benchmark
  }

  // LPS direction (unit) of a grid axis, towards increasing index.
  direction(axis) {
    return unit([0, 1, 2].map((row) => this.affine[row][axis]));
  }

  // (n + 1) boundaries in mm along an axis, from 0: voxel n spans [edges[n], edges[n + 1]].
  // Slices are as thick as halfway to their neighbours: non-uniform spacing is kept.
  edges(axis) {
    const n = this.size[axis];
    const edges = new Float64Array(n + 1);
    const step = norm([0, 1, 2].map((row) => this.affine[row][axis])) || 1;
    if (axis !== 2 || n < 2) {
      for (let u = 0; u <= n; u += 1) edges[u] = u * step;
      return edges;
    }
    const normal = this.direction(2);
    const offsets = this.positions.map((p) => dot(p, normal));
    edges[0] = offsets[0] - (offsets[1] - offsets[0]) / 2;
    for (let k = 1; k < n; k += 1) edges[k] = (offsets[k - 1] + offsets[k]) / 2;
    edges[n] = offsets[n - 1] + (offsets[n - 1] - offsets[n - 2]) / 2;
    const start = edges[0];
    for (let u = 0; u <= n; u += 1) edges[u] -= start;
    return edges;
  }

  // Voxel centres in mm along an axis, from the same 0 as edges(): each slice at its own
  // position, which is not halfway between its edges where the spacing changes.
  centres(axis) {
    const edges = this.edges(axis);
    const n = this.size[axis];
    if (axis !== 2 || n < 2) return edges.slice(0, n).map((edge, u) => (edge + edges[u + 1]) / 2);
    const normal = this.direction(2);
    const offsets = this.positions.map((p) => dot(p, normal));
    const start = offsets[0] - (offsets[1] - offsets[0]) / 2;
    return Float64Array.from(offsets, (offset) => offset - start);
  }

  contains(ijk) {
    return ijk.every((v, axis) => Number.isInteger(v) && v >= 0 && v < this.size[axis]);
  }

  // LPS mm of a voxel centre: its slice's ImagePositionPatient plus the in-plane steps.
  lps(ijk) {
    const origin = this.positions[ijk[2]];
    return [0, 1, 2].map((row) => origin[row]
      + ijk[0] * this.affine[row][0] + ijk[1] * this.affine[row][1]);
  }

  // The voxel nearest to an LPS point (clamped to the grid): the slice by its offset along the
  // normal (non-uniform slices), then rows and columns in that slice.
  nearest(point) {
    const normal = this.direction(2);
    const along = dot(point, normal);
    let k = 0;
    for (let n = 1; n < this.slices; n += 1) {
      if (Math.abs(dot(this.positions[n], normal) - along)
        < Math.abs(dot(this.positions[k], normal) - along)) k = n;
    }
    const shift = point.map((v, row) => v - this.positions[k][row]);
    const [ci, cj] = [0, 1].map((axis) => [0, 1, 2].map((row) => this.affine[row][axis]));
    const i = Math.round(dot(shift, ci) / dot(ci, ci));
    const j = Math.round(dot(shift, cj) / dot(cj, cj));
    return [Math.min(Math.max(i, 0), this.columns - 1), Math.min(Math.max(j, 0), this.rows - 1), k];
  }

  // Image value (HU for CT) at a voxel, or null without an image (or off the first view's
  // planes while only those are known).
  value(ijk) {
    const at = this.locate(ijk);
    return at && at.image ? at.image[at.offset] : null;
  }

  // The segments whose voxels include this one (one per layer at most).
  segmentsAt(ijk) {
    const at = this.locate(ijk);
    if (!at) return [];
    const found = [];
    for (let layer = 0; layer < this.layers; layer += 1) {
      const segment = this.byValue[layer].get(at.labels[layer * at.layerStride + at.offset]);
      if (segment) found.push(segment);
    }
    return found;
  }
}
