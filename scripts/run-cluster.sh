#!/usr/bin/env bash
# Scale-out on one machine: PostgreSQL (Debian's binaries, data in .orthanc-cluster/postgres)
# and two Orthanc nodes with segmesh sharing its index and one storage folder, on HTTP ports
# 8042 and 8043, in the foreground (Ctrl-C stops all three).
# Environment: CLUSTER_DIR (.orthanc-cluster), PG_PORT (5433), DEMO (1: upload it to node A).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cluster="$(mkdir -p "${CLUSTER_DIR:-$root/.orthanc-cluster}" && cd "${CLUSTER_DIR:-$root/.orthanc-cluster}" && pwd)"
pg_port="${PG_PORT:-5433}"
pg_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
index_plugin=/usr/share/orthanc/plugins/libOrthancPostgreSQLIndex.so
[[ -x "$pg_bin/pg_ctl" ]] || { echo "PostgreSQL is missing: apt-get install postgresql" >&2; exit 1; }
[[ -e "$index_plugin" ]] || { echo "apt-get install orthanc-postgresql" >&2; exit 1; }

# PostgreSQL refuses to run as root: as root it runs as the postgres system user.
as_pg=()
if [[ "$(id -u)" -eq 0 ]]; then
    as_pg=(runuser -u postgres --)
fi
pgdata="$cluster/postgres"
mkdir -p "$pgdata"
[[ ${#as_pg[@]} -gt 0 ]] && chown postgres: "$pgdata"
chmod 700 "$pgdata"
if [[ ! -f "$pgdata/data/PG_VERSION" ]]; then
    pwfile="$pgdata/password"
    echo orthanc > "$pwfile"
    [[ ${#as_pg[@]} -gt 0 ]] && chown postgres: "$pwfile"
    "${as_pg[@]}" "$pg_bin/initdb" -D "$pgdata/data" -U orthanc --pwfile="$pwfile" \
        --auth-host=scram-sha-256 --auth-local=trust -E UTF8 >"$pgdata/initdb.log"
    rm -f "$pwfile"
    created=1
fi
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pgdata/data" -l "$pgdata/postgres.log" -w start \
    -o "-c listen_addresses=127.0.0.1 -c port=$pg_port -c unix_socket_directories=$pgdata"
pids=()
stop_all() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pgdata/data" -m fast -w stop >/dev/null || true
}
trap 'trap - EXIT; stop_all; exit 0' INT TERM
trap stop_all EXIT
if [[ -n "${created:-}" ]]; then
    PGPASSWORD=orthanc "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U orthanc orthanc
fi

# Each node: the user's orthanc.json (CheckRevisions true: segmesh needs it) overlaid with its
# own name and ports, the shared index (Lock off: several nodes use it) and the shared storage
# folder, in one file (Orthanc refuses a key defined in two files of a folder). Names must
# differ: segmesh tells its nodes apart by Name and HttpPort.
mkdir -p "$cluster/storage"
for node in A B; do
    http_port=$([[ $node == A ]] && echo 8042 || echo 8043)
    dicom_port=$([[ $node == A ]] && echo 4242 || echo 4243)
    config="$cluster/node-$node.json"
    mkdir -p "$cluster/node-$node"
    python3 - "$root/orthanc-config/orthanc.json" > "$config" <<PY
import json, sys
configuration = json.load(open(sys.argv[1]))
configuration.update({
    "Name": "segmesh-$node",
    "HttpPort": $http_port,
    "DicomPort": $dicom_port,
    "DicomAet": "SEGMESH$node",
    "StorageDirectory": "$cluster/storage",
    "IndexDirectory": "$cluster/node-$node",
    "Plugins": ["$("$root/scripts/orthanc-python-plugin.sh")", "$index_plugin"],
    "PythonScript": "$root/plugin/segmesh_plugin.py",
    "PostgreSQL": {
        "EnableIndex": True, "EnableStorage": False, "Host": "127.0.0.1", "Port": $pg_port,
        "Database": "orthanc", "Username": "orthanc", "Password": "orthanc", "Lock": False,
    },
})
print(json.dumps(configuration, indent=2))
PY
    Orthanc "$config" &
    pids+=($!)
    # The first node creates the database schema; the second waits for it.
    until curl -fs "http://localhost:$http_port/system" >/dev/null; do
        kill -0 "${pids[-1]}" 2>/dev/null || { echo "node $node did not start" >&2; exit 1; }
        sleep 0.5
    done
done
echo "segmesh cluster: node A http://localhost:8042, node B http://localhost:8043"
if [[ "${DEMO:-1}" != "0" ]]; then
    "$root/.venv/bin/python" -m segmesh.demo --upload "http://localhost:8042" \
        || echo "segmesh: the demo study could not be uploaded" >&2
fi
wait "${pids[@]}"
