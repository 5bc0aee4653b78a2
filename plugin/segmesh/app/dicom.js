// Small DICOM helpers of the viewer: NumPy (.npy) frames from Orthanc, and CIELab colours.

const NPY_TYPES = {
  '<f4': Float32Array, '<f8': Float64Array, '<i2': Int16Array, '<u2': Uint16Array,
  '<i4': Int32Array, '<u4': Uint32Array, '|u1': Uint8Array, '|i1': Int8Array,
};

// An .npy buffer (Orthanc's /frames/N/numpy) as {shape, data}: shape (rows, columns[, samples]),
// data a typed array in C order.
export function parseNpy(buffer) {
  const bytes = new Uint8Array(buffer);
  const magic = String.fromCharCode(...bytes.slice(1, 6));
  if (bytes[0] !== 0x93 || magic !== 'NUMPY') throw new Error('not a NumPy file');
  const view = new DataView(buffer);
  const major = bytes[6];
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.slice(headerStart, headerStart + headerLength));
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  if (/'fortran_order':\s*True/.test(header)) throw new Error('Fortran-ordered NumPy array');
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1]
    .split(',').map((s) => s.trim()).filter((s) => s).map(Number);
  const Type = NPY_TYPES[descr];
  if (!Type) throw new Error(`unsupported NumPy type ${descr}`);
  const offset = headerStart + headerLength;
  const count = shape.reduce((a, b) => a * b, 1);
  // A view where the data is aligned to its element size (NumPy pads headers to 64 bytes),
  // a copy otherwise: volumes of hundreds of megabytes are not copied for nothing.
  const data = offset % Type.BYTES_PER_ELEMENT === 0
    ? new Type(buffer, offset, count)
    : new Type(buffer.slice(offset, offset + count * Type.BYTES_PER_ELEMENT));
  return { shape, data };
}

// RecommendedDisplayCIELabValue (three 16-bit integers, D65) to sRGB [0-255, 0-255, 0-255].
export function cielabToRgb(value) {
  const [l16, a16, b16] = value.map(Number);
  const L = (l16 * 100) / 65535;
  const a = (a16 * 255) / 65535 - 128;
  const b = (b16 * 255) / 65535 - 128;
  const fy = (L + 16) / 116;
  const finv = (t) => (t > 6 / 29 ? t ** 3 : 3 * (6 / 29) ** 2 * (t - 4 / 29));
  const x = 0.95047 * finv(fy + a / 500);
  const y = 1.0 * finv(fy);
  const z = 1.08883 * finv(fy - b / 200);
  const linear = [
    3.2404542 * x - 1.5371385 * y - 0.4985314 * z,
    -0.969266 * x + 1.8760108 * y + 0.041556 * z,
    0.0556434 * x - 0.2040259 * y + 1.0572252 * z,
  ];
  return linear.map((c) => {
    const v = c <= 0.0031308 ? 12.92 * c : 1.055 * c ** (1 / 2.4) - 0.055;
    return Math.round(Math.min(1, Math.max(0, v)) * 255);
  });
}
