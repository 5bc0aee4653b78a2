// The crosshair: one voxel [i, j, k] shared by the three planes (and the 3D marker). Each
// plane shows it as two lines in the colours of the planes they stand for.

export const PLANE_COLOURS = { axial: '#e55', coronal: '#5c5', sagittal: '#59f' };

export class Cursor {
  constructor(volume) {
    this.volume = volume;
    this.ijk = volume.size.map((n) => Math.floor(n / 2));
    this.listeners = [];
  }

  // Move to ``ijk`` (clamped to the grid); listeners get the axes that changed. It stays
  // while only the first view's planes are loaded: other planes are not known yet.
  set(ijk) {
    if (this.volume.partial) return;
    const clamped = ijk.map((v, axis) => Math.min(this.volume.size[axis] - 1, Math.max(0, v)));
    const changed = [0, 1, 2].filter((axis) => clamped[axis] !== this.ijk[axis]);
    if (!changed.length) return;
    this.ijk = clamped;
    for (const listener of this.listeners) listener(changed);
  }

  // Step ``steps`` voxels along one grid axis (scrolling a plane).
  step(axis, steps) {
    const ijk = [...this.ijk];
    ijk[axis] += steps;
    this.set(ijk);
  }

  onChange(listener) {
    this.listeners.push(listener);
  }
}

// Lines through the cursor on ``view``'s crosshair canvas: the vertical line is the plane
// that keeps the view's across axis fixed, the horizontal one the plane keeping its down axis.
export function drawCrosshair(view, cursor, layouts) {
  const canvas = view.crosshairCanvas;
  const context = canvas.getContext('2d');
  context.clearRect(0, 0, canvas.width, canvas.height);
  const planeOf = (axis) => Object.values(layouts).find((layout) => layout.fixed === axis).name;
  const [x, y] = view.toCanvas(cursor.ijk).map((v) => Math.round(v) + 0.5);
  const gap = 6 * (window.devicePixelRatio || 1); // the voxel itself stays visible
  context.lineWidth = 1;
  context.strokeStyle = PLANE_COLOURS[planeOf(view.layout.h.axis)];
  context.beginPath();
  context.moveTo(x, 0);
  context.lineTo(x, y - gap);
  context.moveTo(x, y + gap);
  context.lineTo(x, canvas.height);
  context.stroke();
  context.strokeStyle = PLANE_COLOURS[planeOf(view.layout.v.axis)];
  context.beginPath();
  context.moveTo(0, y);
  context.lineTo(x - gap, y);
  context.moveTo(x + gap, y);
  context.lineTo(canvas.width, y);
  context.stroke();
}
