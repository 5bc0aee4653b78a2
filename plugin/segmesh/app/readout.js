// The readout: what is under the pointer (segment name, image value, LPS position in mm).

const mm = (value) => value.toFixed(1);

// Text of one voxel: "Liver | 60 HU | LPS -30.0, 0.0, 8.0 mm | voxel 46, 60, 23".
export function describeVoxel(volume, ijk, unit) {
  const names = volume.segmentsAt(ijk).map((s) => s.Label).join(', ') || 'no segment';
  const value = volume.value(ijk);
  const parts = [names];
  if (value !== null) {
    const shown = Number.isInteger(value) ? String(value) : value.toFixed(2);
    parts.push(unit ? `${shown} ${unit}` : shown);
  }
  parts.push(`LPS ${volume.lps(ijk).map(mm).join(', ')} mm`);
  parts.push(`voxel ${ijk.join(', ')}`);
  return parts.join(' | ');
}

export class Readout {
  // element: where the text goes; unit: 'HU' for CT, '' otherwise.
  constructor(element, volume, unit) {
    this.element = element;
    this.volume = volume;
    this.unit = unit;
  }

  show(ijk) {
    this.element.textContent = ijk ? describeVoxel(this.volume, ijk, this.unit) : '';
    this.element.dataset.voxel = ijk ? ijk.join(',') : '';
  }
}
