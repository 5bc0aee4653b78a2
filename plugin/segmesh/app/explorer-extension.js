// segmesh's buttons in Orthanc Explorer (added with orthanc.ExtendOrthancExplorer).
// SEG and RT-STRUCT instance and series pages: "Open in viewer", "Download label map",
// "Download statistics (CSV)", "Generate 3D models", "Convert to ..." (the kinds it is not);
// Encapsulated STL: "View 3D model"; an image series: "3D model by threshold"
// (threshold-dialog.js) and, where a SEG or RT-STRUCT references it, "Show segmentation".
(function () {
  var SOURCE_CLASSES = [
    '1.2.840.10008.5.1.4.1.1.66.4',  // Segmentation Storage
    '1.2.840.10008.5.1.4.1.1.66.7',  // Label Map Segmentation Storage
    '1.2.840.10008.5.1.4.1.1.481.3'  // RT Structure Set Storage
  ];
  var STL_CLASS = '1.2.840.10008.5.1.4.1.1.104.3';
  // The conversions each source class offers: [To of the request, button id, text].
  var CONVERSIONS = {
    '1.2.840.10008.5.1.4.1.1.66.4': [['RTSTRUCT', 'rtstruct', 'Convert to RT-STRUCT'],
                                     ['LABELMAP', 'labelmap', 'Convert to LABELMAP SEG']],
    '1.2.840.10008.5.1.4.1.1.66.7': [['SEG', 'seg', 'Convert to SEG'],
                                     ['RTSTRUCT', 'rtstruct', 'Convert to RT-STRUCT']],
    '1.2.840.10008.5.1.4.1.1.481.3': [['SEG', 'seg', 'Convert to SEG'],
                                      ['LABELMAP', 'labelmap', 'Convert to LABELMAP SEG']]
  };
  var SOURCE_MODALITIES = ['SEG', 'RTSTRUCT'];
  var APP = '../segmesh/app/';

  function addButton(list, id, text, icon, href, onClick) {
    var link = $('<a>').attr('id', id).attr('href', href || '#').text(text);
    if (href) {
      link.attr('target', '_blank').attr('rel', 'external');
    }
    if (onClick) {
      link.on('click', function (event) { event.preventDefault(); onClick(); });
    }
    $(list).append($('<li>').addClass('segmesh-button').attr('data-icon', icon).append(link));
    $(list).listview('refresh');
  }

  function clearButtons(list) {
    $('.segmesh-button', list).remove();
    $('#segmesh-dialog').remove();
  }

  function sopClassOf(instanceId, done) {
    $.ajax({ url: '../instances/' + instanceId + '/metadata/SopClassUid', dataType: 'text',
             cache: false, success: done });
  }

  function sourceButtons(list, instanceId, sopClassUid) {
    addButton(list, 'segmesh-open-viewer', 'Open in viewer', 'search',
              APP + 'viewer.html?instance=' + instanceId);
    addButton(list, 'segmesh-download-nifti', 'Download label map (NIfTI)', 'arrow-d',
              '../instances/' + instanceId + '/segmesh/labelmap?format=nifti');
    addButton(list, 'segmesh-download-nrrd', 'Download label map (NRRD)', 'arrow-d',
              '../instances/' + instanceId + '/segmesh/labelmap?format=nrrd');
    addButton(list, 'segmesh-download-statistics', 'Download statistics (CSV)', 'arrow-d',
              '../instances/' + instanceId + '/segmesh/statistics?format=csv');
    addButton(list, 'segmesh-download-3mf', 'Download 3D models (3MF)', 'arrow-d',
              '../instances/' + instanceId + '/segmesh/stl?format=3mf');
    addButton(list, 'segmesh-generate-models', 'Generate 3D models', 'gear', null,
              function () { openModelDialog(instanceId); });
    $.each(CONVERSIONS[sopClassUid] || [], function (_, conversion) {
      addButton(list, 'segmesh-convert-' + conversion[1], conversion[2], 'refresh', null,
                function () { convertSource(instanceId, conversion[0], conversion[2]); });
    });
  }

  // Overlapping segments cannot share one LABELMAP instance: the button asks for Split, so
  // they go to several instances of the one new series.
  function convertSource(instanceId, target, text) {
    $('#segmesh-dialog').remove();
    var status = $('<p id="segmesh-status" role="status">').text(text + ': working…');
    var dialog = $('<div id="segmesh-dialog" role="dialog">').css({
      position: 'fixed', top: '10%', left: '50%', transform: 'translateX(-50%)', zIndex: 2000,
      background: '#fff', color: '#000', padding: '1em 1.5em', borderRadius: '6px',
      boxShadow: '0 4px 24px rgba(0,0,0,0.4)', minWidth: '320px', textShadow: 'none',
      fontFamily: 'Helvetica, Arial, sans-serif'
    }).append(status);
    $('body').append(dialog);
    $.ajax({
      url: '../instances/' + instanceId + '/segmesh/convert', type: 'POST', dataType: 'json',
      contentType: 'application/json',
      data: JSON.stringify({ To: target, Split: target === 'LABELMAP' }),
      success: function (answer) {
        dialog.remove();
        window.location.hash = '#series?uuid=' + answer.Series;
      },
      error: function (xhr) {
        var message = xhr.responseText;
        try { var e = JSON.parse(message); message = e.Error + ': ' + e.Details; } catch (ignored) {}
        status.text(text + ' failed (' + xhr.status + '): ' + message);
        dialog.append($('<button id="segmesh-cancel" data-role="none">').text('Close')
          .on('click', function () { dialog.remove(); }));
      }
    });
  }

  function field(label, input) {
    return $('<label>').css({ display: 'block', margin: '0.4em 0' }).text(label + ' ').append(input);
  }

  // A plain dialog (not a jQuery Mobile page, so that it survives page changes' markup).
  function makeDialog() {
    $('#segmesh-dialog').remove();
    return $('<div id="segmesh-dialog" role="dialog">').css({
      position: 'fixed', top: '5%', left: '50%', transform: 'translateX(-50%)', zIndex: 2000,
      background: '#fff', color: '#000', padding: '1em 1.5em', borderRadius: '6px',
      boxShadow: '0 4px 24px rgba(0,0,0,0.4)', minWidth: '320px', maxHeight: '90%',
      overflowY: 'auto', textAlign: 'left', textShadow: 'none',
      fontFamily: 'Helvetica, Arial, sans-serif'
    });
  }

  function openModelDialog(instanceId) {
    var dialog = makeDialog();
    dialog.append($('<h3>').text('Generate 3D models'));
    var segments = $('<div id="segmesh-segments">').text('Loading segments…');
    var smoothing = $('<select id="segmesh-smoothing" data-role="none">')
      .append('<option value="taubin">Taubin (keeps volume)</option>')
      .append('<option value="laplacian">Laplacian</option>')
      .append('<option value="none">None</option>');
    var iterations = $('<input id="segmesh-iterations" type="number" min="0" max="500" value="20" data-role="none">');
    var decimate = $('<input id="segmesh-decimate" type="number" min="0" max="0.99" step="0.05" value="0" data-role="none">');
    var status = $('<p id="segmesh-status" role="status">');
    var generate = $('<button id="segmesh-generate" data-role="none">').text('Generate');
    var cancel = $('<button id="segmesh-cancel" data-role="none">').text('Cancel');
    dialog.append(segments, field('Smoothing', smoothing), field('Iterations', iterations),
                  field('Fraction of triangles removed', decimate), status,
                  $('<div>').append(generate, ' ', cancel));
    $('body').append(dialog);
    cancel.on('click', function () { dialog.remove(); });

    $.getJSON('../instances/' + instanceId + '/segmesh/segments', function (description) {
      segments.empty();
      $.each(description.Segments, function (_, segment) {
        var box = $('<input type="checkbox" data-role="none" checked>').val(segment.Number);
        var swatch = $('<span>').css({ display: 'inline-block', width: '1em', height: '1em',
          background: 'rgb(' + segment.Color.join(',') + ')', margin: '0 0.3em' });
        segments.append($('<label>').css({ display: 'block' })
          .append(box, swatch, document.createTextNode(segment.Number + ' ' + segment.Label)));
      });
    }).fail(function (xhr) { segments.text('Cannot list the segments: ' + xhr.responseText); });

    generate.on('click', function () {
      var chosen = segments.find('input:checked').map(function () {
        return parseInt(this.value, 10);
      }).get();
      if (!chosen.length) {
        status.text('Pick at least one segment.');
        return;
      }
      generate.prop('disabled', true);
      status.text('Queued…');
      var bar = $('<progress id="segmesh-progress" max="100" value="0">').css({ width: '100%' });
      status.after(bar);
      var failed = function (xhr) {
        var text = xhr.responseText;
        try { var e = JSON.parse(text); text = e.Error + ': ' + e.Details; } catch (ignored) {}
        status.text('Failed (' + xhr.status + '): ' + text);
        bar.remove();
        generate.prop('disabled', false);
      };
      // A job, so that the dialog can show its progress while the models are built.
      $.ajax({
        url: '../instances/' + instanceId + '/segmesh/stl', type: 'POST', dataType: 'json',
        contentType: 'application/json',
        data: JSON.stringify({
          Segments: chosen, Smoothing: smoothing.val(), Asynchronous: true,
          Iterations: parseInt(iterations.val(), 10), Decimate: parseFloat(decimate.val())
        }),
        success: function (job) { followJob(job.Path, dialog, status, bar, failed); },
        error: failed
      });
    });
  }

  function followJob(path, dialog, status, bar, failed) {
    $.ajax({ url: '..' + path, dataType: 'json', cache: false, error: failed,
      success: function (record) {
        bar.val(record.Progress);
        if (record.State === 'Success') {
          dialog.remove();
          window.location.hash = '#series?uuid=' + record.Result.Series;
        } else if (record.State === 'Failure' || record.State === 'Cancelled') {
          failed({ status: (record.Error || {}).HttpStatus || '', responseText:
                   JSON.stringify(record.Error || { Error: record.State, Details: '' }) });
        } else {
          status.text(record.State + '… ' + record.Progress + '%');
          setTimeout(function () { followJob(path, dialog, status, bar, failed); }, 300);
        }
      } });
  }

  // The dialog's code is loaded on first use: most pages never open it.
  function openThresholdDialog(seriesId) {
    var helpers = { dialog: makeDialog, field: field, followJob: followJob };
    if (window.segmeshThresholdDialog) {
      window.segmeshThresholdDialog(seriesId, helpers);
      return;
    }
    $.ajax({ url: APP + 'threshold-dialog.js', dataType: 'script', cache: false,
             success: function () { window.segmeshThresholdDialog(seriesId, helpers); } });
  }

  // "Show segmentation" for each SEG or RT-STRUCT of the study that references this series.
  function segmentationButtons(list, seriesId, studyId) {
    $.getJSON('../studies/' + studyId + '/series', function (allSeries) {
      $.each(allSeries, function (_, series) {
        if ($.inArray(series.MainDicomTags.Modality, SOURCE_MODALITIES) < 0) {
          return;
        }
        $.each(series.Instances, function (_, instanceId) {
          $.getJSON('../instances/' + instanceId + '/segmesh/segments', function (description) {
            if ($.inArray(seriesId, description.ReferencedSeries) >= 0) {
              var name = series.MainDicomTags.SeriesDescription || description.Kind;
              addButton(list, 'segmesh-show-' + instanceId, 'Show segmentation: ' + name,
                        'search', APP + 'viewer.html?instance=' + instanceId);
            }
          });
        });
      });
    });
  }

  $('#instance').live('pagebeforeshow', function () {
    var list = $('#instance-access');
    var instanceId = $.mobile.pageData.uuid;
    clearButtons(list);
    sopClassOf(instanceId, function (sopClassUid) {
      if ($.inArray(sopClassUid, SOURCE_CLASSES) >= 0) {
        sourceButtons(list, instanceId, sopClassUid);
      } else if (sopClassUid === STL_CLASS) {
        addButton(list, 'segmesh-view-model', 'View 3D model', 'search',
                  APP + 'viewer.html?model=' + instanceId);
      }
    });
  });

  $('#series').live('pagebeforeshow', function () {
    var list = $('#series-access');
    var seriesId = $.mobile.pageData.uuid;
    clearButtons(list);
    $.getJSON('../series/' + seriesId, function (series) {
      if (!series.Instances.length) {
        return;
      }
      var first = series.Instances[0];
      sopClassOf(first, function (sopClassUid) {
        if ($.inArray(sopClassUid, SOURCE_CLASSES) >= 0) {
          sourceButtons(list, first, sopClassUid);
        } else if (sopClassUid !== STL_CLASS) {
          addButton(list, 'segmesh-threshold-model', '3D model by threshold', 'gear', null,
                    function () { openThresholdDialog(seriesId); });
          segmentationButtons(list, seriesId, series.ParentStudy);
        }
      });
    });
  });
})();
