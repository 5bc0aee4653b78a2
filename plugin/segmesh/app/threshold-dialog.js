// "3D model by threshold" on an image series page of Orthanc Explorer (loaded on demand by
// explorer-extension.js): the series' histogram to pick the bounds (inputs, or click and drag
// on it), a quick preview (every n-th voxel) drawn with three.js with its printability report
// (the X-Segmesh-Printability header), then the stored model as a job. window.segmeshThresholdDialog(seriesId, helpers): helpers.dialog() makes the box,
// helpers.field(label, input) a row, helpers.followJob(path, dialog, status, bar, failed)
// follows the job and opens the new series.
(function () {
  var THREE_URL = new URL('../segmesh/app/node_modules/three/build/three.module.js',
                          window.location.href).href;
  var BACKGROUND = 0x202428;
  var STL_HEADER = 84;  // binary STL: 80-byte header and a triangle count,
  var STL_TRIANGLE = 50;  // then 50 bytes a triangle
  var PREVIEW_VOXELS = 4e6;  // the preview's step keeps marching cubes about this small

  function errorText(xhr) {
    var text = xhr.responseText;
    try { var e = JSON.parse(text); text = e.Error + ': ' + e.Details; } catch (ignored) {}
    return '(' + xhr.status + '): ' + text;
  }

  function numberOrNull(input) {
    var text = $.trim(input.val());
    return text === '' ? null : parseFloat(text);
  }

  // Counts on a logarithmic scale (air or background would flatten every other peak), the
  // chosen range shaded, its bounds as lines.
  function drawHistogram(canvas, histogram, lower, upper) {
    var context = canvas.getContext('2d');
    var width = canvas.width, height = canvas.height;
    var low = histogram.Min, high = histogram.Max > low ? histogram.Max : low + 1;
    var x = function (value) { return (value - low) / (high - low) * width; };
    context.fillStyle = '#ffffff';
    context.fillRect(0, 0, width, height);
    var top = Math.log(1 + Math.max.apply(null, histogram.Counts));
    var chosenLow = lower === null ? low : lower, chosenHigh = upper === null ? high : upper;
    context.fillStyle = 'rgba(241, 214, 145, 0.5)';
    context.fillRect(x(chosenLow), 0, Math.max(1, x(chosenHigh) - x(chosenLow)), height);
    $.each(histogram.Counts, function (n, count) {
      var left = x(histogram.Edges[n]), right = x(histogram.Edges[n + 1]);
      var bar = count ? Math.max(1, Math.log(1 + count) / top * (height - 4)) : 0;
      var inside = histogram.Edges[n + 1] >= chosenLow && histogram.Edges[n] <= chosenHigh;
      context.fillStyle = inside ? '#8a6d1f' : '#7a7a7a';
      context.fillRect(left, height - bar, Math.max(1, right - left), bar);
    });
    context.fillStyle = '#c0392b';
    $.each([lower, upper], function (_, bound) {
      if (bound !== null) {
        context.fillRect(Math.round(x(bound)) - 1, 0, 2, height);
      }
    });
    canvas.dataset.drawn = String(parseInt(canvas.dataset.drawn || '0', 10) + 1);
  }

  function yesNo(value) { return value ? 'yes' : 'no'; }

  // The preview's printability report (the header's JSON) in the <dl> ``list``, each value's
  // <dd> marked with its JSON key (data-key); emptied where there is none.
  function showPrintability(list, header) {
    list.empty();
    var report = null;
    try { report = JSON.parse(header); } catch (ignored) {}
    if (!report) { return; }
    var wall = report.ThinnestWallMm;
    var rows = [
      ['Closed', 'Closed', yesNo(report.Closed)],
      ['Manifold', 'Manifold', yesNo(report.Manifold)],
      ['OutwardNormals', 'Normals outward', yesNo(report.OutwardNormals)],
      ['Bodies', 'Bodies', String(report.Bodies)],
      ['VolumeMl', 'Volume', report.VolumeMl + ' ml'],
      ['BoundsMm', 'Size', report.BoundsMm.Size.join(' × ') + ' mm'],
      ['ThinnestWallMm', 'Thinnest wall', wall === null ? 'not estimated' : wall + ' mm']
    ];
    $.each(rows, function (_, row) {
      list.append($('<dt>').text(row[1]),
                  $('<dd>').attr('data-key', row[0]).text(row[2]).css({ margin: 0 }));
    });
    var printable = report.Closed && report.Manifold && report.OutwardNormals;
    list.css('color', printable ? '' : '#c0392b');
  }

  // The (non-indexed) triangles of a binary STL, LPS mm.
  function stlPositions(buffer) {
    var view = new DataView(buffer);
    var count = view.getUint32(80, true);
    var positions = new Float32Array(count * 9);
    for (var t = 0; t < count; t++) {
      for (var v = 0; v < 9; v++) {
        positions[t * 9 + v] = view.getFloat32(STL_HEADER + t * STL_TRIANGLE + 12 + v * 4, true);
      }
    }
    return positions;
  }

  // Seen from the front as radiologists expect: anterior towards the viewer (-y in LPS), head
  // up (+z), the patient's left (+x) on the screen's right.
  function renderPreview(canvas, positions) {
    return import(THREE_URL).then(function (THREE) {
      var geometry = new THREE.BufferGeometry();
      geometry.setAttribute('position', new THREE.BufferAttribute(positions, 3));
      geometry.computeVertexNormals();
      geometry.computeBoundingSphere();
      var sphere = geometry.boundingSphere;
      var scene = new THREE.Scene();
      scene.background = new THREE.Color(BACKGROUND);
      scene.add(new THREE.Mesh(geometry, new THREE.MeshLambertMaterial({
        color: 0xf1d691, side: THREE.DoubleSide })));
      scene.add(new THREE.AmbientLight(0xffffff, 0.5));
      var camera = new THREE.PerspectiveCamera(30, canvas.width / canvas.height, 1, 1e6);
      var distance = sphere.radius / Math.sin(THREE.MathUtils.degToRad(15)) * 1.1;
      camera.position.set(sphere.center.x, sphere.center.y - distance, sphere.center.z);
      camera.up.set(0, 0, 1);
      camera.lookAt(sphere.center);
      camera.near = distance / 100;
      camera.far = distance * 3;
      camera.updateProjectionMatrix();
      var light = new THREE.DirectionalLight(0xffffff, 2.0);
      light.position.copy(camera.position);
      scene.add(light);
      var renderer = new THREE.WebGLRenderer({ canvas: canvas, antialias: true,
                                               preserveDrawingBuffer: true });
      renderer.setSize(canvas.width, canvas.height, false);
      renderer.render(scene, camera);
      renderer.dispose();
    });
  }

  window.segmeshThresholdDialog = function (seriesId, helpers) {
    var series = '../series/' + seriesId + '/segmesh/';
    var dialog = helpers.dialog().attr('id', 'segmesh-dialog');
    dialog.append($('<h3>').text('3D model by threshold'));
    var histogramCanvas = $('<canvas id="segmesh-histogram" width="420" height="120">')
      .css({ display: 'block', border: '1px solid #ccc', cursor: 'ew-resize' });
    var range = $('<p id="segmesh-histogram-range">').text('Loading the histogram…');
    // Old jQuery cannot set an input's type once made: it goes in the markup.
    var input = function (id, attributes) {
      return $('<input type="number" data-role="none">').attr('id', id).attr(attributes)
        .css({ width: '7em' });
    };
    var lower = input('segmesh-lower', {});
    var upper = input('segmesh-upper', { placeholder: 'none' });
    var keepLargest = $('<input id="segmesh-keep-largest" type="checkbox" data-role="none" checked>');
    var smoothing = $('<select id="segmesh-smoothing" data-role="none">')
      .append('<option value="taubin">Taubin (keeps volume)</option>')
      .append('<option value="laplacian">Laplacian</option>')
      .append('<option value="none">None</option>');
    var decimate = input('segmesh-decimate', { min: 0, max: 0.99, step: 0.05,
                                               value: 0 });
    var target = input('segmesh-target-mb', { min: 0.1, step: 1,
                                              placeholder: 'any' });
    var step = input('segmesh-step', { min: 1, max: 64, value: 1 });
    // Preparation for printing: empty fields ask nothing.
    var keepCount = input('segmesh-keep-count', { min: 1, step: 1, value: 1 });
    var fillCavities = $('<input id="segmesh-fill-cavities" type="checkbox" data-role="none">');
    var wall = input('segmesh-hollow-wall', { min: 0.1, step: 0.5, placeholder: 'solid' });
    var drain = input('segmesh-drain', { min: 0.1, step: 0.5, placeholder: 'none' });
    var baseAxis = $('<select id="segmesh-base-axis" data-role="none">')
      .append('<option value="">None</option>')
      .append('<option value="I">Inferior end</option>')
      .append('<option value="S">Superior end</option>')
      .append('<option value="P">Posterior side</option>')
      .append('<option value="A">Anterior side</option>')
      .append('<option value="R">Right side</option>')
      .append('<option value="L">Left side</option>');
    var baseOffset = input('segmesh-base-offset', { min: 0, step: 0.5, value: 0 });
    var scale = input('segmesh-scale', { min: 0.01, step: 0.1, placeholder: '1' });
    var sizeMm = input('segmesh-size-mm', { min: 1, step: 1, placeholder: 'as scanned' });
    var targetTriangles = input('segmesh-target-triangles', { min: 4, step: 1000, placeholder: 'any' });
    var previewCanvas = $('<canvas id="segmesh-preview-canvas" width="320" height="240">')
      .css({ display: 'block', background: '#202428' });
    var previewInfo = $('<p id="segmesh-preview-info">');
    // Two terms and their values a row: the report in four short lines.
    var printability = $('<dl id="segmesh-preview-printability" aria-label="Printability">')
      .css({ display: 'grid', gridTemplateColumns: 'auto auto auto auto', gap: '0 0.8em',
             margin: '0.3em 0', fontSize: '0.9em' });
    var status = $('<p id="segmesh-status" role="status">');
    var preview = $('<button id="segmesh-preview" data-role="none">').text('Preview');
    var store = $('<button id="segmesh-store" data-role="none">').text('Store model');
    var cancel = $('<button id="segmesh-cancel" data-role="none">').text('Cancel');
    dialog.append(histogramCanvas, range,
                  helpers.field('Lower bound', lower), helpers.field('Upper bound', upper),
                  helpers.field('Keep the largest piece', keepLargest),
                  helpers.field('Pieces kept (largest first)', keepCount),
                  helpers.field('Fill closed cavities', fillCavities),
                  helpers.field('Hollow: wall (mm)', wall),
                  helpers.field('Drain hole (mm)', drain),
                  helpers.field('Flat base on', baseAxis),
                  helpers.field('Base cut above its end (mm)', baseOffset),
                  helpers.field('Scale by', scale),
                  helpers.field('Or largest size (mm)', sizeMm),
                  helpers.field('Smoothing', smoothing),
                  helpers.field('Fraction of triangles removed', decimate),
                  helpers.field('Target file size (MB)', target),
                  helpers.field('Or target triangles', targetTriangles),
                  helpers.field('Preview every n-th voxel', step),
                  previewCanvas, previewInfo, printability, status,
                  $('<div>').append(preview, ' ', store, ' ', cancel));
    $('body').append(dialog);
    cancel.on('click', function () { dialog.remove(); });

    var histogram = null;
    // Triangles of the full-resolution, undecimated model, estimated from the last preview.
    var fullTriangles = null;
    var redraw = function () {
      if (histogram) {
        drawHistogram(histogramCanvas[0], histogram, numberOrNull(lower), numberOrNull(upper));
      }
    };
    var applyTarget = function () {
      var megabytes = numberOrNull(target);
      if (megabytes === null || fullTriangles === null) {
        return;
      }
      var bytes = STL_HEADER + STL_TRIANGLE * fullTriangles;
      var fraction = Math.min(0.99, Math.max(0, 1 - megabytes * 1e6 / bytes));
      decimate.val(fraction.toFixed(3));
    };
    lower.add(upper).on('input change', redraw);
    target.on('input change', applyTarget);

    $.getJSON(series + 'histogram?bins=256', function (answer) {
      histogram = answer;
      var unit = answer.Unit ? ' ' + answer.Unit : '';
      range.text(answer.Min + ' to ' + answer.Max + unit + ', ' + answer.Voxels + ' voxels');
      histogramCanvas.attr('data-min', answer.Min).attr('data-max', answer.Max)
        .attr('data-voxels', answer.Voxels);
      step.val(Math.max(1, Math.ceil(Math.cbrt(answer.Voxels / PREVIEW_VOXELS))));
      if (lower.val() === '') {
        // A start for bone (CT in HU), or the upper third of other ranges.
        var start = answer.Unit === 'HU' ? 300 : answer.Min + (answer.Max - answer.Min) * 2 / 3;
        lower.val(Math.min(answer.Max, start));
      }
      redraw();
    }).fail(function (xhr) { range.text('Cannot read the histogram ' + errorText(xhr)); });

    // Press and drag on the histogram: the nearer bound follows the pointer.
    var dragged = null;
    var valueAt = function (event) {
      var box = histogramCanvas[0].getBoundingClientRect();
      var fraction = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
      return Math.round(histogram.Min + fraction * (histogram.Max - histogram.Min));
    };
    histogramCanvas.on('mousedown', function (event) {
      if (!histogram) {
        return;
      }
      var value = valueAt(event);
      var low = numberOrNull(lower), high = numberOrNull(upper);
      dragged = high !== null && Math.abs(value - high) < Math.abs(value - (low === null ? histogram.Min : low))
        ? upper : lower;
      dragged.val(value);
      redraw();
    });
    $(document).off('.segmesh').on('mousemove.segmesh', function (event) {
      if (!$.contains(document, dialog[0])) {
        $(document).off('.segmesh');
      } else if (dragged) {
        dragged.val(valueAt(event));
        redraw();
      }
    }).on('mouseup.segmesh', function () { dragged = null; });

    // The store's body; its preparation for printing also as the preview's query (the same
    // options by their query names).
    var request = function () {
      var body = { Threshold: numberOrNull(lower), Smoothing: smoothing.val() };
      var query = {};
      if (numberOrNull(upper) !== null) { body.Upper = numberOrNull(upper); }
      if (keepLargest.prop('checked')) {
        body.KeepLargest = query['keep-largest'] = Math.max(1, parseInt(keepCount.val(), 10) || 1);
      }
      if (fillCavities.prop('checked')) { body.FillCavities = true; query['fill-cavities'] = true; }
      if (numberOrNull(wall) !== null) {
        body.Hollow = { WallMm: numberOrNull(wall) };
        query['hollow-wall-mm'] = body.Hollow.WallMm;
        if (numberOrNull(drain) !== null) {
          body.Hollow.DrainMm = query['drain-mm'] = numberOrNull(drain);
        }
      }
      if (baseAxis.val()) {
        body.Base = { Axis: baseAxis.val(), OffsetMm: numberOrNull(baseOffset) || 0 };
        query['base-axis'] = body.Base.Axis;
        query['base-offset-mm'] = body.Base.OffsetMm;
      }
      if (numberOrNull(sizeMm) !== null) {
        body.Scale = { SizeMm: numberOrNull(sizeMm) };
        query['size-mm'] = body.Scale.SizeMm;
      } else if (numberOrNull(scale) !== null) {
        body.Scale = { Factor: numberOrNull(scale) };
        query.scale = body.Scale.Factor;
      }
      // A triangle count and a fraction removed are exclusive: the count wins where given.
      if (numberOrNull(targetTriangles) !== null) {
        body.TargetTriangles = query['target-triangles'] = Math.round(numberOrNull(targetTriangles));
      } else {
        body.Decimate = query.decimate = parseFloat(decimate.val()) || 0;
      }
      return { body: body, query: query };
    };

    preview.on('click', function () {
      var asked = request(), body = asked.body, query = asked.query;
      if (body.Threshold === null) {
        status.text('Give a lower bound.');
        return;
      }
      var stepValue = Math.max(1, parseInt(step.val(), 10) || 1);
      var removed = body.Decimate || 0;
      $.extend(query, { threshold: body.Threshold, smoothing: body.Smoothing, step: stepValue,
                        format: 'stl' });
      if (body.Upper !== undefined) { query.upper = body.Upper; }
      status.text('Previewing…');
      preview.prop('disabled', true);
      var xhr = new XMLHttpRequest();
      xhr.open('GET', series + 'stl?' + $.param(query));
      xhr.responseType = 'arraybuffer';
      xhr.onload = function () {
        preview.prop('disabled', false);
        if (xhr.status !== 200) {
          var text = new TextDecoder().decode(xhr.response);
          status.text('Preview failed ' + errorText({ status: xhr.status, responseText: text }));
          return;
        }
        var positions = stlPositions(xhr.response);
        var triangles = positions.length / 9;
        // Surfaces grow with the square of the resolution: triangles by step².
        fullTriangles = Math.round(triangles / (1 - removed) * stepValue * stepValue);
        applyTarget();
        var megabytes = (STL_HEADER + STL_TRIANGLE * fullTriangles * (1 - parseFloat(decimate.val() || 0))) / 1e6;
        previewInfo.text(triangles + ' triangles at every ' + stepValue + ' voxel(s); the model: about ' +
                         megabytes.toFixed(1) + ' MB');
        showPrintability(printability, xhr.getResponseHeader('X-Segmesh-Printability'));
        renderPreview(previewCanvas[0], positions).then(function () {
          previewCanvas.attr('data-triangles', triangles);
          status.text('');
        }, function (error) { status.text('Cannot draw the preview: ' + error); });
      };
      xhr.onerror = function () {
        preview.prop('disabled', false);
        status.text('Preview failed: no answer');
      };
      xhr.send();
    });

    store.on('click', function () {
      var body = request().body;
      if (body.Threshold === null) {
        status.text('Give a lower bound.');
        return;
      }
      store.prop('disabled', true);
      status.text('Queued…');
      var bar = $('<progress id="segmesh-progress" max="100" value="0">').css({ width: '100%' });
      status.after(bar);
      var failed = function (xhr) {
        status.text('Failed ' + errorText(xhr));
        bar.remove();
        store.prop('disabled', false);
      };
      body.Asynchronous = true;
      $.ajax({
        url: series + 'stl', type: 'POST', dataType: 'json', contentType: 'application/json',
        data: JSON.stringify(body),
        success: function (job) { helpers.followJob(job.Path, dialog, status, bar, failed); },
        error: failed
      });
    });
  };
})();
