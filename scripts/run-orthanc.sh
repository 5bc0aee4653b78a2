#!/usr/bin/env bash
# Starts Orthanc with segmesh in the foreground (Ctrl-C stops it) and uploads the demo study.
# Environment: HTTP_PORT (8042), DICOM_PORT (4242), STORAGE_DIR (.orthanc-storage), DEMO (1).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
http_port="${HTTP_PORT:-8042}"
dicom_port="${DICOM_PORT:-4242}"
storage="$(mkdir -p "${STORAGE_DIR:-$root/.orthanc-storage}" && cd "${STORAGE_DIR:-$root/.orthanc-storage}" && pwd)"
config="$storage/config"

# Orthanc merges every JSON file of a configuration folder: the user's orthanc.json plus the
# values that come from the environment (Orthanc's own ${VAR} expansion cannot produce integers).
mkdir -p "$config"
ln -sf "$root/orthanc-config/orthanc.json" "$config/orthanc.json"
cat > "$config/runtime.json" <<JSON
{
  "HttpPort": $http_port,
  "DicomPort": $dicom_port,
  "StorageDirectory": "$storage",
  "IndexDirectory": "$storage",
  "Plugins": ["$("$root/scripts/orthanc-python-plugin.sh")"],
  "PythonScript": "$root/plugin/segmesh_plugin.py"
}
JSON

Orthanc "$config" &
orthanc_pid=$!
trap 'kill -TERM $orthanc_pid 2>/dev/null; wait $orthanc_pid 2>/dev/null; exit 0' INT TERM

if [[ "${DEMO:-1}" != "0" ]]; then
    "$root/.venv/bin/python" -m segmesh.demo --upload "http://localhost:$http_port" \
        || echo "segmesh: the demo study could not be uploaded" >&2
fi
wait $orthanc_pid
