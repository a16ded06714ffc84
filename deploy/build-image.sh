#!/bin/sh
# Build OCCO's container image from the occo-api wheelhouse, offline.
#
#   deploy/build-image.sh [TAG] [WHEELHOUSE] [BASE]
#
# TAG defaults to occo:<occo-api's version>; WHEELHOUSE to occo-api/wheelhouse (build it
# with occo-api/package.sh); BASE to occo/base:bookworm (deploy/make-base.sh). The build
# context is a temporary directory holding only the wheelhouse and deploy/image, and the
# build runs without a network: pip's only source is the wheelhouse.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
version="$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$root/occo-api/occo/api/version.py")"
tag="${1:-occo:$version}"
wheelhouse="${2:-$root/occo-api/wheelhouse}"
base="${3:-occo/base:bookworm}"
if ! ls "$wheelhouse"/occo_api-*.whl > /dev/null 2>&1; then
    echo "build-image: no occo-api wheel in $wheelhouse: run occo-api/package.sh" >&2
    exit 2
fi
context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
cp -r "$wheelhouse" "$context/wheelhouse"
cp -r "$here/image" "$context/image"
cp "$here/Containerfile" "$context/Containerfile"
docker build --quiet --network none --build-arg "BASE=$base" --tag "$tag" \
    --file "$context/Containerfile" "$context" > /dev/null
echo "$tag"
