#!/usr/bin/env bash
# Installs the web viewer's pinned browser modules (three.js) from package-lock.json into
# plugin/segmesh/app/node_modules, where segmesh serves them (no CDN: viewers often run offline).
set -euo pipefail
cd "$(dirname "$0")/../plugin/segmesh/app"
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
