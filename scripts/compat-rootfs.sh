#!/usr/bin/env bash
# Builds (once) a root file system of one Debian release with Orthanc and orthanc-python, for the
# compatibility suite, and prints its path. A stamp naming the release and the package list marks
# it as complete, so a second run only checks the stamp.
# Usage: compat-rootfs.sh RELEASE   (bookworm, trixie or forky)
# Environment: SEGMESH_COMPAT_CACHE (default /var/cache/segmesh/compat).
set -euo pipefail
release=${1:?usage: compat-rootfs.sh RELEASE}

# orthanc-dev and a C compiler build the tests' audit-log recorder (tests/plugins); PostgreSQL
# and its Orthanc index plugin run the cluster tests.
packages=(orthanc orthanc-python python3-venv dicom3tools make ca-certificates procps
    orthanc-dev gcc libc6-dev postgresql orthanc-postgresql)
cache=${SEGMESH_COMPAT_CACHE:-/var/cache/segmesh/compat}
root="$cache/$release"
stamp="$root/.segmesh-compat-stamp"
expected="$release ${packages[*]}"

scripts_dir="$(cd "$(dirname "$0")" && pwd)"
install_packages() {
    "$scripts_dir/compat-chroot.sh" "$1" bash -c "
        set -e
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${packages[*]}
        apt-get clean
    " >&2
}

if [[ -f "$stamp" && "$(cat "$stamp")" == "$expected" ]]; then
    echo "$root"
    exit 0
fi
# A complete root of the same release with another package list: add what is missing.
if [[ -f "$stamp" && "$(cut -d' ' -f1 "$stamp")" == "$release" ]]; then
    install_packages "$root"
    echo "$expected" > "$stamp"
    echo "$root"
    exit 0
fi

command -v debootstrap >/dev/null || {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap
}

mirror=http://deb.debian.org/debian
sources="deb $mirror $release main
deb $mirror $release-updates main
deb http://deb.debian.org/debian-security $release-security main"
# An older debootstrap has no script for a newer release: testing and unstable share sid's.
script=()
if [[ ! -e "/usr/share/debootstrap/scripts/$release" ]]; then
    script=(/usr/share/debootstrap/scripts/sid)
fi
# Testing has no -updates suite; its security suite is there but mostly empty.
if [[ "$release" == forky ]]; then
    sources="deb $mirror $release main
deb http://deb.debian.org/debian-security $release-security main"
fi

echo "compat: building a Debian $release root file system in $root" >&2
rm -rf "$root.partial"
mkdir -p "$cache"
debootstrap --variant=minbase --include=ca-certificates "$release" "$root.partial" "$mirror" \
    "${script[@]}" >&2

# What the chroot needs to reach the package archives and PyPI as the host does: name resolution,
# the host's CA bundle (a proxy may re-sign TLS), the host's apt and pip settings (testing's
# archive may be past its Valid-Until date, which the host's apt settings may allow).
cp /etc/resolv.conf /etc/hosts "$root.partial/etc/"
cp /etc/ssl/certs/ca-certificates.crt "$root.partial/etc/ssl/certs/ca-certificates.crt"
cp -a /etc/apt/apt.conf.d/. "$root.partial/etc/apt/apt.conf.d/"
rm -f "$root.partial/etc/apt/sources.list.d/debian.sources"
echo "$sources" > "$root.partial/etc/apt/sources.list"
# The packages' services must not start inside the chroot.
printf '#!/bin/sh\nexit 101\n' > "$root.partial/usr/sbin/policy-rc.d"
chmod +x "$root.partial/usr/sbin/policy-rc.d"

install_packages "$root.partial"

echo "$expected" > "$root.partial/.segmesh-compat-stamp"
rm -rf "$root"
mv "$root.partial" "$root"
echo "$root"
