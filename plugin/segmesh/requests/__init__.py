"""What a client asks, parsed: query arguments and JSON bodies to the typed options the core
and the service take, with a 400 (:class:`segmesh.errors.BadRequestError`) naming the first bad
value; and the storing kinds, whose requests a job keeps as bodies and parses anew on resume.

Above the service, below the adapter: nothing here imports ``orthanc`` or
:mod:`segmesh.orthanc`, so the same parsing serves a route, a job and a test.

- :mod:`.storing_bodies`: the storing routes' bodies (models, conversions, imports);
- :mod:`.storing_kinds`: each storing kind's body parsed into a task, by name (:data:`KINDS`).
"""
