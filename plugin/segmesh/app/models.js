// The 3D panel: the study's Encapsulated STL models, in LPS millimetres, each toggled and
// coloured as stored (RecommendedDisplayCIELabValue), seen from the front as radiologists
// expect (anterior towards the viewer, head up, the patient's left on the screen's right), with
// the crosshair as a marker; a double click on a model moves the crosshair there. The selected
// model's printability report (closed, manifold, bodies, volume, thinnest wall) is shown below
// the list (not over the scene): a click on a model's name selects it, the first one loaded is
// selected at first.
import { cielabToRgb } from './dicom.js';

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
    this.renderer = null;
    this.box = null; // the models' bounding box, LPS mm
    this.moved = false; // whether the user has turned the view (then resizing keeps it)
    this.markerPoint = null;
    this.three = null; // the import of three.js, once asked for (prepare)
    this.onPick = null; // called with an LPS point [x, y, z] on a double-clicked model
  }

  setMessage(text) {
    this.message.textContent = text;
  }

  // Every Encapsulated STL instance of the study, as [{id, label, color}].
  static async studyModels(getJson, studyId) {
    const series = await getJson(`studies/${studyId}/series`);
    const ids = series.filter((s) => s.MainDicomTags.Modality === 'M3D').flatMap((s) => s.Instances);
    // The tags of every model at once: a study may hold a hundred of them.
    const models = await Promise.all(ids.map((id) => ModelPanel.describe(getJson, id)));
    return models.filter((m) => m.sopClassUid === ENCAPSULATED_STL);
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
    this.controls.addEventListener('change', () => this.render());
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
    this.render();
  }

  // The crosshair's LPS position (mm), shown as a marker.
  setMarker(point) {
    this.markerPoint = point;
    if (!this.renderer || !this.box) return;
    this.marker.position.set(...point);
    this.marker.scale.setScalar(Math.max(1.5, 0.012 * this.box.getSize(new THREE.Vector3()).length()));
    this.marker.visible = true;
    this.render();
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

  async fetchStl(id) {
    const root = new URL('../../', window.location.href);
    // segmesh's model route gives the exact STL; Orthanc's content route is the fallback.
    for (const path of [`instances/${id}/segmesh/model`, `instances/${id}/content/0042-0011`]) {
      const response = await fetch(new URL(path, root));
      if (response.ok) return response.arrayBuffer();
    }
    throw new Error(`model ${id} could not be read`);
  }

  // Load and show ``models`` beside those shown already; resolves once each is in the scene.
  async show(models) {
    this.root.dataset.models = String(this.meshes.size + models.length);
    if (!this.meshes.size && !models.length) {
      this.root.classList.add('empty');
      return;
    }
    this.root.classList.remove('empty');
    if (!this.renderer && !(await this.startRenderer())) return;
    this.setMessage(`Loading ${models.length} model(s)…`);
    const loader = new STLLoader();
    const box = new THREE.Box3();
    for (const mesh of this.meshes.values()) box.union(mesh.geometry.boundingBox);
    for (const model of models) {
      const geometry = loader.parse(await this.fetchStl(model.id));
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
      this.addListItem(model);
      this.reports.set(model.id, this.fetchReport(model.id));
      if (!this.selected) this.select(model);
    }
    this.frame(box);
    this.setMessage('');
    this.root.dataset.loaded = String(this.meshes.size);
  }

  // Every few seconds, the study's models not shown yet (say, those a job has just stored).
  watch(getJson, studyId, milliseconds = 3000) {
    const look = async () => {
      try {
        const series = await getJson(`studies/${studyId}/series`);
        const known = new Set(this.meshes.keys());
        const ids = series.filter((s) => s.MainDicomTags.Modality === 'M3D')
          .flatMap((s) => s.Instances).filter((id) => !known.has(id));
        if (ids.length) {
          const models = await Promise.all(ids.map((id) => ModelPanel.describe(getJson, id)));
          await this.show(models.filter((m) => m.sopClassUid === ENCAPSULATED_STL));
        }
      } finally {
        setTimeout(look, milliseconds);
      }
    };
    setTimeout(look, milliseconds);
  }

  // The report of a stored model (GET .../segmesh/printability); null where unavailable.
  async fetchReport(id) {
    const root = new URL('../../', window.location.href);
    const response = await fetch(new URL(`instances/${id}/segmesh/printability`, root));
    return response.ok ? response.json() : null;
  }

  // Show ``model``'s printability report and mark its list item.
  async select(model) {
    this.selected = model.id;
    for (const item of this.list.children) {
      item.classList.toggle('selected', item.dataset.model === model.id);
    }
    if (!this.report) return;
    const report = await this.reports.get(model.id);
    if (this.selected !== model.id) return; // another one was chosen meanwhile
    this.report.dataset.model = model.id;
    showPrintability(this.report, model.label, report);
  }

  addListItem(model) {
    const item = document.createElement('li');
    item.dataset.model = model.id;
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.checked = true;
    box.addEventListener('change', () => {
      this.meshes.get(model.id).visible = box.checked;
      this.render();
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
    this.list.append(item);
  }

  // Frame ``box`` (LPS mm) from the patient's front and keep it framed while the panel's
  // size changes, until the user turns the view.
  frame(box) {
    this.box = box.clone();
    this.moved = false;
    this.resize();
    if (this.markerPoint) this.setMarker(this.markerPoint);
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
