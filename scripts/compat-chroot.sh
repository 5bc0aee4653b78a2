#!/usr/bin/env bash
# Runs a command inside a compatibility root file system, with /proc, /sys and /dev mounted and
# the host's pip settings and CA bundle copied in (for pip to reach the package index as the
# host does); unmounts on exit.
# Usage: compat-chroot.sh [--bind-ro HOST_DIR:CHROOT_DIR]... ROOT COMMAND...
set -euo pipefail
binds=()
while [[ "${1:-}" == --bind-ro ]]; do
    binds+=("$2")
    shift 2
done
root=$1
shift

for file in /etc/pip.conf /root/.config/pip/pip.conf /etc/ssl/certs/ca-certificates.crt; do
    if [[ -f "$file" ]]; then
        mkdir -p "$root$(dirname "$file")"
        cp "$file" "$root$file"
    fi
done
[[ -d /etc/xdg/pip ]] && mkdir -p "$root/etc/xdg" && cp -a /etc/xdg/pip "$root/etc/xdg/"

# A run that was killed leaves its mounts behind; clear them first (made slaves before, so that
# unmounting /dev's sub-mounts never reaches the host's).
clear_stale_mounts() {
    local target
    [[ -d "$root/dev" ]] && mountpoint -q "$root/dev" && mount --make-rslave "$root/dev"
    awk -v root="$root/" 'index($2, root) == 1 { print $2 }' /proc/mounts | sort -r -u |
        while read -r target; do
            umount -l "$target" 2>/dev/null || true
        done
}
clear_stale_mounts

mounted=()
cleanup() {
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
        umount -R -l "${mounted[$i]}" 2>/dev/null || true
    done
}
trap cleanup EXIT
mount_into() {
    mkdir -p "$root$2"
    mount "${@:3}" "$1" "$root$2"
    mounted+=("$root$2")
}
mount_into proc /proc -t proc
mount_into sysfs /sys -t sysfs
# The host's /dev with its sub-mounts (/dev/shm for multiprocessing, /dev/pts), propagating
# nothing back to the host.
mount_into /dev /dev --rbind
mount --make-rslave "$root/dev"
for bind in "${binds[@]}"; do
    mount_into "${bind%%:*}" "${bind#*:}" --bind
    mount -o remount,bind,ro "$root${bind#*:}"
done

chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 CI="${CI:-}" \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt PIP_DEFAULT_TIMEOUT=180 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$@"
