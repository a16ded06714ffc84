#!/bin/sh
# Make the image's base without pulling anything: a minimal Debian root filesystem with
# Python 3 and venv, made by debootstrap from Debian's packages, imported into the engine.
#
#   deploy/make-base.sh [TAG] [CACHE]
#
# TAG defaults to occo/base:bookworm. The root filesystem's tarball is kept in CACHE
# (default env/cache/deploy) and reused while its package list is the same, so a second
# run costs one import. Needs root (debootstrap), the debootstrap and docker commands, and
# the machine's Debian mirror (DEBIAN_MIRROR, default http://deb.debian.org/debian).
set -eu
cd "$(dirname "$0")/.."
tag="${1:-occo/base:bookworm}"
cache="${2:-env/cache/deploy}"
suite="${DEBIAN_SUITE:-bookworm}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
include="python3,python3-venv,ca-certificates"
tarball="$cache/debian-$suite-$(printf '%s' "$include" | tr ',' '-').tar"
if [ ! -s "$tarball" ]; then
    mkdir -p "$cache"
    work="$(mktemp -d "$cache/rootfs.XXXXXX")"
    trap 'rm -rf "$work"' EXIT
    echo "make-base: debootstrap $suite ($include) from $mirror" >&2
    debootstrap --variant=minbase --include="$include" "$suite" "$work/root" "$mirror" \
        > "$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
    rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"*
    tar -C "$work/root" --numeric-owner -cf "$tarball.part" .
    mv "$tarball.part" "$tarball"
fi
docker import --change 'CMD ["/bin/bash"]' "$tarball" "$tag" > /dev/null
echo "$tag"
