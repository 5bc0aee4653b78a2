// viewer.html alone, where Orthanc Explorer 2's list of plugins links (segmesh's root URI):
// the stored SEG and RT-STRUCT series, each instance a link to its view.

// At most this many series of each modality are listed (Orthanc's own find limit).
const LIMIT = 500;

async function findSeries(root, modality) {
  const response = await fetch(new URL('tools/find', root), {
    method: 'POST',
    body: JSON.stringify({ Level: 'Series', Query: { Modality: modality }, Expand: true, Limit: LIMIT }),
  });
  if (!response.ok) throw new Error(`tools/find: ${response.status} ${await response.text()}`);
  return response.json();
}

// Fills the list element with a link per stored SEG and RT-STRUCT instance; returns their count.
export async function listSources(root, list) {
  const series = (await Promise.all(['SEG', 'RTSTRUCT'].map((m) => findSeries(root, m)))).flat();
  series.sort((a, b) => (b.MainDicomTags.SeriesDate || '').localeCompare(a.MainDicomTags.SeriesDate || ''));
  let count = 0;
  for (const one of series) {
    const tags = one.MainDicomTags;
    for (const instanceId of one.Instances) {
      const item = document.createElement('li');
      const link = document.createElement('a');
      link.href = `viewer.html?instance=${encodeURIComponent(instanceId)}`;
      link.textContent = `${tags.Modality}: ${tags.SeriesDescription || '(no description)'}`;
      link.dataset.instance = instanceId;
      item.append(link, ` ${tags.SeriesDate || ''}`);
      list.append(item);
      count += 1;
    }
  }
  return count;
}
