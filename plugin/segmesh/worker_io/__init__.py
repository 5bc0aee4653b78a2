"""Orthanc's stored files as a worker process reads them, without importing ``orthanc``: the
REST API on the loopback (:mod:`.loopback`), the storage area read in place
(:mod:`.storage_area`), a series' files (:mod:`.stored_files`), large arrays handed over in
files (:mod:`.packed_files`), and what a worker process runs first (:mod:`.worker_process`)."""
