#!/usr/bin/env bash
# Prints the Debian releases the compatibility suite covers on this host: those of 12
# (bookworm), 13 (trixie) and testing (forky) that the host is not.
set -euo pipefail
host=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
others=()
for release in bookworm trixie forky; do
    [[ "$release" == "$host" ]] || others+=("$release")
done
echo "${others[*]}"
