"""What a client asks, parsed: query arguments and JSON bodies to the typed options the core
and the service take, with a 400 (:class:`segmesh.errors.BadRequestError`) naming the first bad
value; and the storing kinds, whose requests a job keeps as bodies and parses anew on resume.

Above the service, below the adapter: nothing here imports ``orthanc`` or
:mod:`segmesh.orthanc`, so that a route, a job and a test parse alike.

- :mod:`.values`: flags, numbers, lists of segment numbers, ``Tags``;
- :mod:`.labelmap_query`: the label map's options, the label-map and statistics requests;
- :mod:`.overlay_query`: the overlay's style;
- :mod:`.queries`: a voxel, a histogram's bins, a model's segment;
- :mod:`.mesh_fields`: sampling, mesh options and threshold bounds, of a body or a query;
- :mod:`.dataset_body`: a training dataset's request and labels;
- :mod:`.import_fields`: an import's fields and dcmqi templates;
- :mod:`.storing_bodies`: the storing routes' bodies (models, conversions, imports);
- :mod:`.storing_kinds`: each storing kind's body parsed into a task, by name (:data:`KINDS`).
"""
