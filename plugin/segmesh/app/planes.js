// The three planes of the source grid, each in radiological orientation: axial with the
// patient's left on the screen's right and anterior up, coronal and sagittal with superior up
// (sagittal: anterior on the left). Pixels are drawn with their physical size: non-square
// pixels and non-uniform slices keep their millimetres, never stretched.
import { planePixels } from './plane_pixels.js';

// For each plane: the LPS axis (0 x, 1 y, 2 z) of its normal, and which LPS axis goes across
// (towards the right) and down the screen, with +1 where that axis's positive end is right or
// down (LPS: +x is the patient's left, +y posterior, +z superior).
const PLANES = {
  axial: { normal: 2, across: [0, 1], down: [1, 1] },
  coronal: { normal: 1, across: [0, 1], down: [2, -1] },
  sagittal: { normal: 0, across: [1, 1], down: [2, -1] },
};
const NAMES = Object.keys(PLANES);

function permutations(items) {
  if (items.length < 2) return [items];
  return items.flatMap((item, n) => permutations(items.filter((_, m) => m !== n))
    .map((rest) => [item, ...rest]));
}

// A display axis: grid axis, flip, voxel count, voxel boundaries and centres in mm in display
// order.
function displayAxis(volume, axis, flip) {
  const n = volume.size[axis];
  const edges = volume.edges(axis);
  const centres = volume.centres(axis);
  return {
    axis,
    flip,
    n,
    edges: flip ? edges.map((_, u) => edges[n] - edges[n - u]) : edges,
    centres: flip ? centres.map((_, u) => edges[n] - centres[n - 1 - u]) : centres,
    gridIndex: (u) => (flip ? n - 1 - u : u),
  };
}

// {axial, coronal, sagittal}: each {fixed grid axis, h, v display axes}. The grid axis each
// plane keeps fixed is the one whose direction best matches that plane's normal.
export function planeLayouts(volume) {
  const directions = [0, 1, 2].map((axis) => volume.direction(axis));
  const score = (order) => order.reduce(
    (sum, axis, n) => sum + Math.abs(directions[axis][PLANES[NAMES[n]].normal]), 0);
  const best = permutations([0, 1, 2]).reduce((a, b) => (score(b) > score(a) ? b : a));
  const layouts = {};
  NAMES.forEach((name, n) => {
    const fixed = best[n];
    const [first, second] = [0, 1, 2].filter((axis) => axis !== fixed);
    const [acrossAxis, acrossSign] = PLANES[name].across;
    const h = Math.abs(directions[first][acrossAxis]) >= Math.abs(directions[second][acrossAxis])
      ? first : second;
    const v = h === first ? second : first;
    const [downAxis, downSign] = PLANES[name].down;
    layouts[name] = {
      name,
      fixed,
      h: displayAxis(volume, h, Math.sign(directions[h][acrossAxis]) !== acrossSign),
      v: displayAxis(volume, v, Math.sign(directions[v][downAxis]) !== downSign),
    };
  });
  return layouts;
}

// Index u of the voxel under position ``mm`` along a display axis, or -1 outside.
function voxelAt(axis, mm) {
  if (mm < 0 || mm >= axis.edges[axis.n]) return -1;
  let low = 0;
  let high = axis.n - 1;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (axis.edges[middle] <= mm) low = middle;
    else high = middle - 1;
  }
  return low;
}

export class PlaneView {
  // root: the plane's element holding canvas.plane-image and canvas.plane-crosshair.
  constructor(root, volume, layout) {
    this.root = root;
    this.volume = volume;
    this.layout = layout;
    this.canvas = root.querySelector('.plane-image');
    this.crosshairCanvas = root.querySelector('.plane-crosshair');
    this.context = this.canvas.getContext('2d', { willReadFrequently: true });
    this.voxels = document.createElement('canvas'); // the plane at voxel resolution
    this.voxels.width = layout.h.n;
    this.voxels.height = layout.v.n;
    this.voxelContext = this.voxels.getContext('2d');
    this.pixels = this.voxelContext.createImageData(layout.h.n, layout.v.n);
    this.zoom = 1;
    this.pan = [0, 0]; // canvas pixels
    this.drawn = 0;
    this.timings = []; // milliseconds of each draw
  }

  // Canvas pixels per mm and the canvas position of the plane's top-left corner.
  transform() {
    const { h, v } = this.layout;
    const { width, height } = this.canvas;
    const widthMm = h.edges[h.n];
    const heightMm = v.edges[v.n];
    const scale = Math.min(width / widthMm, height / heightMm) * this.zoom;
    return {
      scale,
      x: (width - widthMm * scale) / 2 + this.pan[0],
      y: (height - heightMm * scale) / 2 + this.pan[1],
    };
  }

  // Canvas size follows the element (device pixels); true if it changed.
  fit() {
    const ratio = window.devicePixelRatio || 1;
    const box = this.root.querySelector('.plane-canvases');
    const width = Math.max(1, Math.round(box.clientWidth * ratio));
    const height = Math.max(1, Math.round(box.clientHeight * ratio));
    if (this.canvas.width === width && this.canvas.height === height) return false;
    for (const canvas of [this.canvas, this.crosshairCanvas]) {
      canvas.width = width;
      canvas.height = height;
    }
    return true;
  }

  // Draw the plane through ``cursor`` (the crosshair voxel [i, j, k]) in ``style``.
  draw(cursor, style) {
    const start = performance.now();
    const { h, v, fixed } = this.layout;
    this.fit();
    planePixels(this.volume, this.layout, cursor[fixed], style, this.pixels);
    this.voxelContext.putImageData(this.pixels, 0, 0);
    const { context, canvas } = this;
    const { scale, x, y } = this.transform();
    context.setTransform(1, 0, 0, 1, 0, 0);
    context.fillStyle = '#000';
    context.fillRect(0, 0, canvas.width, canvas.height);
    context.imageSmoothingEnabled = false;
    // Strips along the axis whose voxels differ in size (non-uniform slices), their edges
    // rounded to whole pixels so that they neither overlap nor leave gaps; one image otherwise.
    // Pixel centres then map to voxels exactly as toCanvas and fromCanvas say.
    const width = h.edges[h.n] * scale;
    const height = v.edges[v.n] * scale;
    const strip = (axis, n, origin) => [Math.round(origin + axis.edges[n] * scale),
      Math.round(origin + axis.edges[n + 1] * scale)];
    const stripped = (axis) => !this.volume.uniform && axis.axis === 2;
    if (stripped(h)) {
      for (let u = 0; u < h.n; u += 1) {
        const [left, right] = strip(h, u, x);
        context.drawImage(this.voxels, u, 0, 1, v.n, left, y, right - left, height);
      }
    } else if (stripped(v)) {
      for (let w = 0; w < v.n; w += 1) {
        const [top, bottom] = strip(v, w, y);
        context.drawImage(this.voxels, 0, w, h.n, 1, x, top, width, bottom - top);
      }
    } else {
      context.drawImage(this.voxels, 0, 0, h.n, v.n, x, y, width, height);
    }
    this.drawn += 1;
    this.canvas.dataset.drawn = String(this.drawn);
    this.canvas.dataset.index = String(cursor[fixed]);
    this.timings.push(performance.now() - start);
    if (this.timings.length > 1000) this.timings.shift();
  }

  // Canvas pixel [x, y] of the centre of voxel [i, j, k] (its in-plane position).
  toCanvas(ijk) {
    const { h, v } = this.layout;
    const { scale, x, y } = this.transform();
    const u = h.gridIndex(ijk[h.axis]);
    const w = v.gridIndex(ijk[v.axis]);
    return [x + h.centres[u] * scale, y + v.centres[w] * scale];
  }

  // The voxel [i, j, k] under canvas pixel [x, y], with ``fixedIndex`` on the fixed axis, or
  // null outside the plane.
  fromCanvas(point, fixedIndex) {
    const { h, v, fixed } = this.layout;
    const { scale, x, y } = this.transform();
    const u = voxelAt(h, (point[0] - x) / scale);
    const w = voxelAt(v, (point[1] - y) / scale);
    if (u < 0 || w < 0) return null;
    const ijk = [0, 0, 0];
    ijk[h.axis] = h.gridIndex(u);
    ijk[v.axis] = v.gridIndex(w);
    ijk[fixed] = fixedIndex;
    return ijk;
  }

  // Canvas pixel of a mouse event.
  eventPoint(event) {
    const box = this.canvas.getBoundingClientRect();
    return [(event.clientX - box.left) * (this.canvas.width / box.width),
      (event.clientY - box.top) * (this.canvas.height / box.height)];
  }

  // Zoom by ``factor`` keeping canvas point ``at`` where it is.
  zoomAt(factor, at) {
    const zoom = Math.min(32, Math.max(0.25, this.zoom * factor));
    const applied = zoom / this.zoom;
    const { width, height } = this.canvas;
    // The plane is centred, then panned: keep (at - centre - pan) scaled about ``at``.
    this.pan = [0, 1].map((n) => {
      const centre = (n === 0 ? width : height) / 2;
      return at[n] - centre - (at[n] - centre - this.pan[n]) * applied;
    });
    this.zoom = zoom;
  }

  resetView() {
    this.zoom = 1;
    this.pan = [0, 0];
  }
}
