"""``POST /series/{id}/segmesh/import``: a label map posted for a series, stored as DICOM on
its grid, now or as a job (the work is in :mod:`segmesh.service.tasks.imports`).

The request is the file itself, the fields (if any) as JSON in the ``X-SegMesh-Fields`` header
(``curl --data-binary @labels.nii.gz -H 'X-SegMesh-Fields: {"To": "RTSTRUCT"}'``): Orthanc
passes no query arguments of a POST on to plugins (1.10 to 1.13 alike), so none can carry
them. Or multipart/related (or mixed) with the file and a JSON part of fields
(``curl -H 'Content-Type: multipart/related' -F file=@labels.nii.gz -F
'fields={...};type=application/json'``), a dcmqi template as that part taken as is; or a JSON
body whose ``File`` is the file as base64. Orthanc itself takes multipart/form-data apart and
passes each part on alone, so a form is refused.
"""

from __future__ import annotations

import json
from typing import Any

from ...errors import BadRequestError
from ...formats.label_volume import check_size
from ...requests.storing_bodies import file_of_body, import_request, is_asynchronous, job_body
from ...requests.storing_kinds import LABEL_IMPORT
from ...service.jobs import JobRunner
from ...service.tasks.context import TaskContext
from ...service.tasks.imports import import_labelmap_file
from ..http import SERIES_ROUTE, Answer, Request, register_route
from ..multipart import is_multipart, parts

#: The header whose JSON object holds the fields of a request whose body is the file alone.
FIELDS_HEADER = "X-SegMesh-Fields"


def _json_fields(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data) if data.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BadRequestError(f"{what} is not JSON", str(error)) from error
    if not isinstance(value, dict):
        raise BadRequestError(f"{what} is not a JSON object", type(value).__name__)
    return value


def _multipart(request: Request, content_type: str) -> tuple[bytes, dict[str, Any]]:
    """The file part and the fields of the JSON part (named ``fields``, ``metadata`` or of
    type application/json); 400 where there is not exactly one file part."""
    found = parts(request.body, content_type)
    is_json = [
        p.content_type == "application/json" or p.name in ("fields", "metadata") for p in found
    ]
    files = [p for p, text in zip(found, is_json, strict=True) if not text]
    jsons = [p for p, text in zip(found, is_json, strict=True) if text]
    if len(files) != 1 or len(jsons) > 1:
        raise BadRequestError(
            "Bad multipart body", "one file part, and at most one JSON part of fields"
        )
    fields = _json_fields(jsons[0].data, "The JSON part") if jsons else {}
    return files[0].data, fields


def file_and_fields(request: Request) -> tuple[bytes, dict[str, Any]]:
    """The posted label map and the request's fields, however they were sent; 400 for one
    part of a multipart/form-data body, which Orthanc hands over part by part (the file
    without its fields: nothing may be stored from it)."""
    if str(request.headers.get("content-disposition", "")).lower().startswith("form-data"):
        raise BadRequestError(
            "multipart/form-data is split by Orthanc",
            "Orthanc passes each part of a form on alone: send the same parts as "
            "multipart/related (curl -H 'Content-Type: multipart/related' -F ...), or the "
            f"file as the body with the fields as JSON in the {FIELDS_HEADER} header",
        )
    content_type = str(request.headers.get("content-type", ""))
    if is_multipart(content_type):
        file, fields = _multipart(request, content_type)
    elif content_type.lower().startswith("application/json"):
        body = _json_fields(request.body, "Body")
        file, fields = file_of_body(body), {k: v for k, v in body.items() if k != "File"}
    else:
        file, fields = request.body, {}
    header = request.headers.get(FIELDS_HEADER.lower())
    header_fields = {} if header is None else _json_fields(header.encode(), FIELDS_HEADER)
    overlap = sorted(set(header_fields) & set(fields))
    if overlap:
        raise BadRequestError(
            "Parameters given twice", f"{overlap}: in {FIELDS_HEADER} and the body"
        )
    return file, {**fields, **header_fields}


def register(context: TaskContext, runner: JobRunner) -> None:
    """Register the import route, bound to ``context`` and the job ``runner``."""

    def handle(request: Request) -> Answer:
        file, fields = file_and_fields(request)
        check_size(file, context.settings.max_nifti_megabytes)
        series_id = request.groups[0]
        parsed = import_request(file, fields)
        if is_asynchronous(fields):
            record = runner.submit(LABEL_IMPORT.name, series_id, job_body(file, fields))
            return Answer.json({"ID": record["ID"], "Path": f"/segmesh/jobs/{record['ID']}"}, 202)
        return Answer.json(import_labelmap_file(series_id, parsed, context))

    register_route(f"{SERIES_ROUTE}/import", ("POST",), handle)
