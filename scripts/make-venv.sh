#!/usr/bin/env bash
# Creates .venv with the Python minor version that the Orthanc Python plugin embeds,
# and installs segmesh's pinned dependencies into it.
# Usage: make-venv.sh [extras]   e.g. make-venv.sh test
set -euo pipefail
cd "$(dirname "$0")/.."

plugin=$(scripts/orthanc-python-plugin.sh)
version=$(ldd "$plugin" | sed -n 's/.*libpython\([0-9]*\.[0-9]*\)\.so.*/\1/p' | head -n1)
if [[ -z "$version" ]]; then
    echo "cannot tell which libpython $plugin embeds" >&2
    exit 1
fi
python="/usr/bin/python$version"
if [[ ! -x "$python" ]]; then
    sudo=""
    [[ "$(id -u)" -ne 0 ]] && sudo="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "python$version" "python$version-venv"
fi

if [[ ! -x .venv/bin/python ]] || [[ "$(.venv/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')" != "$version" ]]; then
    rm -rf .venv
    "$python" -m venv .venv
    .venv/bin/pip install -q --upgrade pip==25.3
fi
# Every pin of requirements/ (the runtime's, then each extra's), wheels only and without
# resolving again: highdicom asks for pyjpegls, which has no wheel for Python 3.14 (see
# requirements/run.txt); segmesh itself is pure Python and needs nothing more.
lists=(-r requirements/run.txt)
IFS=, read -r -a extras <<<"${1:-}"
for extra in "${extras[@]}"; do
    lists+=(-r "requirements/$extra.txt")
done
.venv/bin/pip install -q --only-binary :all: --no-deps "${lists[@]}"
.venv/bin/pip install -q --only-binary :all: --no-deps -e .
