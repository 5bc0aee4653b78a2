#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages segmesh needs that are missing.
# Usage: install-system-deps.sh [--test]   (--test adds dciodvfy and Chromium)
set -euo pipefail

packages=(orthanc orthanc-python python3-venv)
if [[ "${1:-}" == "--test" ]]; then
    packages+=(dicom3tools chromium)
fi

missing=()
for package in "${packages[@]}"; do
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
