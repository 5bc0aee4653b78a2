// One plane of the volume as RGBA pixels at voxel resolution, in display order: the windowed
// image with the segments blended on top (the overlay route's colours, layers and outline).

// Packed RGBA (little-endian: R in the low byte) of a segment's colour.
export function segmentColour({ Color: [r, g, b] }) {
  return (255 << 24 | b << 16 | g << 8 | r) >>> 0;
}

// Packed RGBA of each label value of each layer, 0 where the value is no shown segment. Each
// table holds every segment of its layer (shown or not): showing one sets its entry alone.
export function colourTables(volume, visible) {
  return Array.from({ length: volume.layers }, (_, layer) => {
    const segments = volume.segments.filter((s) => s.Layer === layer);
    const table = new Uint32Array(segments.reduce((most, s) => Math.max(most, s.Value), 0) + 1);
    for (const segment of segments) {
      if (visible.has(segment.Number)) table[segment.Value] = segmentColour(segment);
    }
    return table;
  });
}

// Voxel offsets of the plane's pixels: pixel (u, w) is voxel base + across[u] + down[w].
function offsets(strides, layout, fixedIndex) {
  const { h, v, fixed } = layout;
  const line = (axis) => Int32Array.from({ length: axis.n },
    (_, u) => axis.gridIndex(u) * strides[axis.axis]);
  return { base: fixedIndex * strides[fixed], across: line(h), down: line(v) };
}

// A labelled pixel with a 4-neighbour of another value, or on the border, is on the outline.
function outlineOf(labels, width, height) {
  const edge = new Uint8Array(labels.length);
  for (let w = 0; w < height; w += 1) {
    for (let u = 0; u < width; u += 1) {
      const p = w * width + u;
      const value = labels[p];
      if (!value) continue;
      edge[p] = u === 0 || w === 0 || u === width - 1 || w === height - 1
        || labels[p - 1] !== value || labels[p + 1] !== value
        || labels[p - width] !== value || labels[p + width] !== value ? 1 : 0;
    }
  }
  return edge;
}

// Fill ``out`` (ImageData of layout.h.n x layout.v.n) with the plane at ``fixedIndex``.
// style: {window: [width, level], opacity 0..1, outline, tables (colourTables)}.
export function planePixels(volume, layout, fixedIndex, style, out) {
  const {
    image, labels: voxelLabels, strides, layerStride,
  } = volume.arrangement(layout.fixed);
  const { base, across, down } = offsets(strides, layout, fixedIndex);
  const width = across.length;
  const height = down.length;
  const rgba = new Uint32Array(out.data.buffer);
  const [windowWidth, level] = style.window;
  const low = level - windowWidth / 2;
  for (let w = 0, p = 0; w < height; w += 1) {
    const row = base + down[w];
    for (let u = 0; u < width; u += 1, p += 1) {
      const grey = image
        ? Math.max(0, Math.min(255, Math.round(((image[row + across[u]] - low) / windowWidth) * 255)))
        : 0;
      rgba[p] = (255 << 24 | grey << 16 | grey << 8 | grey) >>> 0;
    }
  }
  // Later layers draw on top, as on the overlay route; then one blend with the image.
  const colours = new Uint32Array(width * height);
  const labels = new Uint32Array(width * height);
  for (let layer = 0; layer < volume.layers; layer += 1) {
    const table = style.tables[layer];
    if (table.length < 2) continue;
    const layerBase = layer * layerStride + base;
    for (let w = 0, p = 0; w < height; w += 1) {
      const row = layerBase + down[w];
      for (let u = 0; u < width; u += 1, p += 1) {
        const value = voxelLabels[row + across[u]];
        labels[p] = value < table.length && table[value] ? value : 0;
      }
    }
    const edge = style.outline ? outlineOf(labels, width, height) : null;
    for (let p = 0; p < labels.length; p += 1) {
      if (labels[p] && (!edge || edge[p])) colours[p] = table[labels[p]];
    }
  }
  const alpha = style.opacity;
  for (let p = 0; p < colours.length; p += 1) {
    const colour = colours[p];
    if (!colour) continue;
    const under = rgba[p];
    let mixed = 0xff000000;
    for (let shift = 0; shift < 24; shift += 8) {
      const top = (colour >>> shift) & 255;
      const bottom = (under >>> shift) & 255;
      mixed |= Math.round(bottom + (top - bottom) * alpha) << shift;
    }
    rgba[p] = mixed >>> 0;
  }
}
