"""segmesh's own jobs (Orthanc's ``/jobs`` cannot host Python work): records in Orthanc's
database (:mod:`.records`), run by a few threads whose heavy steps go to the worker processes
(:mod:`.runner`)."""

from .records import JOBS_METADATA, JobState, JobStore, public
from .runner import JobRunner

__all__ = ["JOBS_METADATA", "JobRunner", "JobState", "JobStore", "public"]
