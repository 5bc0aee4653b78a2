#!/usr/bin/env bash
# The compatibility suite: every test but the browser ones, inside a root file system of each
# Debian release other than the host's, out of 12 (bookworm), 13 (trixie) and testing (forky)
# (scripts/compat-rootfs.sh), against that release's Orthanc and orthanc-python, with a venv of
# the Python it embeds. The root file systems, and the venvs in them, are kept between runs.
# The releases run one after the other; each failing fails the whole, after all have run.
# Extra arguments go to pytest. COMPAT_RELEASES="forky" (say) picks releases by hand.
# The fuzz test runs 100 cases here (SEGMESH_FUZZ_CASES), against 300 on the host: what differs
# between the releases is the adapter's answers, which 100 cases already drive through every
# route. For the same reason the load test runs 20 s here (SEGMESH_LOAD_SECONDS), against 40.
set -euo pipefail
project="$(cd "$(dirname "$0")/.." && pwd)"
releases=${COMPAT_RELEASES:-$("$project/scripts/compat-releases.sh")}

run_release() {
    local release=$1 root target
    shift
    root=$("$project/scripts/compat-rootfs.sh" "$release")
    # The working tree (not its venv or caches) replaces the previous copy; the venv stays.
    target="$root/srv/segmesh"
    mkdir -p "$target"
    find "$target" -mindepth 1 -maxdepth 1 ! -name .venv -exec rm -rf {} +
    # CI runs make test beside this: its caches and __pycache__ folders change while the tree
    # is read, which tar reports with status 1 ("file changed as we read it"); the sources do
    # not.
    set +e +o pipefail
    tar -C "$project" -cf - --warning=no-file-changed \
        --exclude=./.venv --exclude=./.git --exclude=./.pytest_cache --exclude=./.mypy_cache \
        --exclude=./.ruff_cache --exclude=./.orthanc-storage --exclude=./test-artifacts \
        --exclude=__pycache__ . \
        | tar -C "$target" -xf -
    local copied=("${PIPESTATUS[@]}")
    set -e -o pipefail
    if ((copied[0] > 1 || copied[1] != 0)); then
        echo "compat: copying the tree failed (tar ${copied[*]})" >&2
        return 1
    fi

    local binds=() shared="$project/../shared"
    if [[ -d "$shared" ]]; then
        binds+=(--bind-ro "$(cd "$shared" && pwd -P):/srv/shared")
    fi

    echo "compat: Debian $release in $root"
    "$project/scripts/compat-chroot.sh" "${binds[@]}" "$root" bash -c '
        set -euo pipefail
        cd /srv/segmesh
        # The venv of the chroot'"'"'s Python; its log is shown only where the install fails.
        make --no-print-directory test-venv >/tmp/compat-venv.log 2>&1 || { cat /tmp/compat-venv.log; exit 1; }
        fuzz_cases=$1
        load_seconds=$2
        shift 2
        SEGMESH_FUZZ_CASES=$fuzz_cases SEGMESH_LOAD_SECONDS=$load_seconds exec .venv/bin/python -m pytest -m "not browser" \
            -p no:cacheprovider "$@"
    ' compat "${SEGMESH_FUZZ_CASES:-100}" "${SEGMESH_LOAD_SECONDS:-20}" "$@"
}

failed=()
for release in $releases; do
    start=$SECONDS
    status=0
    run_release "$release" "$@" || status=$?
    echo "compat: Debian $release: $((SECONDS - start)) s, exit $status"
    ((status == 0)) || failed+=("$release")
done
if ((${#failed[@]})); then
    echo "compat: failed on ${failed[*]}" >&2
    exit 1
fi
