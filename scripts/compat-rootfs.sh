#!/usr/bin/env bash
# Builds (once) a root file system of the *other* Debian release with Orthanc and orthanc-python,
# for the compatibility suite: Debian 13 when the host is Debian 12, Debian 12 when it is 13.
# Prints the root's path. A stamp naming the release and the package list marks it as complete,
# so a second run only checks the stamp.
# Environment: SEGMESH_COMPAT_CACHE (default /var/cache/segmesh/compat), COMPAT_RELEASE (override).
set -euo pipefail

host_release=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
case "$host_release" in
    bookworm) other=trixie ;;
    trixie) other=bookworm ;;
    *) other="" ;;
esac
release=${COMPAT_RELEASE:-$other}
if [[ -z "$release" ]]; then
    echo "compat: no other release known for '$host_release' (set COMPAT_RELEASE)" >&2
    exit 1
fi

packages=(orthanc orthanc-python python3-venv dicom3tools make ca-certificates procps)
cache=${SEGMESH_COMPAT_CACHE:-/var/cache/segmesh/compat}
root="$cache/$release"
stamp="$root/.segmesh-compat-stamp"
expected="$release ${packages[*]}"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$expected" ]]; then
    echo "$root"
    exit 0
fi

command -v debootstrap >/dev/null || {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap
}

echo "compat: building a Debian $release root file system in $root" >&2
mirror=http://deb.debian.org/debian
rm -rf "$root.partial"
mkdir -p "$cache"
debootstrap --variant=minbase --include=ca-certificates "$release" "$root.partial" "$mirror" >&2

# What the chroot needs to reach the package archives and PyPI as the host does: name resolution,
# the host's CA bundle (a proxy may re-sign TLS), the host's apt and pip settings.
cp /etc/resolv.conf /etc/hosts "$root.partial/etc/"
cp /etc/ssl/certs/ca-certificates.crt "$root.partial/etc/ssl/certs/ca-certificates.crt"
cp -a /etc/apt/apt.conf.d/. "$root.partial/etc/apt/apt.conf.d/"
cat > "$root.partial/etc/apt/sources.list" <<EOF
deb $mirror $release main
deb $mirror $release-updates main
deb http://deb.debian.org/debian-security $release-security main
EOF
# The packages' services must not start inside the chroot.
printf '#!/bin/sh\nexit 101\n' > "$root.partial/usr/sbin/policy-rc.d"
chmod +x "$root.partial/usr/sbin/policy-rc.d"

scripts_dir="$(cd "$(dirname "$0")" && pwd)"
"$scripts_dir/compat-chroot.sh" "$root.partial" bash -c "
    set -e
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${packages[*]}
    apt-get clean
" >&2

echo "$expected" > "$root.partial/.segmesh-compat-stamp"
rm -rf "$root"
mv "$root.partial" "$root"
echo "$root"
