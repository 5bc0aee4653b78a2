#!/usr/bin/env bash
# Prints the path of the Orthanc Python plugin installed by the distribution.
set -euo pipefail
for candidate in /usr/share/orthanc/plugins/libOrthancPython.so /usr/lib/orthanc/libOrthancPython.so*; do
    if [[ -e "$candidate" ]]; then
        readlink -f "$candidate"
        exit 0
    fi
done
echo "orthanc-python is not installed" >&2
exit 1
