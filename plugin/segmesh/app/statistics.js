// The statistics table of the viewer: one row per segment from
// GET /instances/{id}/segmesh/statistics, sorted by clicking a column's header (again: reversed).

// Columns: header, how a row's value is read from a statistics item, digits shown.
function columns(unit) {
  const image = (key) => (item) => (item.Image ? item.Image[key] : null);
  return [
    { key: 'segment', header: 'Segment', value: (item) => item.Label, text: true },
    { key: 'voxels', header: 'Voxels', value: (item) => item.Voxels, digits: 0 },
    { key: 'volume', header: 'Volume (ml)', value: (item) => item.VolumeMl, digits: 2 },
    { key: 'mesh-volume', header: 'Mesh volume (ml)', value: (item) => item.MeshVolumeMl, digits: 2 },
    { key: 'surface', header: 'Surface (cm²)', value: (item) => item.SurfaceAreaMm2 / 100, digits: 1 },
    { key: 'mean', header: `Mean${unit}`, value: image('Mean'), digits: 1 },
    { key: 'std', header: `Std${unit}`, value: image('Std'), digits: 1 },
    { key: 'min', header: `Min${unit}`, value: image('Min'), digits: 0 },
    { key: 'max', header: `Max${unit}`, value: image('Max'), digits: 0 },
    { key: 'centroid', header: 'Centroid LPS (mm)', value: (item) => item.CentroidLps, vector: true },
  ];
}

// Empty values (no voxel, no image) sort last whatever the direction.
function compare(a, b, direction) {
  if (a === null || a === undefined) return b === null || b === undefined ? 0 : 1;
  if (b === null || b === undefined) return -1;
  if (typeof a === 'string') return direction * a.localeCompare(b);
  if (Array.isArray(a)) return direction * (a[0] - b[0]); // vectors by x
  return direction * (a - b);
}

function format(column, value) {
  if (value === null || value === undefined) return '–';
  // Rounded first: a centroid at -0.01 mm reads 0.0, not -0.0.
  if (column.vector) return value.map((v) => (Math.round(v * 10) / 10 || 0).toFixed(1)).join(', ');
  if (column.text) return value;
  return value.toLocaleString('en', {
    minimumFractionDigits: column.digits, maximumFractionDigits: column.digits,
  });
}

export class StatisticsTable {
  // ``table`` a <table>; ``segments`` the segments route's list (their colours); ``unit`` the
  // image values' unit (" (HU)" for CT, "" otherwise).
  constructor(table, segments, unit) {
    this.table = table;
    this.colors = new Map(segments.map((segment) => [segment.Number, segment.Color]));
    this.columns = columns(unit);
    this.items = [];
    this.sortKey = null;
    this.direction = 1;
  }

  // ``figures`` a promise of the statistics route's JSON answer.
  async show(figures) {
    const answer = await figures;
    this.items = answer.Segments;
    this.render();
    return answer;
  }

  sortBy(key) {
    this.direction = this.sortKey === key ? -this.direction : 1;
    this.sortKey = key;
    this.render();
  }

  sorted() {
    const column = this.columns.find((c) => c.key === this.sortKey);
    if (!column) return this.items;
    return [...this.items].sort(
      (a, b) => compare(column.value(a), column.value(b), this.direction),
    );
  }

  render() {
    const head = document.createElement('tr');
    for (const column of this.columns) {
      const cell = document.createElement('th');
      cell.dataset.column = column.key;
      cell.scope = 'col';
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = column.header;
      button.addEventListener('click', () => this.sortBy(column.key));
      cell.append(button);
      if (column.key === this.sortKey) {
        cell.setAttribute('aria-sort', this.direction > 0 ? 'ascending' : 'descending');
      }
      head.append(cell);
    }
    const body = document.createElement('tbody');
    for (const item of this.sorted()) {
      const row = document.createElement('tr');
      row.dataset.segment = String(item.Number);
      for (const column of this.columns) {
        const cell = document.createElement('td');
        cell.dataset.column = column.key;
        if (column.key === 'segment') {
          const swatch = document.createElement('span');
          swatch.className = 'swatch';
          swatch.style.background = `rgb(${(this.colors.get(item.Number) || [128, 128, 128]).join(',')})`;
          cell.append(swatch, ` ${item.Number} ${item.Label}`);
        } else {
          cell.textContent = format(column, column.value(item));
        }
        row.append(cell);
      }
      body.append(row);
    }
    const thead = document.createElement('thead');
    thead.append(head);
    this.table.replaceChildren(thead, body);
  }
}
