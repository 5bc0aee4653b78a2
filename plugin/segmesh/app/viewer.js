// segmesh viewer: viewer.html?instance={SEG or RT-STRUCT id} shows the axial, coronal and
// sagittal planes of the referenced images with the segments, and the study's 3D models;
// viewer.html?model={Encapsulated STL id} shows one model.
import { ModelPanel } from './models.js';
import { colourTables } from './plane_pixels.js';
import { Readout } from './readout.js';
import { StatisticsTable } from './statistics.js';
import { ThreePlanes } from './three_planes.js';
import { Volume } from './volume.js';

const ROOT = new URL('../../', window.location.href); // Orthanc's REST root
const $ = (id) => document.getElementById(id);

async function getJson(path) {
  const response = await fetch(new URL(path, ROOT));
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

function setStatus(text) {
  $('status').textContent = text;
}

// The first image's tags (window, modality), or null without a stored image series.
async function firstImageTags(seriesId) {
  if (!seriesId) return null;
  const series = await getJson(`series/${seriesId}`);
  return getJson(`instances/${series.Instances[0]}/tags?simplify`);
}

// The controls' drawing style: window, opacity, outline and the shown segments' colours.
class PlaneStyle {
  constructor(volume, tags) {
    this.volume = volume;
    this.visible = new Set(volume.segments.map((s) => s.Number));
    this.imageWindow = [Number(String(tags?.WindowWidth || '400').split('\\')[0]),
      Number(String(tags?.WindowCenter || '40').split('\\')[0])];
    this.tables = colourTables(volume, this.visible);
  }

  toggle(number, shown) {
    if (shown) this.visible.add(number);
    else this.visible.delete(number);
    this.tables = colourTables(this.volume, this.visible);
  }

  current() {
    const preset = $('window-preset').value;
    return {
      window: preset === 'image' ? this.imageWindow : preset.split(',').map(Number),
      opacity: Number($('opacity').value),
      outline: $('outline').checked,
      tables: this.tables,
    };
  }
}

function segmentList(segments, onToggle) {
  const list = $('segments');
  for (const segment of segments) {
    const item = document.createElement('li');
    item.dataset.segment = String(segment.Number);
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.checked = true;
    box.addEventListener('change', () => onToggle(segment.Number, box.checked));
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.background = `rgb(${segment.Color.join(',')})`;
    const label = document.createElement('label');
    label.append(box, swatch, `${segment.Number} ${segment.Label}`);
    item.append(label);
    list.append(item);
  }
}

function showPlanes(volume, tags) {
  const style = new PlaneStyle(volume, tags);
  const sections = Object.fromEntries(['axial', 'coronal', 'sagittal']
    .map((name) => [name, $(`plane-${name}`)]));
  const readout = new Readout($('readout'), volume, tags?.Modality === 'CT' ? 'HU' : '');
  const planes = new ThreePlanes(volume, sections, () => style.current(), readout);
  planes.bind();
  segmentList(volume.segments, (number, shown) => {
    style.toggle(number, shown);
    planes.request();
  });
  for (const id of ['window-preset', 'opacity', 'outline']) {
    $(id).addEventListener('input', () => planes.request());
  }
  planes.request();
  planes.flush(); // the first view now, not at the next frame
  return planes;
}

async function openSource(sourceId, panel) {
  // Asked first: the planes of the first view, then the volumes, take longest (decoding the
  // source and the images).
  const loading = Volume.loadPlanes(ROOT, sourceId);
  loading.catch(() => {}); // a failure shows where it is awaited
  const description = await getJson(`instances/${sourceId}/segmesh/segments`);
  const tagsLoading = firstImageTags(description.ReferencedSeries[0]);
  tagsLoading.catch(() => {}); // awaited below
  const study = await getJson(`instances/${sourceId}/study`);
  $('title').textContent = `${description.Kind}: ${study.MainDicomTags.StudyDescription || ''}`;
  const models = ModelPanel.studyModels(getJson, study.ID)
    .then((list) => panel.show(list))
    .then(() => panel.watch(getJson, study.ID));
  const volume = await loading;
  const tags = await tagsLoading;
  const planes = showPlanes(volume, tags);
  window.segmeshViewer = planes;
  window.segmeshFirstView = performance.now();
  // The 3D marker follows the crosshair; a double-clicked model moves it.
  const mark = () => panel.setMarker(volume.lps(planes.cursor.ijk));
  planes.cursor.onChange(mark);
  mark();
  panel.onPick = (point) => planes.cursor.set(volume.nearest(point));
  // The whole volumes after the first view, so as not to slow it; the planes scroll then.
  setStatus('Loading the volumes for scrolling…');
  await volume.loadWhole(ROOT, sourceId);
  setStatus(volume.image ? ''
    : `The referenced series is not stored here (${description.MissingSeries.join(', ')})`);
  planes.request();
  window.segmeshWholeVolumes = performance.now();
  // Asked once the volumes are in: computed in the same worker processes as they are.
  const figures = getJson(`instances/${sourceId}/segmesh/statistics`);
  figures.catch(() => {}); // handled by the table below; not an unhandled rejection meanwhile
  volume.orderByColumn(); // sagittal scrolling then reads contiguously
  // A failure shows in the table's place, not the viewer's.
  const table = new StatisticsTable(
    $('statistics'), description.Segments, tags?.Modality === 'CT' ? ' (HU)' : '',
  );
  $('statistics-csv').href = new URL(`instances/${sourceId}/segmesh/statistics?format=csv`, ROOT);
  const statistics = table.show(figures).catch((error) => {
    $('statistics-message').textContent = `No statistics: ${error.message}`;
  });
  window.segmeshStatistics = table;
  await Promise.all([models, statistics]);
}

async function main() {
  const params = new URLSearchParams(window.location.search);
  const panel = new ModelPanel($('model-view'), $('scene'), $('models'), $('model-message'));
  window.segmeshModels = panel;
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
