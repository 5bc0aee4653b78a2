// The axial, coronal and sagittal views together: one crosshair, redraws batched to the next
// animation frame, and the pointer: click or drag moves the crosshair, the wheel scrolls (with
// Ctrl it zooms), Shift-drag or the right button pans, a double click resets the view.
import { Cursor, drawCrosshair } from './crosshair.js';
import { PlaneView, planeLayouts } from './planes.js';

const KEY_STEPS = { ArrowUp: 1, ArrowRight: 1, ArrowDown: -1, ArrowLeft: -1, PageUp: 10, PageDown: -10 };

export class ThreePlanes {
  // sections: {axial, coronal, sagittal} elements; style(): the drawing style of the controls;
  // readout: a Readout.
  constructor(volume, sections, style, readout) {
    this.volume = volume;
    this.style = style;
    this.readout = readout;
    this.layouts = planeLayouts(volume);
    this.cursor = new Cursor(volume);
    this.views = {};
    for (const [name, section] of Object.entries(sections)) {
      this.views[name] = new PlaneView(section, volume, this.layouts[name]);
    }
    this.active = 'axial';
    this.pending = new Map(); // plane name -> when its redraw was asked for
    this.latencies = []; // ms from a request (say, a wheel step) to its plane drawn
    this.frame = 0;
    this.cursor.onChange((axes) => this.request(
      Object.keys(this.views).filter((name) => axes.includes(this.layouts[name].fixed)),
    ));
  }

  // Redraw ``names`` (every plane by default) at the next animation frame; crosshairs always.
  request(names = Object.keys(this.views)) {
    const now = performance.now();
    for (const name of names) if (!this.pending.has(name)) this.pending.set(name, now);
    if (!this.frame) this.frame = requestAnimationFrame(() => this.flush());
  }

  // Draw what was asked for now (the animation frame calls this).
  flush() {
    this.frame = 0;
    const style = this.style();
    for (const [name, asked] of this.pending) {
      this.views[name].draw(this.cursor.ijk, style);
      this.latencies.push(performance.now() - asked);
    }
    if (this.latencies.length > 1000) this.latencies.splice(0, this.latencies.length - 1000);
    this.pending.clear();
    for (const [name, view] of Object.entries(this.views)) {
      drawCrosshair(view, this.cursor, this.layouts);
      const { fixed } = this.layouts[name];
      const index = this.cursor.ijk[fixed];
      const slider = view.root.querySelector('.plane-slider');
      slider.max = String(this.volume.size[fixed] - 1);
      slider.value = String(index);
      view.root.querySelector('.plane-index').textContent = `${index + 1} / ${this.volume.size[fixed]}`;
    }
    document.body.dataset.cursor = this.cursor.ijk.join(',');
  }

  // Step the ``name`` plane through its fixed axis.
  scroll(name, steps) {
    this.cursor.step(this.layouts[name].fixed, steps);
  }

  bind() {
    for (const [name, view] of Object.entries(this.views)) this.bindView(name, view);
    document.addEventListener('keydown', (event) => {
      if (event.target instanceof HTMLInputElement || event.target instanceof HTMLSelectElement) {
        return; // sliders and lists handle their own keys
      }
      const { fixed } = this.layouts[this.active];
      if (event.key in KEY_STEPS) this.scroll(this.active, KEY_STEPS[event.key]);
      else if (event.key === 'Home') this.cursor.step(fixed, -this.volume.size[fixed]);
      else if (event.key === 'End') this.cursor.step(fixed, this.volume.size[fixed]);
      else return;
      event.preventDefault();
    });
    // Only the planes whose canvases changed size (and were cleared) are drawn again: the
    // observer's first call, right after the first view, changes none.
    new ResizeObserver(() => {
      const resized = Object.keys(this.views).filter((name) => this.views[name].fit());
      if (resized.length) this.request(resized);
    }).observe(document.getElementById('views'));
  }

  bindView(name, view) {
    const { root } = view;
    const target = root.querySelector('.plane-canvases');
    let drag = null; // 'cursor' or {pan start}
    const moveCursor = (event) => {
      const ijk = view.fromCanvas(view.eventPoint(event), this.cursor.ijk[view.layout.fixed]);
      if (ijk) this.cursor.set(ijk);
    };
    target.addEventListener('pointerdown', (event) => {
      this.active = name;
      root.focus({ preventScroll: true });
      target.setPointerCapture(event.pointerId);
      if (event.button === 0 && !event.shiftKey) {
        drag = 'cursor';
        moveCursor(event);
      } else {
        drag = { from: view.eventPoint(event), pan: [...view.pan] };
      }
    });
    target.addEventListener('pointermove', (event) => {
      const point = view.eventPoint(event);
      if (drag === 'cursor') moveCursor(event);
      else if (drag) {
        view.pan = [0, 1].map((n) => drag.pan[n] + point[n] - drag.from[n]);
        this.request([name]);
      }
      this.readout.show(view.fromCanvas(point, this.cursor.ijk[view.layout.fixed]));
    });
    target.addEventListener('pointerup', () => { drag = null; });
    target.addEventListener('pointerleave', () => this.readout.show(null));
    target.addEventListener('contextmenu', (event) => event.preventDefault());
    target.addEventListener('dblclick', () => {
      view.resetView();
      this.request([name]);
    });
    target.addEventListener('wheel', (event) => {
      event.preventDefault();
      this.active = name;
      if (event.ctrlKey) {
        view.zoomAt(event.deltaY < 0 ? 1.25 : 0.8, view.eventPoint(event));
        this.request([name]);
      } else {
        this.scroll(name, Math.sign(event.deltaY));
      }
    }, { passive: false });
    root.addEventListener('focus', () => { this.active = name; });
    const slider = root.querySelector('.plane-slider');
    slider.addEventListener('input', () => {
      const ijk = [...this.cursor.ijk];
      ijk[view.layout.fixed] = Number(slider.value);
      this.cursor.set(ijk);
    });
  }
}
