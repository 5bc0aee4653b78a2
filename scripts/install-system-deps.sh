#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages segmesh needs that are missing.
# Usage: install-system-deps.sh [--test|--cluster]   (--cluster adds PostgreSQL and Orthanc's
# PostgreSQL index plugin, for make run-cluster; --test adds those, dciodvfy, Chromium, and
# Orthanc's SDK with a C compiler)
set -euo pipefail

packages=(orthanc orthanc-python python3-venv nodejs npm)
if [[ "${1:-}" == "--test" || "${1:-}" == "--cluster" ]]; then
    packages+=(postgresql orthanc-postgresql)
fi
if [[ "${1:-}" == "--test" ]]; then
    # orthanc-dev and a C compiler build the tests' audit-log recorder (tests/plugins).
    packages+=(dicom3tools chromium orthanc-dev gcc libc6-dev)
fi

# Node.js and npm may come from elsewhere than Debian (e.g. NodeSource, whose nodejs conflicts
# with Debian's npm): a working command is enough for those two.
declare -A command_of=([nodejs]=node [npm]=npm)
missing=()
for package in "${packages[@]}"; do
    if [[ -n "${command_of[$package]:-}" ]] && command -v "${command_of[$package]}" >/dev/null; then
        continue
    fi
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=""
[[ "$(id -u)" -ne 0 ]] && sudo="sudo"
echo "Installing ${missing[*]}"
$sudo apt-get update -qq
# The orthanc package starts a system service; segmesh runs its own Orthanc, so keep it stopped.
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
if command -v systemctl >/dev/null && systemctl is-active --quiet orthanc 2>/dev/null; then
    $sudo systemctl stop orthanc || true
fi
