// segmesh viewer: viewer.html?instance={SEG or RT-STRUCT id} shows the referenced images with
// the overlay and the study's 3D models; viewer.html?model={Encapsulated STL id} shows one model.
import { parseNpy } from './dicom.js';
import { ModelPanel } from './models.js';
import { StatisticsTable } from './statistics.js';

const ROOT = new URL('../../', window.location.href); // Orthanc's REST root
const $ = (id) => document.getElementById(id);
// Slices kept in the browser: a 512 x 512 CT slice is 1 MB of float32, its overlay 1 MB of RGBA.
const CACHED_SLICES = 64;

// Map.set that forgets the oldest entries beyond ``limit`` (Maps iterate in insertion order).
function remember(map, key, value, limit = CACHED_SLICES) {
  map.set(key, value);
  while (map.size > limit) map.delete(map.keys().next().value);
  return value;
}

async function getJson(path) {
  const response = await fetch(new URL(path, ROOT));
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

function setStatus(text) {
  $('status').textContent = text;
}

// The referenced images in the order of their positions along the slice normal.
async function orderedImages(seriesId) {
  try {
    const ordered = await getJson(`series/${seriesId}/ordered-slices`);
    return ordered.SlicesShort.map(([id]) => id);
  } catch (error) {
    const instances = await getJson(`series/${seriesId}/instances`);
    instances.sort((a, b) => a.IndexInSeries - b.IndexInSeries);
    return instances.map((instance) => instance.ID);
  }
}

class SliceViewer {
  constructor(sourceId, segments, imageIds, firstTags) {
    this.sourceId = sourceId;
    this.segments = segments;
    this.imageIds = imageIds;
    this.index = Math.floor(imageIds.length / 2);
    this.visible = new Set(segments.map((s) => s.Number));
    this.canvas = $('slice');
    this.context = this.canvas.getContext('2d', { willReadFrequently: true });
    this.pixels = new Map();
    this.overlays = new Map();
    this.token = 0;
    const spacing = String(firstTags.PixelSpacing || '1\\1').split('\\').map(Number);
    this.aspect = spacing[0] / spacing[1]; // row spacing / column spacing
    this.imageWindow = [Number(String(firstTags.WindowWidth || '400').split('\\')[0]),
      Number(String(firstTags.WindowCenter || '40').split('\\')[0])];
  }

  get windowing() {
    const preset = $('window-preset').value;
    return preset === 'image' ? this.imageWindow : preset.split(',').map(Number);
  }

  // Rescaled pixel values (HU for CT) of an image, or its preview where NumPy is unavailable.
  async loadPixels(id) {
    if (!this.pixels.has(id)) {
      const loading = fetch(new URL(`instances/${id}/frames/0/numpy?rescale=1`, ROOT))
        .then((r) => (r.ok ? r.arrayBuffer() : Promise.reject(new Error(String(r.status)))))
        .then((buffer) => ({ npy: parseNpy(buffer) }))
        .catch(() => fetch(new URL(`instances/${id}/preview`, ROOT))
          .then((r) => (r.ok ? r.blob() : Promise.reject(new Error(`preview ${r.status}`))))
          .then((blob) => createImageBitmap(blob))
          .then((bitmap) => ({ bitmap })));
      return remember(this.pixels, id, loading);
    }
    return this.pixels.get(id);
  }

  overlayKey(id) {
    const numbers = [...this.visible].sort((a, b) => a - b).join(',');
    return `${id}|${numbers}|${$('outline').checked}`;
  }

  // The overlay at full opacity; the opacity slider applies when drawing (no refetch).
  async loadOverlay(id) {
    if (!this.visible.size) return null;
    const key = this.overlayKey(id);
    if (!this.overlays.has(key)) {
      const query = new URLSearchParams({
        segments: [...this.visible].join(','),
        opacity: '1',
        outline: String($('outline').checked),
      });
      const url = new URL(`instances/${this.sourceId}/segmesh/overlay/${id}.png?${query}`, ROOT);
      return remember(this.overlays, key, fetch(url).then(async (response) => {
        if (!response.ok) {
          this.overlays.delete(key); // not cached: the next visit of this slice asks again
          const error = await response.json().catch(() => ({}));
          throw new Error(`overlay: ${response.status} ${error.Error || ''} ${error.Details || ''}`);
        }
        return createImageBitmap(await response.blob());
      }));
    }
    return this.overlays.get(key);
  }

  async draw() {
    const token = ++this.token;
    const id = this.imageIds[this.index];
    $('slice-slider').value = String(this.index);
    $('slice-label').textContent = `${this.index + 1} / ${this.imageIds.length}`;
    let overlay = null;
    let image;
    try {
      image = await this.loadPixels(id);
    } catch (error) {
      this.pixels.delete(id); // not cached: the next visit of this slice tries again
      if (token === this.token) setStatus(`image ${id}: ${error.message}`);
      return;
    }
    try {
      overlay = await this.loadOverlay(id);
      setStatus('');
    } catch (error) {
      setStatus(error.message);
    }
    if (token !== this.token) return; // a newer slice was asked for meanwhile
    this.paint(image, overlay);
    this.canvas.dataset.image = id;
    this.canvas.dataset.overlay = overlay ? this.overlayKey(id) : '';
    this.canvas.dataset.drawn = String(token);
    this.prefetch();
  }

  // Load the neighbouring slices while the user looks at this one: scrolling stays smooth.
  prefetch() {
    for (const index of [this.index + 1, this.index - 1]) {
      const id = this.imageIds[index];
      if (id === undefined) continue;
      this.loadPixels(id).catch(() => {});
      this.loadOverlay(id)?.catch(() => {});
    }
  }

  paint(image, overlay) {
    const { canvas, context } = this;
    if (image.npy) {
      const [rows, columns] = image.npy.shape;
      this.resize(columns, rows);
      const [width, level] = this.windowing;
      const low = level - width / 2;
      const out = context.createImageData(columns, rows);
      const samples = image.npy.shape[2] || 1;
      const data = image.npy.data;
      for (let p = 0, q = 0; q < out.data.length; p += samples, q += 4) {
        const grey = Math.max(0, Math.min(255, Math.round(((data[p] - low) / width) * 255)));
        out.data[q] = out.data[q + 1] = out.data[q + 2] = grey;
        out.data[q + 3] = 255;
      }
      context.putImageData(out, 0, 0);
    } else {
      this.resize(image.bitmap.width, image.bitmap.height);
      context.drawImage(image.bitmap, 0, 0);
    }
    if (overlay) {
      context.globalAlpha = Number($('opacity').value);
      context.drawImage(overlay, 0, 0, canvas.width, canvas.height);
      context.globalAlpha = 1;
    }
  }

  // Canvas pixels are image pixels; the CSS size keeps the physical aspect (PixelSpacing).
  resize(columns, rows) {
    if (this.canvas.width !== columns || this.canvas.height !== rows) {
      this.canvas.width = columns;
      this.canvas.height = rows;
    }
    const box = $('slice-view');
    const scale = Math.min(box.clientWidth / columns, box.clientHeight / (rows * this.aspect));
    this.canvas.style.width = `${Math.floor(columns * scale)}px`;
    this.canvas.style.height = `${Math.floor(rows * this.aspect * scale)}px`;
  }

  go(index) {
    const clamped = Math.max(0, Math.min(this.imageIds.length - 1, index));
    if (clamped !== this.index) {
      this.index = clamped;
      this.draw();
    }
  }

  bind() {
    const slider = $('slice-slider');
    slider.max = String(this.imageIds.length - 1);
    slider.addEventListener('input', () => this.go(Number(slider.value)));
    $('slice-view').addEventListener('wheel', (event) => {
      event.preventDefault();
      this.go(this.index + Math.sign(event.deltaY));
    }, { passive: false });
    document.addEventListener('keydown', (event) => {
      if (event.target instanceof HTMLInputElement || event.target instanceof HTMLSelectElement) {
        return; // sliders and lists handle their own keys
      }
      const steps = { ArrowUp: 1, ArrowRight: 1, ArrowDown: -1, ArrowLeft: -1, PageUp: 10, PageDown: -10 };
      if (event.key in steps) this.go(this.index + steps[event.key]);
      else if (event.key === 'Home') this.go(0);
      else if (event.key === 'End') this.go(this.imageIds.length - 1);
      else return;
      event.preventDefault();
    });
    for (const id of ['window-preset', 'opacity', 'outline']) {
      $(id).addEventListener('input', () => this.draw());
    }
    window.addEventListener('resize', () => this.draw());
    const list = $('segments');
    for (const segment of this.segments) {
      const item = document.createElement('li');
      item.dataset.segment = String(segment.Number);
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.checked = true;
      box.addEventListener('change', () => {
        if (box.checked) this.visible.add(segment.Number);
        else this.visible.delete(segment.Number);
        this.draw();
      });
      const swatch = document.createElement('span');
      swatch.className = 'swatch';
      swatch.style.background = `rgb(${segment.Color.join(',')})`;
      const label = document.createElement('label');
      label.append(box, swatch, `${segment.Number} ${segment.Label}`);
      item.append(label);
      list.append(item);
    }
  }
}

async function openSource(sourceId, panel) {
  const description = await getJson(`instances/${sourceId}/segmesh/segments`);
  const study = await getJson(`instances/${sourceId}/study`);
  $('title').textContent = `${description.Kind}: ${study.MainDicomTags.StudyDescription || ''}`;
  const models = ModelPanel.studyModels(getJson, study.ID)
    .then((list) => panel.show(list))
    .then(() => panel.watch(getJson, study.ID));
  // Asked first: computed (a second or so for a big SEG) while the slices load.
  const figures = getJson(`instances/${sourceId}/segmesh/statistics`);
  figures.catch(() => {}); // handled by the table below; not an unhandled rejection meanwhile
  let firstTags = null;
  let imageIds = [];
  if (description.ReferencedSeries.length) {
    imageIds = await orderedImages(description.ReferencedSeries[0]);
    firstTags = await getJson(`instances/${imageIds[0]}/tags?simplify`);
  }
  // A failure shows in the table's place, not the viewer's.
  const table = new StatisticsTable(
    $('statistics'), description.Segments, firstTags?.Modality === 'CT' ? ' (HU)' : '',
  );
  $('statistics-csv').href = new URL(`instances/${sourceId}/segmesh/statistics?format=csv`, ROOT);
  const statistics = table.show(figures).catch((error) => {
    $('statistics-message').textContent = `No statistics: ${error.message}`;
  });
  window.segmeshStatistics = table;
  if (!description.ReferencedSeries.length) {
    setStatus(`The referenced series is not stored here (${description.MissingSeries.join(', ')})`);
  } else {
    const viewer = new SliceViewer(sourceId, description.Segments, imageIds, firstTags);
    viewer.bind();
    window.segmeshViewer = viewer;
    await viewer.draw();
  }
  await Promise.all([models, statistics]);
}

async function main() {
  const params = new URLSearchParams(window.location.search);
  const panel = new ModelPanel($('model-view'), $('scene'), $('models'), $('model-message'));
  try {
    if (params.get('model')) {
      document.body.classList.add('models-only');
      $('title').textContent = '3D model';
      await panel.show([await ModelPanel.describe(getJson, params.get('model'))]);
    } else if (params.get('instance')) {
      await openSource(params.get('instance'), panel);
    } else {
      setStatus('Open viewer.html?instance={SEG or RT-STRUCT id} or ?model={STL id}');
    }
    document.body.dataset.ready = '1';
  } catch (error) {
    setStatus(error.message);
    document.body.dataset.ready = 'error';
  }
}

main();
