// The 3D panel: the study's Encapsulated STL models, in LPS millimetres, each toggled and
// coloured as stored (RecommendedDisplayCIELabValue), seen from the front as radiologists
// expect (anterior towards the viewer, head up, the patient's left on the screen's right), with
// the crosshair as a marker; a double click on a model moves the crosshair there. The selected
// model's printability report (closed, manifold, bodies, volume, thinnest wall) is shown below
// the list (not over the scene): a click on a model's name selects it, the first one loaded is
// selected at first.
import { cielabToRgb } from './dicom.js';
import { FetchPool, getRetrying, nextFrame } from './fetch_pool.js';

// three.js is imported when there are models to show, so that the slice view works even where
// it is not installed (scripts/install-app.sh).
let THREE;
let OrbitControls;
let STLLoader;

async function importThree() {
  const [three, controls, loader] = await Promise.all([
    import('three'),
    import('three/addons/controls/OrbitControls.js'),
    import('three/addons/loaders/STLLoader.js'),
  ]);
  THREE = three;
  ({ OrbitControls } = controls);
  ({ STLLoader } = loader);
}

export const ENCAPSULATED_STL = '1.2.840.10008.5.1.4.1.1.104.3';

// Models asked for at once (tags, then file): with the planes' and the statistics' requests
// they stay under Chromium's six connections to a host.
const CONCURRENCY = 4;
// Models added to the scene between two frames: the page paints and answers clicks between
// batches, and a batch's requests overlap the next ones'.
const BATCH = 48;

export class ModelPanel {
  constructor(root, canvas, list, message, report = null) {
    this.root = root;
    this.canvas = canvas;
    this.list = list;
    this.message = message;
    this.report = report; // where the selected model's printability is shown (a <dl>)
    this.reports = new Map(); // model id -> promise of its printability report
    this.selected = null;
    this.meshes = new Map();
    this.failed = new Map(); // model id -> why it could not be shown (not asked for again)
    this.skipped = new Set(); // M3D instances that are no Encapsulated STL (nor asked again)
    this.pool = new FetchPool(CONCURRENCY);
    this.renderer = null;
    this.box = null; // the models' bounding box, LPS mm
    this.moved = false; // whether the user has turned the view (then resizing keeps it)
    this.markerPoint = null;
    this.three = null; // the import of three.js, once asked for (prepare)
    this.renderQueued = 0; // the animation frame that will draw the scene, if one is asked for
    this.drawnWith = 0; // models in the scene at its last draw while loading (see showIds)
    this.onPick = null; // called with an LPS point [x, y, z] on a double-clicked model
  }

  setMessage(text) {
    this.message.textContent = text;
  }

  // The ids of the study's M3D instances (Encapsulated STL and others: describe() tells).
  static async studyModelIds(getJson, studyId) {
    const series = await getJson(`studies/${studyId}/series`);
    return series.filter((s) => s.MainDicomTags.Modality === 'M3D').flatMap((s) => s.Instances);
  }

  static async describe(getJson, id) {
    const tags = await getJson(`instances/${id}/tags?simplify`);
    const lab = tags.RecommendedDisplayCIELabValue;
    return {
      id,
      sopClassUid: tags.SOPClassUID,
      label: tags.ContentDescription || tags.DocumentTitle || tags.SeriesDescription || id,
      color: lab ? cielabToRgb(String(lab).split('\\')) : [200, 200, 200],
    };
  }

  // three.js imported (once), say while the planes load; a failure shows once models do.
  prepare() {
    if (!this.three) {
      this.three = importThree();
      this.three.catch(() => {});
    }
    return this.three;
  }

  async startRenderer() {
    try {
      await this.prepare();
      this.renderer = new THREE.WebGLRenderer({ canvas: this.canvas, antialias: true });
    } catch (error) {
      this.setMessage(`3D view unavailable: ${error.message}`);
      return false;
    }
    this.scene = new THREE.Scene();
    this.scene.background = new THREE.Color(0x202428);
    this.scene.add(new THREE.AmbientLight(0xffffff, 0.5));
    this.camera = new THREE.PerspectiveCamera(35, 1, 1, 10000);
    this.camera.up.set(0, 0, 1); // LPS: +z is superior
    this.camera.add(new THREE.DirectionalLight(0xffffff, 2.5));
    this.scene.add(this.camera);
    this.controls = new OrbitControls(this.camera, this.canvas);
    this.controls.addEventListener('change', () => this.requestRender());
    this.controls.addEventListener('start', () => { this.moved = true; });
    this.marker = new THREE.Mesh(
      new THREE.SphereGeometry(1, 16, 12),
      new THREE.MeshBasicMaterial({ color: 0xffee33, depthTest: false }),
    );
    this.marker.renderOrder = 1; // drawn over the models: the crosshair may be inside one
    this.marker.visible = false;
    this.scene.add(this.marker);
    this.canvas.addEventListener('dblclick', (event) => this.pick(event));
    new ResizeObserver(() => this.resize()).observe(this.root);
    return true;
  }

  resize() {
    const { clientWidth: width, clientHeight: height } = this.root;
    if (!this.renderer || !width || !height) return;
    this.renderer.setSize(width, height, false);
    this.camera.aspect = width / height;
    this.camera.updateProjectionMatrix();
    if (this.box && !this.moved) this.place();
    this.requestRender();
  }

  // The crosshair's LPS position (mm), shown as a marker.
  setMarker(point) {
    this.markerPoint = point;
    if (this.placeMarker()) this.requestRender();
  }

  // The marker at the crosshair, sized after the models' box; false while there is none.
  placeMarker() {
    if (!this.renderer || !this.box || !this.markerPoint) return false;
    this.marker.position.set(...this.markerPoint);
    this.marker.scale.setScalar(Math.max(1.5, 0.012 * this.box.getSize(new THREE.Vector3()).length()));
    this.marker.visible = true;
    return true;
  }

  pick(event) {
    const box = this.canvas.getBoundingClientRect();
    const pointer = new THREE.Vector2(
      ((event.clientX - box.left) / box.width) * 2 - 1,
      1 - ((event.clientY - box.top) / box.height) * 2,
    );
    const raycaster = new THREE.Raycaster();
    raycaster.setFromCamera(pointer, this.camera);
    const shown = [...this.meshes.values()].filter((mesh) => mesh.visible);
    const [hit] = raycaster.intersectObjects(shown, false);
    if (hit && this.onPick) this.onPick(hit.point.toArray());
  }

  render() {
    if (this.renderer) this.renderer.render(this.scene, this.camera);
  }

  // Draw at the next animation frame, once however many changes ask for it: with thousands of
  // models a draw is long, and each step through the planes moves the marker.
  requestRender() {
    if (!this.renderer || this.renderQueued) return;
    this.renderQueued = requestAnimationFrame(() => {
      this.renderQueued = 0;
      this.render();
    });
  }

  async fetchStl(id) {
    const root = new URL('../../', window.location.href);
    // segmesh's model route gives the exact STL; Orthanc's content route is the fallback.
    for (const path of [`instances/${id}/segmesh/model`, `instances/${id}/content/0042-0011`]) {
      const response = await getRetrying(new URL(path, root));
      if (response.ok) return response.arrayBuffer();
    }
    throw new Error(`model ${id} could not be read`);
  }

  // Load and show the models of ``ids`` (M3D instances; those not Encapsulated STL skipped)
  // beside those shown already, in batches, a few requests at a time; resolves once each is in
  // the scene or has failed. A model that cannot be read is left out and counted: the others
  // are shown all the same.
  async showIds(getJson, ids) {
    const asked = ids.filter(
      (id) => !this.meshes.has(id) && !this.failed.has(id) && !this.skipped.has(id),
    );
    if (!asked.length) {
      if (!this.meshes.size) this.root.classList.add('empty');
      return;
    }
    const load = async (id) => {
      const model = await ModelPanel.describe(getJson, id);
      if (model.sopClassUid !== ENCAPSULATED_STL) return null;
      return { model, stl: await this.fetchStl(id) };
    };
    // Every model is queued now: the pool keeps a few in flight, the batches take them in order.
    const loading = asked.map((id) => this.pool.run(() => load(id)));
    for (const promise of loading) promise.catch(() => {}); // each one is awaited below
    let shownOnce = false;
    for (let start = 0; start < asked.length; start += BATCH) {
      const batch = await Promise.allSettled(loading.slice(start, start + BATCH));
      const loaded = [];
      batch.forEach((outcome, n) => {
        const id = asked[start + n];
        if (outcome.status === 'rejected') this.failed.set(id, outcome.reason.message);
        else if (outcome.value) loaded.push(outcome.value);
        else this.skipped.add(id);
      });
      if (loaded.length && !(await this.add(loaded))) return;
      shownOnce ||= loaded.length > 0;
      // Drawn whenever the models in the scene have doubled, and at the end: a draw of
      // thousands of meshes is long, and one a batch would make loading quadratic.
      if (this.meshes.size >= 2 * this.drawnWith) {
        this.drawnWith = this.meshes.size;
        this.requestRender();
      }
      this.progress(asked.length, start + batch.length);
      await nextFrame(); // paint what is in, answer clicks, then the next batch
    }
    if (!shownOnce && !this.meshes.size) this.root.classList.add('empty');
    this.requestRender();
  }

  // Load and show ``models`` ([{id, label, color}], as describe() gives) beside those shown.
  async show(models) {
    if (!models.length) {
      if (!this.meshes.size) this.root.classList.add('empty');
      return;
    }
    const loaded = [];
    for (const model of models) {
      try {
        loaded.push({ model, stl: await this.fetchStl(model.id) });
      } catch (error) {
        this.failed.set(model.id, error.message);
      }
    }
    await this.add(loaded);
    this.requestRender();
    this.progress(models.length, models.length);
  }

  // The panel's message and counts after ``done`` of ``total`` models asked for.
  progress(total, done) {
    this.root.dataset.loaded = String(this.meshes.size);
    this.root.dataset.failed = String(this.failed.size);
    if (done < total) this.setMessage(`Loading models… ${done} / ${total}`);
    else if (this.failed.size) this.setMessage(`${this.failed.size} model(s) could not be read`);
    else this.setMessage('');
  }

  // Put ``loaded`` ([{model, stl}], the STL an ArrayBuffer) in the scene and the list, framed
  // with those shown already; false where there is no 3D view.
  async add(loaded) {
    this.root.classList.remove('empty');
    if (!this.renderer && !(await this.startRenderer())) return false;
    const loader = new STLLoader();
    const box = this.box ? this.box.clone() : new THREE.Box3();
    const items = document.createDocumentFragment();
    for (const { model, stl } of loaded) {
      let geometry;
      try {
        geometry = loader.parse(stl);
      } catch (error) {
        this.failed.set(model.id, `not an STL file: ${error.message}`);
        continue;
      }
      geometry.computeVertexNormals();
      const material = new THREE.MeshPhongMaterial({
        color: new THREE.Color(...model.color.map((c) => c / 255)).convertSRGBToLinear(),
        side: THREE.DoubleSide,
      });
      const mesh = new THREE.Mesh(geometry, material);
      this.scene.add(mesh);
      this.meshes.set(model.id, mesh);
      geometry.computeBoundingBox();
      box.union(geometry.boundingBox);
      items.append(this.listItem(model));
    }
    this.list.append(items);
    const first = loaded.find(({ model }) => this.meshes.has(model.id));
    if (!this.selected && first) this.select(first.model);
    // Framed anew while the user has not turned the view; kept as it is once they have. Not
    // drawn here: the caller says when (see showIds).
    this.box = box;
    if (!this.moved) this.place();
    this.placeMarker();
    return true;
  }

  // Every few seconds, the study's models not shown yet (say, those a job has just stored).
  watch(getJson, studyId, milliseconds = 3000) {
    const look = async () => {
      try {
        await this.showIds(getJson, await ModelPanel.studyModelIds(getJson, studyId));
      } catch {
        // Orthanc busy or restarting: looked at again next time.
      } finally {
        setTimeout(look, milliseconds);
      }
    };
    setTimeout(look, milliseconds);
  }

  // The report of a stored model (GET .../segmesh/printability); null where unavailable.
  // Asked for when the model is selected, not for every model loaded.
  async fetchReport(id) {
    const root = new URL('../../', window.location.href);
    const response = await getRetrying(new URL(`instances/${id}/segmesh/printability`, root));
    return response.ok ? response.json() : null;
  }

  // Show ``model``'s printability report and mark its list item.
  async select(model) {
    this.selected = model.id;
    for (const item of this.list.children) {
      item.classList.toggle('selected', item.dataset.model === model.id);
    }
    if (!this.report) return;
    if (!this.reports.has(model.id)) {
      this.reports.set(model.id, this.fetchReport(model.id).catch(() => null));
    }
    const report = await this.reports.get(model.id);
    if (this.selected !== model.id) return; // another one was chosen meanwhile
    this.report.dataset.model = model.id;
    showPrintability(this.report, model.label, report);
  }

  listItem(model) {
    const item = document.createElement('li');
    item.dataset.model = model.id;
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.checked = true;
    box.addEventListener('change', () => {
      this.meshes.get(model.id).visible = box.checked;
      this.requestRender();
    });
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.background = `rgb(${model.color.join(',')})`;
    const label = document.createElement('label');
    label.append(box, swatch);
    const name = document.createElement('span');
    name.className = 'model-name';
    name.textContent = model.label;
    name.title = 'Show its printability';
    name.addEventListener('click', () => this.select(model));
    item.append(label, name);
    return item;
  }

  // The camera in front of the patient (anterior is -y in LPS, superior +z up, so +x, the
  // patient's left, is on the screen's right), as close as lets the box's front face fit the
  // panel across and up: a flat or a long set of models fills the panel one way or the other.
  place() {
    const centre = this.box.getCenter(new THREE.Vector3());
    const size = this.box.getSize(new THREE.Vector3());
    const tanUp = Math.tan(THREE.MathUtils.degToRad(this.camera.fov) / 2);
    const tanAcross = tanUp * this.camera.aspect;
    const fit = Math.max(size.x / 2 / tanAcross, size.z / 2 / tanUp, 1);
    const distance = 1.05 * fit + size.y / 2;
    this.camera.position.set(centre.x, centre.y - distance, centre.z);
    this.camera.near = Math.max(0.01, (distance - size.y / 2) / 10);
    this.camera.far = distance + 2 * size.length() + 1;
    this.camera.updateProjectionMatrix();
    this.controls.target.copy(centre);
    this.controls.update();
  }
}

const YES_NO = (value) => (value ? 'yes' : 'no');

// The rows of a printability report: [JSON key, term, its value as shown].
function printabilityRows(report) {
  const wall = report.ThinnestWallMm;
  return [
    ['Closed', 'Closed', YES_NO(report.Closed)],
    ['Manifold', 'Manifold', YES_NO(report.Manifold)],
    ['OutwardNormals', 'Normals outward', YES_NO(report.OutwardNormals)],
    ['Bodies', 'Bodies', String(report.Bodies)],
    ['VolumeMl', 'Volume', `${report.VolumeMl} ml`],
    ['AreaCm2', 'Area', `${report.AreaCm2} cm²`],
    ['BoundsMm', 'Size', `${report.BoundsMm.Size.join(' × ')} mm`],
    ['ThinnestWallMm', 'Thinnest wall', wall === null ? 'not estimated' : `${wall} mm`],
  ];
}

// ``report`` (the JSON of the printability route) of the model ``label`` in the <dl>
// ``element``, each value's <dd> marked with its JSON key (data-key).
export function showPrintability(element, label, report) {
  element.replaceChildren();
  element.hidden = false;
  const title = document.createElement('dt');
  title.className = 'printability-title';
  title.textContent = report ? `Printability of ${label}` : `No printability report for ${label}`;
  element.append(title);
  element.classList.toggle('unprintable', Boolean(
    report && !(report.Closed && report.Manifold && report.OutwardNormals),
  ));
  if (!report) return;
  for (const [key, term, value] of printabilityRows(report)) {
    const dt = document.createElement('dt');
    dt.textContent = term;
    const dd = document.createElement('dd');
    dd.dataset.key = key;
    dd.textContent = value;
    element.append(dt, dd);
  }
  if (report.Source === 'stl') {
    const note = document.createElement('dd');
    note.className = 'printability-source';
    note.textContent = 'computed from the stored STL';
    element.append(note);
  }
}
