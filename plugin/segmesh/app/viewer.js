// segmesh viewer: viewer.html?instance={SEG or RT-STRUCT id} shows the axial, coronal and
// sagittal planes of the referenced images with the segments, and the study's 3D models;
// viewer.html?model={Encapsulated STL id} shows one model; viewer.html alone lists the sources.
import { ModelPanel } from './models.js';
import { getRetrying } from './fetch_pool.js';
import { colourTables, segmentColour } from './plane_pixels.js';
import { Readout } from './readout.js';
import { listSources } from './sources.js';
import { StatisticsTable } from './statistics.js';
import { ThreePlanes } from './three_planes.js';
import { Volume } from './volume.js';

const ROOT = new URL('../../', window.location.href); // Orthanc's REST root
const $ = (id) => document.getElementById(id);

async function getJson(path) {
  const response = await getRetrying(new URL(path, ROOT));
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
  constructor(volume) {
    this.imageWindow = [400, 40]; // until the image's own (setImageTags)
    this.tables = colourTables(volume, new Set(volume.segments.map((s) => s.Number)));
    this.segment = new Map(volume.segments.map((s) => [s.Number, s])); // by segment number
  }

  // The window of the first image's tags (WindowWidth, WindowCenter), where it has one.
  setImageTags(tags) {
    const first = (value) => Number(String(value).split('\\')[0]);
    if (tags?.WindowWidth && tags?.WindowCenter) {
      this.imageWindow = [first(tags.WindowWidth), first(tags.WindowCenter)];
    }
  }

  // Only the segment's entry of its layer's colour table changes: no other segment is
  // visited, whatever their number.
  toggle(number, shown) {
    const segment = this.segment.get(number);
    this.tables[segment.Layer][segment.Value] = shown ? segmentColour(segment) : 0;
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

// The segment list (thousands of segments: one change listener for all, built at once) and
// its filter box: a segment is listed where the text typed is its number or is in its label.
function segmentList(segments, onToggle) {
  const list = $('segments');
  const items = document.createDocumentFragment();
  for (const segment of segments) {
    const item = document.createElement('li');
    item.dataset.segment = String(segment.Number);
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.checked = true;
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.background = `rgb(${segment.Color.join(',')})`;
    const label = document.createElement('label');
    label.append(box, swatch, `${segment.Number} ${segment.Label}`);
    item.append(label);
    items.append(item);
  }
  list.append(items);
  list.addEventListener('change', (event) => {
    const item = event.target.closest('li');
    if (item) onToggle(Number(item.dataset.segment), event.target.checked);
  });
  const labels = segments.map((s) => s.Label.toLowerCase());
  const count = $('segment-count');
  const filter = $('segment-filter');
  const apply = () => {
    const text = filter.value.trim().toLowerCase();
    let shown = 0;
    [...list.children].forEach((item, n) => {
      const match = !text || item.dataset.segment === text || labels[n].includes(text);
      item.hidden = !match;
      shown += match ? 1 : 0;
    });
    count.textContent = text ? `${shown} of ${segments.length}` : `${segments.length}`;
  };
  filter.addEventListener('input', apply);
  apply();
}

// The three planes drawn now; the image's tags (window, modality) apply when they come.
function showPlanes(volume) {
  const style = new PlaneStyle(volume);
  const sections = Object.fromEntries(['axial', 'coronal', 'sagittal']
    .map((name) => [name, $(`plane-${name}`)]));
  const readout = new Readout($('readout'), volume, '');
  const planes = new ThreePlanes(volume, sections, () => style.current(), readout);
  planes.bind();
  planes.request();
  planes.flush(); // the first view now, not at the next frame
  segmentList(volume.segments, (number, shown) => {
    style.toggle(number, shown);
    planes.request();
  });
  for (const id of ['window-preset', 'opacity', 'outline']) {
    $(id).addEventListener('input', () => planes.request());
  }
  const applyTags = (tags) => {
    style.setImageTags(tags);
    readout.unit = tags?.Modality === 'CT' ? 'HU' : '';
    if ($('window-preset').value === 'image') planes.request();
  };
  return { planes, applyTags };
}

async function openSource(sourceId, panel) {
  // The first view waits on these alone: the grid and the planes through the centre, asked
  // first (they wait on the source's decoding). What else the page shows is asked meanwhile
  // and shown as it comes, never before the first view.
  const loading = Volume.loadPlanes(ROOT, sourceId);
  const describing = getJson(`instances/${sourceId}/segmesh/segments`);
  const studyLoading = getJson(`instances/${sourceId}/study`);
  const tagsLoading = describing.then(({ ReferencedSeries: [series] }) => firstImageTags(series));
  // The models' ids alone before the first view (one request); their tags and files after it.
  const modelList = studyLoading.then((study) => ModelPanel.studyModelIds(getJson, study.ID));
  for (const promise of [loading, describing, studyLoading, tagsLoading, modelList]) {
    promise.catch(() => {}); // a failure shows where it is awaited
  }
  modelList.then((list) => {
    if (list.length) panel.prepare(); // three.js, while the source decodes
  }, () => {});
  const volume = await loading;
  const { planes, applyTags } = showPlanes(volume);
  window.segmeshViewer = planes;
  window.segmeshFirstView = performance.now();
  const titled = Promise.all([describing, studyLoading]).then(([description, study]) => {
    $('title').textContent = `${description.Kind}: ${study.MainDicomTags.StudyDescription || ''}`;
  });
  const tagged = tagsLoading.then(applyTags);
  // The models after the first view: their files and meshes would slow it.
  const models = Promise.all([modelList, studyLoading])
    .then(([ids, study]) => panel.showIds(getJson, ids).then(() => panel.watch(getJson, study.ID)));
  for (const promise of [titled, tagged, models]) promise.catch(() => {}); // awaited at the end
  // The 3D marker follows the crosshair; a double-clicked model moves it.
  const mark = () => panel.setMarker(volume.lps(planes.cursor.ijk));
  planes.cursor.onChange(mark);
  mark();
  panel.onPick = (point) => planes.cursor.set(volume.nearest(point));
  // The whole volumes after the first view, so as not to slow it; the planes scroll then (the
  // planes shown are the same voxels: nothing to draw again).
  setStatus('Loading the volumes for scrolling…');
  await volume.loadWhole(ROOT, sourceId);
  const description = await describing;
  setStatus(volume.image ? ''
    : `The referenced series is not stored here (${description.MissingSeries.join(', ')})`);
  window.segmeshWholeVolumes = performance.now();
  // Asked once the volumes are in: computed in the same worker processes as they are.
  const figures = getJson(`instances/${sourceId}/segmesh/statistics`);
  figures.catch(() => {}); // handled by the table below; not an unhandled rejection meanwhile
  volume.orderByColumn(); // sagittal scrolling then reads contiguously
  const tags = await tagsLoading;
  // A failure shows in the table's place, not the viewer's.
  const table = new StatisticsTable(
    $('statistics'), description.Segments, tags?.Modality === 'CT' ? ' (HU)' : '',
  );
  $('statistics-csv').href = new URL(`instances/${sourceId}/segmesh/statistics?format=csv`, ROOT);
  const statistics = table.show(figures).catch((error) => {
    $('statistics-message').textContent = `No statistics: ${error.message}`;
  });
  window.segmeshStatistics = table;
  await Promise.all([titled, tagged, models, statistics]);
}

async function main() {
  const params = new URLSearchParams(window.location.search);
  const panel = new ModelPanel(
    $('model-view'), $('scene'), $('models'), $('model-message'), $('model-printability'),
  );
  window.segmeshModels = panel;
  try {
    if (params.get('model')) {
      document.body.classList.add('models-only');
      $('title').textContent = '3D model';
      await panel.show([await ModelPanel.describe(getJson, params.get('model'))]);
    } else if (params.get('instance')) {
      await openSource(params.get('instance'), panel);
    } else {
      document.body.classList.add('sources-only');
      const count = await listSources(ROOT, $('sources'));
      setStatus(count ? 'Choose a segmentation' : 'No SEG or RT-STRUCT is stored');
    }
    document.body.dataset.ready = '1';
  } catch (error) {
    setStatus(error.message);
    document.body.dataset.ready = 'error';
  }
}

main();
